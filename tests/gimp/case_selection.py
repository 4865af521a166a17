# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter; Gimp, Gegl, Gio... are already imported).
# tests/test_gimp.py puts `PARAMS = {...}` and tests/gimp/common.py above this text.
# Prints one line "RESULT {json}".
#
# Case 1: open an image, select an ellipse, run plug-in-neural-style non-interactively with a style
# file; record what the test checks: the new layer's place, its mask, its pixels inside the selection;
# then (GUI runs) wait for the one Ctrl+Z typed into GIMP to take effect and record what is left.

out = {}
try:
    img = load(PARAMS["content"])
    if PARAMS["gui"]:
        Gimp.Display.new(img)
        Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.2), int(h * 0.15), int(w * 0.6), int(h * 0.7))
    sel = px(img.get_selection(), "Y u8", w, h)
    before = px(src, "R'G'B'A u8", w, h)

    out.update(run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), size=0, preview=True))

    n = new_layer(img, src, out)
    if n is not None:
        out["source_offsets"] = list(src.get_offsets()[1:])
        mask = n.get_mask()
        out["has_mask"] = mask is not None
        if mask is not None:
            out["mask_equals_selection"] = px(mask, "Y u8", w, h) == sel
            out["mask_soft_pixels"] = sum(1 for v in px(mask, "Y u8", w, h) if 0 < v < 255)
        after = px(n, "R'G'B'A u8", w, h)
        inside = [i for i, v in enumerate(sel) if v == 255]
        diff = sum(abs(after[4 * i + c] - before[4 * i + c]) for i in inside for c in range(3))
        out["mean_abs_diff_inside"] = diff / (3.0 * max(1, len(inside)))
        out["inside_pixels"] = len(inside)
    out["source_unchanged"] = px(src, "R'G'B'A u8", w, h) == before

    if PARAMS["gui"]:
        # test_gimp.py's shell script types ONE Ctrl+Z into the image's window once this file exists;
        # wait until GIMP has undone something that removed the layer (the deadline is a guard only)
        open(PARAMS["ready"], "w").write("ready")
        deadline = time.time() + 180
        while time.time() < deadline and len(img.get_layers()) > 1:
            time.sleep(0.05)
        out["after_undo_layers"] = [l.get_name() for l in img.get_layers()]
        out["after_undo_selection_kept"] = (not Gimp.Selection.is_empty(img)
                                            and px(img.get_selection(), "Y u8", w, h) == sel)
except Exception as e:  # report, so the test shows what went wrong inside GIMP
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
