# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 5: what an artist does after a first run. A small ellipse in a bigger layer: only its box plus
# a margin is computed, at full detail (Size is the long edge of that box), and the result covers
# exactly that box. Then the filter runs again with what GIMP leaves active after a run (the
# result's mask, as Filters > Repeat passes it), and once more with the newest result layer itself:
# both resolve to the photo, and each new result lands on top of the earlier ones.

out = {}
try:
    img = load(PARAMS["content"], scale=False)
    img.scale(PARAMS["big_width"], PARAMS["big_height"])
    src = img.get_layers()[0]
    x, y, w, h = PARAMS["ellipse"]
    img.select_ellipse(Gimp.ChannelOps.REPLACE, x, y, w, h)
    style = Gio.File.new_for_path(PARAMS["style"])
    runs = []
    first = run_plugin(img, src, style_file=style, size=PARAMS["size"], preview=True)
    runs.append(first)
    layers = img.get_layers()
    out["after_first"] = [l.get_name() for l in layers]
    r1 = [l for l in layers if l != src][0] if len(layers) == 2 else None
    if r1 is not None:
        out["first_size"] = [r1.get_width(), r1.get_height()]
        out["first_offsets"] = list(r1.get_offsets()[1:])
        out["first_has_mask"] = r1.get_mask() is not None
        # what GIMP leaves active after a run: the result's mask
        runs.append(run_plugin(img, r1.get_mask() or r1, style_file=style, size=PARAMS["size"]))
        layers = img.get_layers()
        r2 = layers[0]
        out["after_second"] = [l.get_name() for l in layers]
        out["second_on_top"] = r2 not in (src, r1)
        runs.append(run_plugin(img, r2, style_file=style, size=PARAMS["size"]))
        layers = img.get_layers()
        out["after_third"] = [l.get_name() for l in layers]
        out["third_on_top"] = layers[0] not in (src, r1, r2)
        out["source_at_bottom"] = img.get_item_position(src) == len(layers) - 1
        out["sizes"] = [[l.get_width(), l.get_height()] for l in layers]
    out["runs"] = [{"ok": r["ok"], "error": r["error"]} for r in runs]
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
