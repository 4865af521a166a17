# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 6: results remember their settings. A run with a selection leaves a result layer whose
# parasite holds its settings; the image is saved as .xcf and opened again (the parasite is kept);
# plug-in-neural-style-continue on that result adds a new layer from the result's own pixels, and
# once more with mode "replace" puts the continued image in the result's place.

SETTINGS = "neural-style-settings"


def settings_of(layer):
    p = layer.get_parasite(SETTINGS)
    return None if p is None else json.loads(bytes(p.get_data()).decode("utf-8"))


def continue_plugin(img, drawable, **props):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style-continue")
    if proc is None:
        return {"ok": False, "error": "plug-in-neural-style-continue is not registered"}
    res = proc.run(plugin_config(proc, Gimp.RunMode.NONINTERACTIVE, img, drawable, props))
    return {"ok": res.index(0) == Gimp.PDBStatusType.SUCCESS, "error": Gimp.get_pdb().get_last_error()}


def mean_diff(a, b, idx):
    return sum(abs(a[4 * i + c] - b[4 * i + c]) for i in idx for c in range(3)) / (3.0 * max(1, len(idx)))


out = {}
try:
    img = load(PARAMS["content"])
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.15), int(h * 0.1), int(w * 0.7), int(h * 0.8))
    photo = px(src, "R'G'B'A u8", w, h)
    out["first"] = run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), color="histogram",
                              style_weight=3.0)
    first = img.get_layers()[0]
    out["first_name"] = first.get_name()
    out["settings"] = settings_of(first)

    # saved in the .xcf and back
    xcf = PARAMS["xcf"]
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path(xcf), None)
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(xcf))
    first = img.get_layers()[0]
    out["settings_after_xcf"] = settings_of(first)
    before = px(first, "R'G'B'A u8", w, h)
    sel = px(first.get_mask(), "Y u8", w, h) if first.get_mask() is not None else b"\xff" * (w * h)
    inside = [i for i, v in enumerate(sel) if v == 255]

    # continue as a new layer, from the result's mask (what GIMP leaves active)
    out["continued"] = continue_plugin(img, first.get_mask() or first, mode="new-layer", steps=PARAMS["steps"])
    layers = img.get_layers()
    out["after_continue"] = [l.get_name() for l in layers]
    second = layers[0]
    if second != first:
        after = px(second, "R'G'B'A u8", w, h)
        out["second_size"] = [second.get_width(), second.get_height()]
        out["second_has_mask"] = second.get_mask() is not None
        out["diff_to_result"] = mean_diff(after, before, inside)
        out["diff_to_photo"] = mean_diff(after, photo, inside)
        out["result_vs_photo"] = mean_diff(before, photo, inside)
        out["second_settings"] = settings_of(second)

        # continue once more, replacing that layer
        n = len(layers)
        position = img.get_item_position(second)
        out["replaced"] = continue_plugin(img, second, mode="replace")
        layers = img.get_layers()
        third = layers[position]
        out["after_replace"] = [l.get_name() for l in layers]
        out["replace_kept_count"] = len(layers) == n
        out["second_gone"] = not second.is_valid()
        out["third_has_mask"] = third.get_mask() is not None
        out["third_settings"] = settings_of(third)
        out["third_diff_to_second"] = mean_diff(px(third, "R'G'B'A u8", w, h), after, inside)

    # a layer that is not a result cannot be continued
    out["not_a_result"] = continue_plugin(img, img.get_layers()[-1])
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
