# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Two regions, two gallery paintings: an ellipse selected gets one painting (style-file), the rest of
# the layer another (outside-style-file), both files of the built-in gallery (JPEGs).

out = {}
try:
    w, h = PARAMS["width"], PARAMS["height"]
    img = load(PARAMS["content"])
    src = img.get_layers()[0]
    img.select_ellipse(Gimp.ChannelOps.REPLACE, w // 4, h // 4, w // 2, h // 2)
    inside = px(img.get_selection(), "Y u8", w, h)
    before = px(src, "R'G'B'A u8", w, h)
    out.update(run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]),
                          outside_style_file=Gio.File.new_for_path(PARAMS["outside"])))
    n = new_layer(img, src, out)
    if n is not None:
        after = px(n, "R'G'B'A u8", w, h)
        out["diff_inside"] = mean_diff(before, after, (i for i, v in enumerate(inside) if v == 255))
        out["diff_outside"] = mean_diff(before, after, (i for i, v in enumerate(inside) if v == 0))
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
