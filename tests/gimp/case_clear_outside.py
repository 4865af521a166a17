# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# An outside style layer set (as after a two-style run), the dialog opened; the test clears it with
# the clear button beside its chooser on the Advanced tab and presses OK; this script records the
# result layer's name.

out = {}
try:
    outside = load(PARAMS["outside"], scale=False)
    img, src, w, h = shown_with_ellipse((0.2, 0.15, 0.6, 0.7))
    status = run_dialog(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]),
                        outside_style_layer=outside.get_layers()[0], quality="preview", steps=PARAMS["steps"],
                        preview=False)
    out.update(dialog_ended(status))
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
