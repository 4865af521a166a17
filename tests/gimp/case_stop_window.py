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
    img = load(PARAMS["content"])
    Gimp.Display.new(img)
    Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.15), int(h * 0.1), int(w * 0.7), int(h * 0.8))
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [src])
    cfg.set_property("style-file", Gio.File.new_for_path(PARAMS["style"]))
    cfg.set_property("quality", "preview")
    cfg.set_property("steps", PARAMS["steps"])
    cfg.set_property("preview", True)
    res = proc.run(cfg)
    out["status"] = str(res.index(0))
    out["ok"] = res.index(0) == Gimp.PDBStatusType.SUCCESS
    out["error"] = Gimp.get_pdb().get_last_error()
    new_layer(img, src, out)
except Exception:
    import traceback
    out["exception"] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
