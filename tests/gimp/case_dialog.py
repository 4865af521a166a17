# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 6: the dialog as an artist opens it: a photo with an ellipse selected, the filter run
# INTERACTIVE with a style file already picked (as after an earlier run). tests/gimp/dialog_gui.sh
# photographs the dialog and presses Escape; the run ends cancelled and the image is unchanged.

out = {}
try:
    img = load(PARAMS["content"], scale=False)
    Gimp.Display.new(img)
    Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.3), int(h * 0.2), int(w * 0.4), int(h * 0.6))
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [src])
    cfg.set_property("style-file", Gio.File.new_for_path(PARAMS["style"]))
    res = proc.run(cfg)
    out["status"] = str(res.index(0))
    out["cancelled"] = res.index(0) == Gimp.PDBStatusType.CANCEL
    out["layers"] = [l.get_name() for l in img.get_layers()]
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
