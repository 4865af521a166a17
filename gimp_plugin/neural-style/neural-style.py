#!/usr/bin/env python3
"""Neural Style Transfer for GIMP 3 (Filters > Artistic > Neural Style Transfer...).

Paints the selected layer in the style of another image (Gatys et al. 2016), with the controls of
"Controlling Perceptual Factors in Neural Style Transfer" (2017): spatial control (the selection or a
saved channel picks where the style goes, a channel of the style image picks which part of the style
to use, a second style for the area outside the selection), colour control (full, luminance-only,
colour histogram matching) and scale control (coarse structure of one style, fine texture of another).

The plug-in does no image maths. It reads pixels as "R'G'B'A u8" and masks as "Y u8", sends them to
the project's daemon (a separate Python process that keeps VGG-19 warm) through ``shared.client``,
shows progress and previews, and adds the answer as a new layer right above the source in one undo
step. If no daemon answers, it starts one with the Python named in ``neural-style.json`` beside this
file (written by install.py).

Standard library + GObject introspection only; nothing heavy at import time (GIMP runs this file at
every start to register the procedure).
"""
import json
import os
import sys
import threading
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402
from gi.repository import GLib  # noqa: E402
from gi.repository import GObject  # noqa: E402
from gi.repository import Gio  # noqa: E402

PROC = "plug-in-neural-style"
HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_NAME = "neural-style.json"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
RGBA = "R'G'B'A u8"
GRAY = "Y u8"
PREVIEW_NAME = "Neural style preview"

COLOR_CHOICES = (
    ("full", "Full colour", "The style's colours (Gatys et al. 2016)"),
    ("luminance", "Luminance only", "Only the style's luminance; the colours stay the layer's"),
    ("histogram", "Colour histogram", "The style recoloured to the layer's colour histogram first"),
)
QUALITY_CHOICES = (
    ("preview", "Preview (fast)", "Few steps at a small size: for trying things out"),
    ("standard", "Standard", "A good balance of time and quality"),
    ("high", "High", "More steps and a coarse-to-fine pyramid: slow"),
)


class UserError(Exception):
    """A problem the user can fix; its text is shown as a GIMP message."""


# ---- configuration and the shared client ------------------------------------------------------

def load_config():
    """The installer's config beside this file (python, endpoint, project), with env overrides."""
    cfg = {}
    path = os.path.join(HERE, CONFIG_NAME)
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
        except (OSError, ValueError):
            cfg = {}
    if os.environ.get("NEURAL_STYLE_ENDPOINT"):
        cfg["endpoint"] = os.environ["NEURAL_STYLE_ENDPOINT"]
    if os.environ.get("NEURAL_STYLE_PYTHON"):
        cfg["python"] = os.environ["NEURAL_STYLE_PYTHON"]
    return cfg


def import_client(cfg):
    """Import ``shared.client``: the installed copy beside this file, the project named in the
    config, or the repository this file sits in (gimp_plugin/neural-style/ -> ../..)."""
    candidates = [HERE]
    if cfg.get("project"):
        candidates.append(cfg["project"])
    candidates.append(os.path.dirname(os.path.dirname(HERE)))
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "shared", "client.py")):
            if folder not in sys.path:
                sys.path.insert(0, folder)
            break
    try:
        from shared import client
    except ImportError as e:
        raise UserError(
            "The neural style plug-in cannot find its 'shared' package (%s). "
            "Run 'python install.py' in the project folder again, then restart GIMP." % e)
    return client


def daemon_python(cfg):
    """The Python that runs the daemon: the config's, else the project's .venv, else python3."""
    if cfg.get("python"):
        return cfg["python"]
    root = cfg.get("project") or os.path.dirname(os.path.dirname(HERE))
    for rel in ((".venv", "bin", "python"), (".venv", "Scripts", "python.exe")):
        p = os.path.join(root, *rel)
        if os.path.isfile(p):
            return p
    return "python3"


# ---- reading and writing pixels ----------------------------------------------------------------

def _gegl():
    gi.require_version("Gegl", "0.4")
    from gi.repository import Gegl
    return Gegl


def read_rect(drawable, x, y, w, h, fmt):
    """Bytes of a rectangle of a drawable in its own coordinates (outside it reads as 0)."""
    Gegl = _gegl()
    buf = drawable.get_buffer()
    data = buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE)
    return bytes(data)


def write_layer(layer, w, h, data):
    Gegl = _gegl()
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, w, h), RGBA, data)
    buf.flush()
    layer.update(0, 0, w, h)


def layer_image(client, layer):
    """A layer's own pixels as ImageData."""
    w, h = layer.get_width(), layer.get_height()
    return client.ImageData(w, h, read_rect(layer, 0, 0, w, h, RGBA))


def file_image(client, gfile):
    """The visible pixels of an image file (any format GIMP opens) as ImageData, plus its name."""
    path = gfile.get_path() or gfile.get_uri()
    try:
        img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    except GLib.Error as e:
        raise UserError("GIMP cannot open the style file %s: %s" % (path, e.message))
    if img is None:
        raise UserError("GIMP cannot open the style file %s." % path)
    try:
        layer = img.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        w, h = layer.get_width(), layer.get_height()
        return client.ImageData(w, h, read_rect(layer, 0, 0, w, h, RGBA))
    finally:
        img.delete()


def channel_mask(client, channel, x, y, w, h):
    """A channel (selection, saved selection, layer-mask-like channel) over a rectangle as MaskData."""
    return client.MaskData(w, h, read_rect(channel, x, y, w, h, GRAY))


def file_stem(gfile):
    name = gfile.get_basename() or "style"
    return os.path.splitext(name)[0]


def item_ok(item):
    return item is not None and item.is_valid()


# ---- the request -------------------------------------------------------------------------------

def style_layer_name(layer):
    """The style's name for the result layer: the image file's name when the layer is its only one
    (a freshly opened painting's layer is just called "Background")."""
    img = layer.get_image()
    gfile = None
    if img is not None:
        gfile = img.get_file() or img.get_imported_file() or img.get_exported_file()
    if gfile is not None and len(img.get_layers()) == 1:
        return file_stem(gfile)
    return layer.get_name()


def pick_style(client, config, layer_arg, file_arg):
    """(ImageData, name, layer) for a style given as a layer of any open image or a file; None when
    neither is set. A layer wins over a file when both are set."""
    layer = config.get_property(layer_arg)
    gfile = config.get_property(file_arg)
    if item_ok(layer):
        if layer.is_group():
            raise UserError("The style layer '%s' is a layer group: pick a normal layer." % layer.get_name())
        return layer_image(client, layer), style_layer_name(layer), layer
    if gfile is not None and (gfile.get_path() or gfile.get_uri()):
        return file_image(client, gfile), file_stem(gfile), None
    return None


def build_request(client, image, source, config):
    """Everything the daemon needs: content, styles, regions and options, plus a few facts for the
    result layer. Raises UserError for choices that cannot work."""
    w, h = source.get_width(), source.get_height()
    ok, ox, oy = source.get_offsets()
    content = layer_image(client, source)

    main = pick_style(client, config, "style-layer", "style-file")
    if main is None:
        raise UserError("Choose a style: a style layer (from any open image) or a style file.")
    style, style_name, style_layer = main
    styles = [style]

    # which part of the style image to use
    style_mask = None
    chan = config.get_property("style-mask-channel")
    if item_ok(chan):
        if style_layer is not None and chan.get_image() == style_layer.get_image():
            _, sx, sy = style_layer.get_offsets()
            style_mask = channel_mask(client, chan, sx, sy, style.width, style.height)
        elif (chan.get_width(), chan.get_height()) == (style.width, style.height):
            style_mask = channel_mask(client, chan, 0, 0, style.width, style.height)
        else:
            raise UserError(
                "The style mask channel '%s' is %dx%d but the style image is %dx%d: use a channel of "
                "the style layer's image, or one of the same size as the style file."
                % (chan.get_name(), chan.get_width(), chan.get_height(), style.width, style.height))

    # where on the layer the style goes: a saved channel, else the selection, else everywhere
    region_mask = None
    region_from = None
    region_chan = config.get_property("region-channel")
    if item_ok(region_chan):
        if region_chan.get_image() != image:
            raise UserError("The region channel '%s' belongs to another image: pick a channel of this image."
                            % region_chan.get_name())
        region_mask = channel_mask(client, region_chan, ox, oy, w, h)
        region_from = "channel"
    elif not Gimp.Selection.is_empty(image):
        region_mask = channel_mask(client, image.get_selection(), ox, oy, w, h)
        region_from = "selection"
    if region_mask is not None and not any(region_mask.data):
        raise UserError("The %s does not cover any pixel of the layer '%s': select part of the layer, "
                        "or select nothing to style all of it." % (
                            "selection" if region_from == "selection" else "region channel",
                            source.get_name()))

    regions = []
    outside = pick_style(client, config, "outside-style-layer", "outside-style-file")
    if region_mask is not None:
        regions.append({"content_mask": region_mask, "style": 0, "style_mask": style_mask, "invert": False})
        if outside is not None:
            styles.append(outside[0])
            regions.append({"content_mask": region_mask, "style": len(styles) - 1,
                            "style_mask": None, "invert": True})
    elif style_mask is not None:
        everywhere = client.MaskData(w, h, b"\xff" * (w * h))
        regions.append({"content_mask": everywhere, "style": 0, "style_mask": style_mask, "invert": False})

    options = {
        "quality": config.get_property("quality"),
        "color": config.get_property("color"),
        "size": int(config.get_property("size")),
        "style_weight": float(config.get_property("style-weight")),
    }
    steps = int(config.get_property("steps"))
    if steps > 0:
        options["steps"] = steps
    fine = pick_style(client, config, "scale-fine-layer", "scale-fine-file")
    if fine is not None:
        styles.append(fine[0])
        options["scale_mix"] = [0, len(styles) - 1]
        style_name = "%s + %s" % (style_name, fine[1])

    return {
        "content": content,
        "styles": styles,
        "regions": regions,
        "options": options,
        "style_name": style_name,
        "region_from": region_from,
        "outside": outside is not None and region_mask is not None,
        "region_mask": region_mask,
    }


# ---- talking to the daemon ---------------------------------------------------------------------

def describe_error(code, message):
    """The daemon's error as a message that says what to do."""
    hints = {
        "no_daemon": "Run 'python install.py --check' in the project folder to see why it does not start.",
        "daemon_failed": "Run 'python install.py --check' in the project folder to see why it does not start.",
        "timeout": "The daemon stopped answering; its log is shown by 'python -m daemon status'.",
        "version_mismatch": "The plug-in and the daemon are from different versions: run "
                            "'python install.py' in the project folder again and restart GIMP.",
        "out_of_memory": "Lower 'Size' or choose a lower 'Quality', then try again.",
        "empty_region": "Select part of the layer (or select nothing to style all of it).",
        "weights_unavailable": "Run 'python install.py --check' in the project folder.",
        "queue_full": "Wait for the running jobs to finish, then try again.",
    }
    text = "Neural style transfer failed: %s" % (message or code)
    if not text.endswith("."):
        text += "."
    hint = hints.get(code)
    return text + (" " + hint if hint else "")


class Job:
    """Runs the daemon conversation in a worker thread (socket work only); the main thread reads
    ``events`` and calls libgimp. ``stop()`` asks the worker to send a cancel."""

    def __init__(self, client_mod, endpoint, request, preview):
        import queue
        self.client_mod = client_mod
        self.endpoint = endpoint
        self.request = request
        self.preview = preview
        self.events = queue.Queue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="neural-style-daemon", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        c = None
        try:
            c = self.client_mod.DaemonClient(endpoint=self.endpoint, timeout=30.0)
            r = self.request
            job = c.submit(content=r["content"], styles=r["styles"], regions=r["regions"],
                           options=r["options"], init=None, preview=self.preview)
            cancelled = False
            for ev in c.events(job, timeout=120.0):
                if self._stop.is_set() and not cancelled:
                    cancelled = True
                    c.cancel(job)
                self.events.put(ev)
                if ev.get("type") in ("result", "error"):
                    break
        except self.client_mod.DaemonError as e:
            self.events.put({"type": "error", "code": getattr(e, "code", "internal"), "message": str(e)})
        except Exception as e:  # noqa: BLE001 - reported to the user, never lost
            self.events.put({"type": "error", "code": "internal", "message": "%s: %s" % (type(e).__name__, e)})
        finally:
            self.events.put({"type": "_done"})
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001
                    pass


def format_eta(seconds):
    if seconds is None:
        return ""
    s = int(round(float(seconds)))
    if s >= 60:
        return ", about %d min %02d s left" % (s // 60, s % 60)
    return ", about %d s left" % s


def progress_text(ev):
    if ev.get("message"):
        return "Neural style: %s" % ev["message"]
    parts = ["mixing the styles"] if ev.get("stage") == "mix" else []
    if ev.get("levels", 1) and ev.get("levels", 1) > 1:
        parts.append("level %d/%d" % (ev.get("level", 0) + 1, ev["levels"]))
    if ev.get("total"):
        parts.append("step %d/%d" % (ev.get("step", 0), ev["total"]))
    return "Neural style: " + ", ".join(parts) + format_eta(ev.get("eta_s"))


def progress_fraction(ev):
    if ev.get("job_total"):
        return min(1.0, float(ev.get("done", 0)) / float(ev["job_total"]))
    levels = max(1, int(ev.get("levels") or 1))
    total = max(1, int(ev.get("total") or 1))
    return min(1.0, (int(ev.get("level") or 0) + float(ev.get("step") or 0) / total) / levels)


class PreviewLayer:
    """A temporary layer on the canvas showing the daemon's previews; undo is frozen while it exists
    so it never appears in the undo history."""

    def __init__(self, image, source, mask_to_selection):
        self.image = image
        self.source = source
        self.mask = mask_to_selection
        self.layer = None
        self.frozen = False

    def show(self, pic):
        img, src = self.image, self.source
        if not self.frozen:
            img.undo_freeze()
            self.frozen = True
        self.remove_layer()
        layer = Gimp.Layer.new(img, PREVIEW_NAME, pic.width, pic.height, new_layer_type(img), 100.0,
                               Gimp.LayerMode.NORMAL)
        img.insert_layer(layer, src.get_parent(), img.get_item_position(src))
        write_layer(layer, pic.width, pic.height, pic.data)
        if (pic.width, pic.height) != (src.get_width(), src.get_height()):
            layer.scale(src.get_width(), src.get_height(), False)
        _, ox, oy = src.get_offsets()
        layer.set_offsets(ox, oy)
        if self.mask and not Gimp.Selection.is_empty(img):
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
        self.layer = layer
        Gimp.displays_flush()

    def remove_layer(self):
        if self.layer is not None and self.layer.is_valid():
            self.image.remove_layer(self.layer)
        self.layer = None

    def close(self):
        self.remove_layer()
        if self.frozen:
            self.image.undo_thaw()
            self.frozen = False
        Gimp.displays_flush()


class StopWindow:
    """In interactive runs: a small window with a Stop button. Stopping sends a cancel to the
    daemon, which answers with the image as it is, and that becomes the result."""

    def __init__(self, on_stop):
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        self.Gtk = Gtk
        self.label = Gtk.Label(label="Starting...")
        self.window = Gtk.Window(title="Neural Style Transfer")
        self.window.set_default_size(380, -1)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8)
        box.set_border_width(12)
        box.pack_start(self.label, False, False, 0)
        button = Gtk.Button(label="Stop and keep the current image")
        button.connect("clicked", lambda *_: (on_stop(), button.set_sensitive(False),
                                              self.label.set_text("Stopping...")))
        box.pack_start(button, False, False, 0)
        self.window.add(box)
        self.window.connect("delete-event", lambda *_: (on_stop(), True)[1])
        self.window.show_all()

    def set_text(self, text):
        self.label.set_text(text)

    def pump(self):
        while self.Gtk.events_pending():
            self.Gtk.main_iteration_do(False)

    def close(self):
        self.window.destroy()
        self.pump()


def run_job(client_mod, cfg, request, image, source, config, interactive):
    """Start the daemon if needed, submit, follow progress; returns (ImageData, cancelled)."""
    endpoint = cfg.get("endpoint")
    if not endpoint:
        default = getattr(client_mod, "default_endpoint", None)
        endpoint = default() if callable(default) else DEFAULT_ENDPOINT
    Gimp.progress_init("Neural style: connecting to the daemon")
    try:
        client_mod.ensure_daemon(endpoint, daemon_python(cfg), timeout=float(cfg.get("start_timeout", 120.0)))
    except client_mod.DaemonError as e:
        raise UserError(describe_error(getattr(e, "code", "daemon_failed"),
                                       "the daemon at %s does not answer and could not be started (%s)"
                                       % (endpoint, e)))
    want_preview = bool(config.get_property("preview"))
    job = Job(client_mod, endpoint, request, want_preview)
    preview = PreviewLayer(image, source, config.get_property("mask-to-selection")) if want_preview else None
    window = StopWindow(job.stop) if interactive else None
    Gimp.progress_set_text("Neural style: sending the images")
    job.start()
    result = None
    error = None
    try:
        import queue
        while True:
            if window is not None:
                window.pump()
            try:
                ev = job.events.get(timeout=0.05)
            except queue.Empty:
                continue
            kind = ev.get("type")
            if kind == "_done":
                break
            if kind == "accepted":
                pos = ev.get("position") or ev.get("queue_position") or 0
                text = "Neural style: waiting for %d job(s) ahead" % pos if pos else "Neural style: started"
                Gimp.progress_set_text(text)
                if window is not None:
                    window.set_text(text)
            elif kind == "progress":
                text = progress_text(ev)
                Gimp.progress_set_text(text)
                if ev.get("total"):
                    Gimp.progress_update(progress_fraction(ev))
                if window is not None:
                    window.set_text(text)
            elif kind == "preview" and preview is not None and ev.get("image") is not None:
                preview.show(ev["image"])
            elif kind == "result":
                result = (ev["image"], bool(ev.get("cancelled")))
            elif kind == "error":
                error = describe_error(ev.get("code"), ev.get("message"))
    finally:
        if preview is not None:
            preview.close()
        if window is not None:
            window.close()
    if error is not None:
        raise UserError(error)
    if result is None:
        raise UserError("Neural style transfer failed: the daemon ended the job without a result.")
    Gimp.progress_update(1.0)
    return result


# ---- the result layer --------------------------------------------------------------------------

def new_layer_type(image):
    if image.get_base_type() == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


def result_name(request, config, cancelled):
    bits = [config.get_property("color"), config.get_property("quality")]
    size = int(config.get_property("size"))
    if size:
        bits.append("%d px" % size)
    sw = float(config.get_property("style-weight"))
    if sw != 1.0:
        bits.append("style weight %g" % sw)
    name = "Neural style: %s (%s)" % (request["style_name"], ", ".join(bits))
    return name + (" [stopped]" if cancelled else "")


def add_result_layer(image, source, pic, request, config, cancelled):
    """The new layer right above the source, at its offsets, masked to the region; one undo step."""
    w, h = source.get_width(), source.get_height()
    _, ox, oy = source.get_offsets()
    Gimp.context_push()
    image.undo_group_start()
    try:
        Gimp.context_set_interpolation(Gimp.InterpolationType.CUBIC)
        layer = Gimp.Layer.new(image, result_name(request, config, cancelled), pic.width, pic.height,
                               new_layer_type(image), 100.0, Gimp.LayerMode.NORMAL)
        image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
        write_layer(layer, pic.width, pic.height, pic.data)
        if (pic.width, pic.height) != (w, h):
            layer.scale(w, h, False)
        layer.set_offsets(ox, oy)
        if config.get_property("mask-to-selection") and not request["outside"]:
            if request["region_from"] == "selection":
                layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
            elif request["region_from"] == "channel":
                mask = layer.create_mask(Gimp.AddMaskType.WHITE)
                layer.add_mask(mask)
                Gegl = _gegl()
                buf = mask.get_buffer()
                buf.set(Gegl.Rectangle.new(0, 0, w, h), GRAY, request["region_mask"].data)
                buf.flush()
                mask.update(0, 0, w, h)
        image.set_selected_layers([layer])
    finally:
        image.undo_group_end()
        Gimp.context_pop()
    Gimp.displays_flush()
    return layer


# ---- the procedure -----------------------------------------------------------------------------

def fail(procedure, status, message):
    return procedure.new_return_values(status, GLib.Error(message))


DIALOG_GROUPS = (
    ("style", "Style", ["style-layer", "style-file", "style-mask-channel"]),
    ("where", "Where", ["region-channel", "outside-style-layer", "outside-style-file", "mask-to-selection"]),
    ("mix", "Scale mixing (fine texture from a second style)", ["scale-fine-layer", "scale-fine-file"]),
    ("settings", "Settings", ["color", "quality", "size", "style-weight", "steps", "preview"]),
)


def fill_dialog(dialog):
    """Two columns of titled frames: Style and Where on the left, Scale mixing and Settings on the
    right. Falls back to GIMP's plain list of every argument."""
    try:
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        for key, title, props in DIALOG_GROUPS:
            dialog.fill_box(key + "-box", props)
            dialog.get_label(key + "-title", title, False, False)
            dialog.fill_frame(key + "-frame", key + "-title", False, key + "-box")
        dialog.fill_box("left", ["style-frame", "where-frame"])
        dialog.fill_box("right", ["mix-frame", "settings-frame"])
        columns = dialog.fill_box("columns", ["left", "right"])
        columns.set_orientation(Gtk.Orientation.HORIZONTAL)
        columns.set_spacing(18)
        dialog.fill(["columns"])
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the plain dialog still works
        dialog.fill(None)


def run(procedure, run_mode, image, drawables, config, run_data):
    if len(drawables) != 1:
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR,
                    "Neural Style Transfer works on one layer: select exactly one layer.")
    source = drawables[0]
    if not isinstance(source, Gimp.Layer) or isinstance(source, Gimp.LayerMask):
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR,
                    "Neural Style Transfer works on a layer: select a layer, not a mask or channel.")
    if source.is_group():
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR,
                    "'%s' is a layer group, which has no pixels of its own: select a normal layer "
                    "(or merge the group first)." % source.get_name())

    # From GIMP's menus (the dialog, or Filters > Repeat with the last values) there is a screen:
    # show the Stop window. Scripts (NONINTERACTIVE) never touch GTK.
    interactive = run_mode in (Gimp.RunMode.INTERACTIVE, Gimp.RunMode.WITH_LAST_VALS)
    if interactive:
        gi.require_version("GimpUi", "3.0")
        from gi.repository import GimpUi
        GimpUi.init(PROC)
    if run_mode == Gimp.RunMode.INTERACTIVE:
        dialog = GimpUi.ProcedureDialog.new(procedure, config, "Neural Style Transfer")
        fill_dialog(dialog)
        ok = dialog.run()
        dialog.destroy()
        if not ok:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())

    try:
        cfg = load_config()
        client_mod = import_client(cfg)
        Gimp.progress_init("Neural style: reading the layers")
        request = build_request(client_mod, image, source, config)
        pic, cancelled = run_job(client_mod, cfg, request, image, source, config, interactive)
        if not source.is_valid():
            raise UserError("The source layer was deleted while the style was being computed.")
        add_result_layer(image, source, pic, request, config, cancelled)
    except UserError as e:
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, str(e))
    except Exception as e:  # noqa: BLE001 - a message rather than a "plug-in crashed" box
        import traceback
        traceback.print_exc()
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                    "Neural style transfer failed unexpectedly (%s: %s). Please report this with the "
                    "output of 'python install.py --check'." % (type(e).__name__, e))
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class NeuralStyle(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [PROC]

    def do_create_procedure(self, name):
        flags = GObject.ParamFlags.READWRITE
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_image_types("RGB*, GRAY*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_menu_label("Neural Style Transfer...")
        p.add_menu_path("<Image>/Filters/Artistic")
        p.set_documentation(
            "Paint the layer in the style of another image",
            "Neural style transfer (Gatys et al.) with spatial, colour and scale control. The style "
            "goes where the selection (or a saved channel) is, or on the whole layer; the result is a "
            "new layer above the source, masked to the selection. The work is done by the project's "
            "daemon, which is started when needed.",
            name)
        p.set_attribution("neural-style-gimp contributors", "neural-style-gimp contributors", "2026")

        p.add_layer_argument("style-layer", "Style la_yer",
                             "A layer of any open image to take the style from (or use a style file)",
                             True, flags)
        p.add_file_argument("style-file", "Style _file",
                            "An image file to take the style from (used when no style layer is set)",
                            Gimp.FileChooserAction.OPEN, True, None, flags)
        p.add_channel_argument("style-mask-channel", "Style mas_k channel",
                               "Which part of the style image to use (a channel of the style "
                               "layer's image; none = all of it)", True, flags)
        p.add_layer_argument("outside-style-layer", "Ou_tside style layer",
                             "A second style for the area outside the selection (none = leave it as it is)",
                             True, flags)
        p.add_file_argument("outside-style-file", "Outside style f_ile",
                            "A second style file for the area outside the selection",
                            Gimp.FileChooserAction.OPEN, True, None, flags)
        p.add_channel_argument("region-channel", "Re_gion channel",
                               "A saved selection (channel) to use instead of the current selection",
                               True, flags)
        p.add_layer_argument("scale-fine-layer", "Fi_ne-scale style layer",
                             "Scale mixing: take the fine texture from this style and the coarse "
                             "structure from the main style (none = no mixing)", True, flags)
        p.add_file_argument("scale-fine-file", "Fine-scale style fil_e",
                            "Scale mixing: the fine-texture style as a file",
                            Gimp.FileChooserAction.OPEN, True, None, flags)
        color = Gimp.Choice.new()
        for i, (nick, label, help_) in enumerate(COLOR_CHOICES):
            color.add(nick, i, label, help_)
        p.add_choice_argument("color", "Colo_ur", "Colour control: full, luminance or histogram",
                              color, "full", flags)
        quality = Gimp.Choice.new()
        for i, (nick, label, help_) in enumerate(QUALITY_CHOICES):
            quality.add(nick, i, label, help_)
        p.add_choice_argument("quality", "_Quality", "Preview (fast), standard or high",
                              quality, "standard", flags)
        p.add_int_argument("size", "Si_ze", "Long edge of the computed image in pixels "
                           "(0 = the layer's own size; smaller is much faster)", 0, 8192, 0, flags)
        p.add_double_argument("style-weight", "Style _weight",
                              "How strongly the style is imposed relative to the layer's content",
                              0.0, 1000.0, 1.0, flags)
        p.add_boolean_argument("preview", "Live _preview",
                               "Show the image on the canvas while it is being computed", True, flags)
        p.add_boolean_argument("mask-to-selection", "_Mask the result to the selection",
                               "Give the new layer a mask from the selection (feathering kept)",
                               True, flags)
        p.add_int_argument("steps", "Num_ber of steps", "Optimisation steps at the final size "
                           "(0 = what the quality preset says)", 0, 5000, 0, flags)
        return p


Gimp.main(NeuralStyle.__gtype__, sys.argv)
