# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter; Gimp, Gegl, Gio... are already imported).
# tests/test_gimp.py puts a line `PARAMS = {...}` above this text. Prints one line "RESULT {json}".
#
# Case 1: open an image, select an ellipse, run plug-in-neural-style non-interactively with a style
# file; record what the test checks: the new layer's place, its mask, its pixels inside the selection;
# then (GUI runs) wait for one Ctrl+Z typed into GIMP and record what is left.
import json
import os
import time


def px(drawable, fmt, w, h, x=0, y=0):
    buf = drawable.get_buffer()
    return bytes(buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE))


out = {}
try:
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(PARAMS["content"]))
    img.scale(PARAMS["width"], PARAMS["height"])
    if PARAMS["gui"]:
        Gimp.Display.new(img)
        Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.2), int(h * 0.15), int(w * 0.6), int(h * 0.7))
    sel = px(img.get_selection(), "Y u8", w, h)
    before = px(src, "R'G'B'A u8", w, h)

    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    out["registered"] = proc is not None
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [src])
    cfg.set_property("style-file", Gio.File.new_for_path(PARAMS["style"]))
    cfg.set_property("quality", "preview")
    cfg.set_property("steps", PARAMS["steps"])
    cfg.set_property("size", 0)
    cfg.set_property("preview", True)
    t0 = time.time()
    res = proc.run(cfg)
    out["seconds"] = round(time.time() - t0, 1)
    out["status"] = str(res.index(0))
    out["ok"] = res.index(0) == Gimp.PDBStatusType.SUCCESS
    out["error"] = Gimp.get_pdb().get_last_error()

    layers = img.get_layers()
    out["layers"] = [l.get_name() for l in layers]
    out["source_index"] = img.get_item_position(src)
    new = [l for l in layers if l != src]
    if len(new) == 1:
        n = new[0]
        out["new_index"] = img.get_item_position(n)
        out["new_size"] = [n.get_width(), n.get_height()]
        out["new_offsets"] = list(n.get_offsets()[1:])
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
        # test_gimp.py's shell script types Ctrl+Z into GIMP once this file exists
        open(PARAMS["ready"], "w").write("ready")
        deadline = time.time() + 60
        while time.time() < deadline and len(img.get_layers()) > 1:
            time.sleep(0.1)
        time.sleep(1.0)   # a second, unwanted undo would show up now
        out["after_undo_layers"] = [l.get_name() for l in img.get_layers()]
        out["after_undo_selection_kept"] = (not Gimp.Selection.is_empty(img)
                                            and px(img.get_selection(), "Y u8", w, h) == sel)
        open(PARAMS["done"], "w").write("done")
except Exception as e:  # report, so the test shows what went wrong inside GIMP
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
