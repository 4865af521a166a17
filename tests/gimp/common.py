# Shared by the batch scripts: tests/test_gimp.py puts `PARAMS = {...}` and then this text above each
# case. Runs INSIDE GIMP 3 (python-fu-eval: Gimp, Gegl, Gio... are already imported).
import json
import time


def px(drawable, fmt, w, h, x=0, y=0):
    """A drawable's pixels as bytes, in a babl format such as "R'G'B'A u8" or "Y u8"."""
    buf = drawable.get_buffer()
    return bytes(buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def load(path, scale=True):
    """Open an image file, scaled to the test's size."""
    im = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
    if scale:
        im.scale(PARAMS["width"], PARAMS["height"])
    return im


def shown_with_ellipse(box, scale=True):
    """The test's photo in an image window (as an artist has it), with an ellipse selected over
    ``box`` = (x, y, width, height) as fractions of the layer. Returns (image, layer, width, height)."""
    img = load(PARAMS["content"], scale=scale)
    Gimp.Display.new(img)
    Gimp.displays_flush()
    src = img.get_layers()[0]
    w, h = src.get_width(), src.get_height()
    x, y, bw, bh = box
    img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * x), int(h * y), int(w * bw), int(h * bh))
    return img, src, w, h


def plugin_config(proc, run_mode, img, drawable, props):
    """plug-in-neural-style's config for one run on ``drawable`` with ``props`` set (names with '_'
    for '-')."""
    cfg = proc.create_config()
    cfg.set_property("run-mode", run_mode)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [drawable])
    for k, v in props.items():
        cfg.set_property(k.replace("_", "-"), v)
    return cfg


def run_dialog(img, drawable, **props):
    """Open the filter's dialog (INTERACTIVE, as from GIMP's menus) with ``props`` already set (names
    with '_' for '-'); the GUI harness answers it. Returns the PDB status."""
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    return proc.run(plugin_config(proc, Gimp.RunMode.INTERACTIVE, img, drawable, props)).index(0)


def dialog_ended(status):
    """How a dialog run ended, for the test: its status, whether OK ran it or it was cancelled, and
    the PDB's last error."""
    return {"status": str(status), "ok": status == Gimp.PDBStatusType.SUCCESS,
            "cancelled": status == Gimp.PDBStatusType.CANCEL, "error": Gimp.get_pdb().get_last_error()}


def mean_diff(before, after, pixels):
    """The mean absolute RGB difference of two R'G'B'A u8 buffers over the pixel indices given."""
    pixels = list(pixels)
    return sum(abs(after[4 * i + c] - before[4 * i + c]) for i in pixels for c in range(3)) / (3.0 * len(pixels))


def run_plugin(img, drawable, **props):
    """Run plug-in-neural-style non-interactively, as a script would. Keyword names use '_' for '-'.
    Defaults: quality preview, the test's step count, no live preview. Returns what the tests check."""
    proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
    if proc is None:
        return {"registered": False, "ok": False, "status": "not registered", "error": "not registered"}
    cfg = plugin_config(proc, Gimp.RunMode.NONINTERACTIVE, img, drawable,
                        {"quality": "preview", "steps": PARAMS["steps"], "preview": False, **props})
    t0 = time.time()
    res = proc.run(cfg)
    return {"registered": True, "seconds": round(time.time() - t0, 1), "status": str(res.index(0)),
            "ok": res.index(0) == Gimp.PDBStatusType.SUCCESS, "error": Gimp.get_pdb().get_last_error()}



def new_layer(img, src, out):
    """Record the image's layers and where the source is; return the one layer the plug-in added
    (None unless exactly one), with its position, size and offsets recorded too."""
    layers = img.get_layers()
    out["layers"] = [l.get_name() for l in layers]
    out["source_index"] = img.get_item_position(src)
    new = [l for l in layers if l != src]
    if len(new) != 1:
        return None
    n = new[0]
    out["new_index"] = img.get_item_position(n)
    out["new_size"] = [n.get_width(), n.get_height()]
    out["new_offsets"] = list(n.get_offsets()[1:])
    return n
