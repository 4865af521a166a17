# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 4: the remaining arguments together: a saved channel as the region (region-channel) with the
# selection cleared, a style layer with a style mask channel (only part of the painting), a second
# style file for the outside, and a fine-scale style file for scale mixing.


out = {}
try:
    w, h = PARAMS["width"], PARAMS["height"]
    img = load(PARAMS["content"])
    src = img.get_layers()[0]
    img.select_ellipse(Gimp.ChannelOps.REPLACE, 0, 0, w // 2, h)
    region = Gimp.Selection.save(img)          # a saved selection: the left half, roughly
    region.set_name("left")
    Gimp.Selection.none(img)

    style_img = load(PARAMS["style"])
    style_img.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, w, h // 2)
    style_mask = Gimp.Selection.save(style_img)   # only the top half of the painting
    Gimp.Selection.none(style_img)

    before = px(src, "R'G'B'A u8", w, h)
    out.update(run_plugin(img, src, style_layer=style_img.get_layers()[0], style_mask_channel=style_mask,
                          region_channel=region, outside_style_file=Gio.File.new_for_path(PARAMS["outside"]),
                          scale_fine_file=Gio.File.new_for_path(PARAMS["fine"]), style_weight=3.0))
    n = new_layer(img, src, out)
    if n is not None:
        out["has_mask"] = n.get_mask() is not None
        after = px(n, "R'G'B'A u8", w, h)
        reg = px(region, "Y u8", w, h)
        out["diff_inside"] = mean_diff(before, after, (i for i, v in enumerate(reg) if v == 255))
        out["diff_outside"] = mean_diff(before, after, (i for i, v in enumerate(reg) if v == 0))
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
