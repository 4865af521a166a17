# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 6: the dialog as an artist opens it: a photo with an ellipse selected, the filter run
# INTERACTIVE with a style file already picked (as after an earlier run). tests/gimp/dialog_gui.sh
# photographs the dialog and presses Escape; the run ends cancelled and the image is unchanged.

out = {}
try:
    img, src, w, h = shown_with_ellipse((0.3, 0.2, 0.4, 0.6), scale=False)
    status = run_dialog(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]))
    out["status"] = str(status)
    out["cancelled"] = status == Gimp.PDBStatusType.CANCEL
    out["layers"] = [l.get_name() for l in img.get_layers()]
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
