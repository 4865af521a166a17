"""What the user sees: the procedure's dialog before the run, and while it runs GIMP's progress bar,
the live preview on the canvas and (from GIMP's menus) a small window with a Stop button.

GTK and GimpUi are imported only in interactive runs; scripts (NONINTERACTIVE) never touch GTK.
"""
import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

import daemon_link  # noqa: E402
import gimp_io  # noqa: E402

TITLE = "Neural Style Transfer"

GROUPS = (
    ("style", "Style", ["style-layer", "style-file", "style-mask-channel"]),
    ("where", "Where", ["region-channel", "outside-style-layer", "outside-style-file", "mask-to-selection"]),
    ("mix", "Scale mixing (fine texture from a second style)", ["scale-fine-layer", "scale-fine-file"]),
    ("settings", "Settings", ["color", "quality", "size", "size-note", "style-weight", "steps", "preview"]),
)


def size_text(size, source):
    """The line under Size: full resolution, or that the result will be scaled up to the layer."""
    if source is None:
        return ""
    w, h = source.get_width(), source.get_height()
    note = daemon_link.size_note(size, w, h)
    if note:
        return "The result will be scaled up: %s." % note
    return "Full resolution: the layer's own %d×%d pixels." % (w, h)


def init(name):
    """GimpUi for interactive runs (the dialog, or Filters > Repeat's Stop window)."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    GimpUi.init(name)


def ask(procedure, config, source=None):
    """GIMP's dialog for every argument, laid out in titled frames; True when the user chose OK."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    dialog = GimpUi.ProcedureDialog.new(procedure, config, TITLE)
    watch = fill(dialog, config, source)
    ok = dialog.run()
    if watch is not None:
        config.disconnect(watch)
    dialog.destroy()
    return ok


def fill(dialog, config=None, source=None):
    """Two columns of titled frames: Style and Where on the left, Scale mixing and Settings on the
    right, with a line under Size that says whether the result is the layer's full resolution or
    will be scaled up (kept up to date as Size changes). Falls back to GIMP's plain list of every
    argument. Returns the id of the handler that watches Size (None without one)."""
    watch = None
    try:
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        groups = GROUPS
        watch = size_note(dialog, config, source, Gtk)
        if watch is None:
            groups = [(k, t, [p for p in props if p != "size-note"]) for k, t, props in GROUPS]
        for key, title, props in groups:
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
    return watch


def size_note(dialog, config, source, Gtk):
    """The "size-note" label under Size, rewritten whenever Size changes; the handler's id, or None
    when there is no label (no layer given, or a GimpUi without labels)."""
    if config is None or source is None:
        return None
    try:
        note = dialog.get_label("size-note", size_text(config.get_property("size"), source), False, False)
        if not isinstance(note, Gtk.Label):
            return None
        note.set_line_wrap(True)
        note.set_xalign(0.0)
        return config.connect("notify::size",
                              lambda cfg, _p: note.set_text(size_text(cfg.get_property("size"), source)))
    except Exception:  # noqa: BLE001 - the dialog works without the line
        return None


class StopWindow:
    """A small window with a Stop button. Stopping sends a cancel to the daemon, which answers with
    the image as it is, and that becomes the result."""

    def __init__(self, on_stop):
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        self.Gtk = Gtk
        self.label = Gtk.Label(label="Starting...")
        self.window = Gtk.Window(title=TITLE)
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


class Feedback:
    """While the daemon works: GIMP's progress bar, the live preview layer (when asked for) and,
    with a screen, the Stop window. A context manager: leaving it removes the preview and the window.
    ``daemon_link.stylize`` calls ``pump``, ``show`` and reads ``stop_requested``."""

    def __init__(self, image, source, plan, preview, interactive):
        self.stop_requested = False
        self.note = plan.size_note            # the working size, when the result is scaled up
        self.preview = gimp_io.PreviewLayer(image, source, plan.box, plan.preview_masked) if preview else None
        self.window = StopWindow(self._stop) if interactive else None

    def _stop(self):
        self.stop_requested = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.preview is not None:
            self.preview.close()
        if self.window is not None:
            self.window.close()

    def pump(self):
        if self.window is not None:
            self.window.pump()

    def show(self, ev):
        kind = ev.get("type")
        if kind in ("accepted", "progress"):
            text = daemon_link.progress_text(ev, self.note)
            Gimp.progress_set_text(text)
            fraction = daemon_link.progress_fraction(ev)
            if fraction is not None:
                Gimp.progress_update(fraction)
            if self.window is not None:
                self.window.set_text(text)
        elif kind == "preview" and self.preview is not None and ev.get("image") is not None:
            self.preview.show(ev["image"])
