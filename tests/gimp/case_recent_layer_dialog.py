# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# A style layer used lately, in the dialog's grid: the painting is open as an image of its own (its
# layer named "painting"), the profile's recent list names that layer (as a run with it leaves it), and
# the filter opens with no
# style; the test picks the grid's last thumbnail (the layer) with the keyboard and presses OK.

out = {}
try:
    painting = load(PARAMS["style"], scale=False)
    painting.get_layers()[0].set_name("painting")
    import os                   # the plug-in's recent list, as an earlier run with this layer left it
    with open(os.path.join(Gimp.directory(), "neural-style-recent.json"), "w") as f:
        json.dump([{"layer": "painting", "image_id": painting.get_id()}], f)
    img, src, w, h = shown_with_ellipse((0.2, 0.15, 0.6, 0.7))
    status = run_dialog(img, src, style_file=None, style_layer=None, quality="preview", steps=PARAMS["steps"],
                        preview=True)
    out.update(dialog_ended(status))
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
