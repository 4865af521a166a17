# Runs INSIDE GIMP 3's GUI (python-fu-eval batch interpreter). tests/test_gimp.py puts `PARAMS = {...}`
# and tests/gimp/common.py above this text. Prints one line "RESULT {json}".
#
# Case 7: the dialog opened on a result layer. A first run (a script: histogram colour, style
# strength 3) leaves a result; the filter is then opened INTERACTIVE on that result with other values
# in its config; the dialog starts from the result's settings and offers "Continue from this layer".
# tests/gimp/dialog_gui.sh photographs it and presses Escape: nothing changes in the image.

out = {}
try:
    img = load(PARAMS["content"], scale=False)
    Gimp.Display.new(img)
    Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.3), int(h * 0.2), int(w * 0.4), int(h * 0.6))
    out["first"] = run_plugin(img, src, style_file=Gio.File.new_for_path(PARAMS["style"]), color="histogram",
                              style_weight=3.0, size=64)
    result = img.get_layers()[0]
    out["layers_before"] = [l.get_name() for l in img.get_layers()]
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [result])
    cfg.set_property("color", "luminance")          # the result's own settings must win
    res = proc.run(cfg)
    out["status"] = str(res.index(0))
    out["cancelled"] = res.index(0) == Gimp.PDBStatusType.CANCEL
    out["layers"] = [l.get_name() for l in img.get_layers()]
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
