# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 3: a grey, 16-bit image whose layer sits at an offset and has no alpha, a selection that
# reaches past the layer's edge; and a layer group, which must be refused with a message.


def run(img, layer):
    r = run_plugin(img, layer, style_file=Gio.File.new_for_path(PARAMS["style"]))
    return r["ok"], r["error"]


out = {}
try:
    src_img = load(PARAMS["content"])
    w, h = PARAMS["width"], PARAMS["height"]
    img = Gimp.Image.new_with_precision(w + 20, h + 10, Gimp.ImageBaseType.GRAY, Gimp.Precision.U16_NON_LINEAR)
    layer = Gimp.Layer.new(img, "grey photo", w, h, Gimp.ImageType.GRAY_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    layer.get_buffer().set(Gegl.Rectangle.new(0, 0, w, h), "R'G'B'A u8",
                           px(src_img.get_layers()[0], "R'G'B'A u8", w, h))
    layer.get_buffer().flush()
    layer.set_offsets(15, 7)
    # a rectangle from inside the layer to past its right and bottom edges
    img.select_rectangle(Gimp.ChannelOps.REPLACE, 15 + w // 2, 7 + h // 3, w, h)
    before = px(layer, "Y u8", w, h)
    ok, err = run(img, layer)
    out["ok"], out["error"] = ok, err
    n = new_layer(img, layer, out)
    if n is not None:
        out["new_is_gray"] = n.is_gray()
        sel = px(img.get_selection(), "Y u8", w, h, 15, 7)
        out["mask_equals_selection"] = n.get_mask() is not None and px(n.get_mask(), "Y u8", w, h) == sel
        after = px(n, "Y u8", w, h)
        inside = [i for i, v in enumerate(sel) if v == 255]
        out["mean_abs_diff_inside"] = sum(abs(after[i] - before[i]) for i in inside) / max(1, len(inside))

    group = Gimp.GroupLayer.new(img, "group")
    img.insert_layer(group, None, 0)
    ok, err = run(img, group)
    out["group_ok"], out["group_error"] = ok, err
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
