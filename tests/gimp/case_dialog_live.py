# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# The dialog's live preview: a photo with an ellipse selected, the filter run INTERACTIVE with a style
# file already picked (as after an earlier run), quality "preview" and few steps. The test drives the
# dialog through tests/gimp/run_gui.sh (pictures, a changed Colour, then OK or Escape); this script
# records what the run did to the image: its layers and the source's pixels before and after.
import hashlib

out = {}
try:
    img, src, w, h = shown_with_ellipse((0.2, 0.15, 0.6, 0.7))
    before = hashlib.sha256(px(src, "R'G'B'A u8", w, h)).hexdigest()
    status = run_dialog(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), quality="preview",
                        steps=PARAMS["steps"], preview=True)
    out.update(dialog_ended(status))
    out["source_unchanged"] = hashlib.sha256(px(src, "R'G'B'A u8", w, h)).hexdigest() == before
    new = new_layer(img, src, out)
    if new is not None:
        a = px(src, "R'G'B'A u8", w, h)
        b = px(new, "R'G'B'A u8", new.get_width(), new.get_height()) if out["new_size"] == [w, h] else a
        out["mean_abs_diff"] = sum(abs(x - y) for x, y in zip(a, b)) / len(a)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
