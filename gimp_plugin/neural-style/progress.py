"""While a run works: GIMP's progress bar, the live preview layer on the canvas and (from GIMP's
menus) a small window with a Stop button.
"""
import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

import gimp_io  # noqa: E402
import texts  # noqa: E402

TITLE = "Neural Style Transfer"


def Gdk_hint():
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk
    return Gdk.WindowTypeHint.DIALOG


def progress_window():
    """GIMP's window that shows this run's progress (the image window the filter was run from) as a
    foreign ``Gdk.Window``, on X11; None elsewhere or when GIMP names none (its handle is the X
    window id, ``Window``, in the bytes of ``Gimp.progress_get_window_handle``)."""
    try:
        import sys
        gi.require_version("Gdk", "3.0")
        gi.require_version("GdkX11", "3.0")
        from gi.repository import Gdk, GdkX11
        display = Gdk.Display.get_default()
        if not isinstance(display, GdkX11.X11Display):
            return None
        handle = Gimp.progress_get_window_handle()
        raw = bytes(handle.get_data() or b"") if handle is not None else b""
        xid = int.from_bytes(raw, sys.byteorder) if len(raw) in (4, 8) else 0
        return GdkX11.X11Window.foreign_new_for_display(display, xid) if xid else None
    except Exception:  # noqa: BLE001 - no parent known: the window manager places the window
        return None


class StopWindow:
    """A small window with a Stop button. Stopping sends a cancel to the daemon, which answers with
    the image as it is, and that becomes the result. It opens over the image window whose progress
    bar shows the run (transient for it, so it stays above it): centred across it, low on the canvas
    just above the status bar and its progress, so the image forming in the middle stays in view;
    never top-left over the menus (GTK cannot centre on a foreign parent, and without a window
    manager nobody else would)."""

    CHARS = 60                  # the progress text's width; a longer text wraps
    ABOVE_STATUS_BAR = 110      # pixels kept free at the image window's bottom: status bar, scroll bar, and a
                                # window manager's title bar on the Stop window itself

    def __init__(self, on_stop):
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        self.Gtk = Gtk
        self.label = Gtk.Label(label="Starting...")
        self.label.set_line_wrap(True)            # a fixed width: the window stays where it was put
        self.label.set_width_chars(self.CHARS)
        self.label.set_max_width_chars(self.CHARS)
        self.window = Gtk.Window(title=TITLE)
        self.window.set_default_size(380, -1)
        self.window.set_type_hint(Gdk_hint())
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8)
        box.set_border_width(12)
        box.pack_start(self.label, False, False, 0)
        button = Gtk.Button(label="Stop and keep the current image")
        button.connect("clicked", lambda *_: (on_stop(), button.set_sensitive(False),
                                              self.label.set_text("Stopping...")))
        box.pack_start(button, False, False, 0)
        self.window.add(box)
        self.window.connect("delete-event", lambda *_: (on_stop(), True)[1])
        self._place()
        self.window.show_all()

    def _place(self):
        """Transient for GIMP's progress window and placed over it (before the window is mapped)."""
        try:
            from gi.repository import GimpUi
            GimpUi.window_set_transient(self.window)
        except Exception:  # noqa: BLE001 - a GimpUi without it: the window manager places it
            pass
        parent = progress_window()
        if parent is None:
            self.window.set_position(self.Gtk.WindowPosition.CENTER)
            return
        self.window.get_child().show_all()
        natural = self.window.get_preferred_size()[1]
        w, h = max(natural.width, 380), natural.height
        _, px, py = parent.get_origin()
        pw, ph = parent.get_width(), parent.get_height()
        y = max((ph - h) // 2, ph - h - self.ABOVE_STATUS_BAR)     # a small window: centred
        self.window.move(px + max(0, (pw - w) // 2), py + max(0, y))

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
    ``link.stylize`` calls ``pump``, ``show`` and reads ``stop_requested``."""

    def __init__(self, image, source, plan, preview, interactive):
        self.stop_requested = False
        self.note = plan.size_note            # the working size, when the result is scaled up
        self.preview = gimp_io.PreviewLayer(image, source, plan.box) if preview else None
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
            text = texts.progress_text(ev, self.note)
            Gimp.progress_set_text(text)
            fraction = texts.progress_fraction(ev)
            if fraction is not None:
                Gimp.progress_update(fraction)
            if self.window is not None:
                self.window.set_text(text)
        elif kind == "preview" and self.preview is not None and ev.get("image") is not None:
            self.preview.show(ev["image"])
