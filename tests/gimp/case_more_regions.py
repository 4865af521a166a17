# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# More regions: no selection, a main style for the layer, and two saved selections ("left", "right"
# thirds of the layer) each with a gallery painting of its own, given as the "regions" argument.

out = {}
try:
    w, h = PARAMS["width"], PARAMS["height"]
    img = load(PARAMS["content"])
    src = img.get_layers()[0]
    for name, x in (("left", 0), ("right", w - w // 3)):
        img.select_rectangle(Gimp.ChannelOps.REPLACE, x, 0, w // 3, h)
        Gimp.Selection.save(img).set_name(name)
    Gimp.Selection.none(img)
    before = px(src, "R'G'B'A u8", w, h)
    regions = json.dumps([{"channel": "left", "style": "gallery:udnie"},
                          {"channel": "right", "style": "gallery:the-scream"}])
    out.update(run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), regions=regions))
    n = new_layer(img, src, out)
    if n is not None:
        after = px(n, "R'G'B'A u8", w, h)

        def columns(x0, x1):
            return (y * w + x for y in range(h) for x in range(x0, x1))
        out["diff"] = [mean_diff(before, after, columns(*c))
                       for c in ((0, w // 3 - 2), (w // 3 + 2, w - w // 3 - 2), (w - w // 3 + 2, w))]
        out["has_mask"] = n.get_mask() is not None
    out["bad"] = run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]),
                            regions=json.dumps([{"channel": "sky", "style": "gallery:udnie"}]))
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
