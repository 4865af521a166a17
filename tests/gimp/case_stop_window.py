# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# A run as an artist sees it: the photo shown in its window, an ellipse selected, the filter run
# INTERACTIVE with a style file already picked (as after an earlier run), many steps and the canvas
# preview on. The test drives GIMP's GUI through tests/gimp/run_gui.sh: OK in the dialog, then, while
# the job runs, it finds the Stop window and the image window, takes a picture of the screen, and
# presses Stop. This script records what the run left: the layers and the result's name.
out = {}
try:
    img, src, w, h = shown_with_ellipse((0.15, 0.1, 0.7, 0.8))
    status = run_dialog(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), quality="preview",
                        steps=PARAMS["steps"], preview=True)
    out.update(dialog_ended(status))
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
