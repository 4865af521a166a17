# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Reset in the dialog: opened with a style inside and another outside the selection, and a saved
# selection "sky" with a third (as after such a run); the test shows the Advanced tab, resets to the factory defaults, tries OK and presses Escape
# (tests/gimp/run_gui.sh); this script records how the run ended.

out = {}
try:
    img, src, w, h = shown_with_ellipse((0.2, 0.15, 0.6, 0.7))
    img.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, w, h // 4)
    Gimp.Selection.save(img).set_name("sky")
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.2), int(h * 0.15), int(w * 0.6), int(h * 0.7))
    status = run_dialog(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]),
                        outside_style_file=Gio.File.new_for_path(PARAMS["outside"]), quality="preview",
                        steps=PARAMS["steps"], preview=False,
                        regions=json.dumps([{"channel": "sky", "style": "gallery:great-wave"}]))
    out.update(dialog_ended(status))
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
