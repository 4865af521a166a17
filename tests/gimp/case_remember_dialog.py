# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 7: the dialog opened on a result layer. A first run (a script: histogram colour, style
# strength 3) leaves a result; the filter is then opened INTERACTIVE on that result with other values
# in its config; the dialog starts from the result's settings and offers "Continue from this layer".
# tests/gimp/dialog_gui.sh photographs it and presses Escape: nothing changes in the image.

out = {}
try:
    img, src, w, h = shown_with_ellipse((0.3, 0.2, 0.4, 0.6), scale=False)
    out["first"] = run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), color="histogram",
                              style_weight=3.0, size=64)
    result = img.get_layers()[0]
    out["layers_before"] = [l.get_name() for l in img.get_layers()]
    status = run_dialog(img, result, color="luminance")   # the result's own settings must win
    out["status"] = str(status)
    out["cancelled"] = status == Gimp.PDBStatusType.CANCEL
    out["layers"] = [l.get_name() for l in img.get_layers()]
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
