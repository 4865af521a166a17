# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# The gallery in the dialog: a photo with an ellipse selected, the filter opened INTERACTIVE with no
# style at all (as a new user has it). The test picks a painting of the gallery with the keyboard
# (tests/gimp/run_gui.sh), waits for the live preview, and presses OK; this script records the
# result layer's name.

out = {}
try:
    img, src, w, h = shown_with_ellipse((0.2, 0.15, 0.6, 0.7))
    status = run_dialog(img, src, style_file=None, style_layer=None, outside_style_file=None,
                        outside_style_layer=None, scale_fine_file=None, scale_fine_layer=None,
                        quality="preview", steps=PARAMS["steps"], preview=True)
    out.update(dialog_ended(status))
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
