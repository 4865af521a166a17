# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 2: the style is a layer of ANOTHER open image, luminance colour mode, no selection.
out = {}
try:
    img = load(PARAMS["content"])
    style_img = load(PARAMS["style"])
    style_img.get_layers()[0].set_name("Starry Night")
    Gimp.Selection.none(img)
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    before = px(src, "R'G'B'A u8", w, h)

    out.update(run_plugin(img, src, style_layer=style_img.get_layers()[0], color="luminance"))
    n = new_layer(img, src, out)
    if n is not None:
        out["has_mask"] = n.get_mask() is not None
        after = px(n, "R'G'B'A u8", w, h)

        def ycc(b, i):
            r, g, bl = b[4 * i], b[4 * i + 1], b[4 * i + 2]
            y = 0.299 * r + 0.587 * g + 0.114 * bl
            return y, bl - y, r - y   # luma and two colour differences

        n_px = w * h
        dy = dc = 0.0
        for i in range(n_px):
            y0, cb0, cr0 = ycc(before, i)
            y1, cb1, cr1 = ycc(after, i)
            dy += abs(y1 - y0)
            dc += (abs(cb1 - cb0) + abs(cr1 - cr0)) / 2
        out["mean_luma_diff"] = dy / n_px
        out["mean_chroma_diff"] = dc / n_px
    out["style_image_untouched"] = len(style_img.get_layers()) == 1
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
