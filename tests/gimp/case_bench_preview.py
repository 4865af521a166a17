# Runs INSIDE GIMP 3 (gimp-console, python-fu-eval). tests/test_gimp.py's batch_script puts
# `PARAMS = {...}` and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# What the canvas preview costs (bench/canvas_preview.py): the same small job run NONINTERACTIVE with
# the `preview` argument on and off, alternating (off, on, off, on, ...) after one warm-up run, so a
# drift in the machine's load touches both alike. Each run's result layer is removed again.
out = {"runs": []}
try:
    img = load(PARAMS["content"])
    src = img.get_layers()[0]
    style = Gio.File.new_for_path(PARAMS["style"])
    for i, preview in enumerate([False] + [bool(k % 2) for k in range(2 * PARAMS["repeats"])]):
        r = run_plugin(img, src, style_file=style, size=PARAMS["size"], preview=preview)
        r.update(preview=preview, warmup=(i == 0))
        out["runs"].append(r)
        for layer in img.get_layers():
            if layer != src:
                img.remove_layer(layer)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
