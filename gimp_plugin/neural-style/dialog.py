"""What the user sees: the procedure's dialog before the run, and while it runs GIMP's progress bar,
the live preview on the canvas and (from GIMP's menus) a small window with a Stop button.

GTK and GimpUi are imported only in interactive runs; scripts (NONINTERACTIVE) never touch GTK.
"""
import threading

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

import daemon_link  # noqa: E402
import gimp_io  # noqa: E402
import live_preview  # noqa: E402

TITLE = "Neural Style Transfer"

# Two tiers: what every run needs up front, the rest under "Advanced" (GimpUi's expander).
BASICS = ["style-from", "style-file", "style-layer", "color", "detail", "size", "estimate-note", "quality",
          "style-weight", "preview", "continue"]     # "continue": on a result only, at the top
ADVANCED = ["region-channel", "mask-to-selection", "outside-style-layer", "outside-style-file",
            "style-mask-channel", "scale-fine-layer", "scale-fine-file", "steps"]
THUMB = 96                  # the picked style's thumbnail, in pixels


def init(name):
    """GimpUi for interactive runs (the dialog, or Filters > Repeat's Stop window)."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    GimpUi.init(name)


def ask(procedure, config, source=None, box=None, estimate=None, live=None, can_continue=False):
    """GIMP's dialog for the procedure, in two tiers; True when the user chose OK. ``box``: width
    and height of what will be computed; ``estimate(options)``: the daemon's estimate or None;
    ``live``: a ``LiveSource`` for the preview pane beside the settings (None: no pane);
    ``can_continue``: opened on a result layer, which can be continued."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    dialog = GimpUi.ProcedureDialog.new(procedure, config, TITLE)
    watches = fill(dialog, config, box, estimate, live)
    continue_choice(dialog, can_continue)
    ok = dialog.run()
    for w in watches:
        config.disconnect(w)
    dialog.destroy()
    if live is not None:
        live.close()            # Cancel or OK: the preview's job is cancelled, nothing in the image changed
    return ok


def fill(dialog, config, box=None, estimate=None, live=None):
    """The settings column: Style (file or layer, one choice, with a thumbnail), colour, detail with
    the time it will take, quality, strength, live preview; an "Advanced" expander with regions,
    outside style, style mask, scale mixing and steps. The column is the "settings" box inside a
    horizontal "main" box, so that a preview pane can go beside it. Falls back to GIMP's plain list of
    every argument. Returns the ids of the handlers connected to ``config``."""
    try:
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        watches = []
        note = dialog.get_label("estimate-note", "", False, False)
        basics = dialog.fill_box("basics", BASICS)
        dialog.fill_box("advanced-box", ADVANCED)
        dialog.get_label("advanced-title", "Advanced", False, False)
        dialog.fill_expander("advanced", "advanced-title", False, "advanced-box")
        settings = dialog.fill_box("settings", ["basics", "advanced"])
        settings.set_spacing(12)
        main = dialog.fill_box("main", ["settings"])
        main.set_orientation(Gtk.Orientation.HORIZONTAL)
        main.set_spacing(18)
        dialog.fill(["main"])
        watches += style_choice(dialog, config, basics, Gtk)
        watches += estimate_line(dialog, config, note, box, estimate, Gtk)
        if live is not None:
            watches += live.attach(main, config, Gtk)
        return watches
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the plain dialog still works
        import traceback
        traceback.print_exc()
        dialog.fill(None)
        return []


def continue_choice(dialog, can_continue):
    """"Continue from this layer" first among the basics when the dialog was opened on a result
    layer, hidden otherwise."""
    try:
        widget = dialog.get_widget("continue", GObject_none())
        widget.set_no_show_all(not can_continue)
        widget.set_visible(can_continue)
        if can_continue and widget.get_parent() is not None:
            widget.get_parent().reorder_child(widget, 0)
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the choice stays where it is
        import traceback
        traceback.print_exc()


def GObject_none():
    from gi.repository import GObject
    return GObject.TYPE_NONE


def style_choice(dialog, config, basics, Gtk):
    """Style from a file or a layer as one choice: only the picker it names is shown, a thumbnail of
    the picked style beside it, and OK only once a style is picked."""
    thumb = Gtk.Image()
    thumb.set_halign(Gtk.Align.START)
    basics.pack_start(thumb, False, False, 0)
    basics.reorder_child(thumb, 3)
    pickers = {k: dialog.get_widget("style-" + k, GObject_none()) for k in ("file", "layer")}
    for w in pickers.values():
        w.set_no_show_all(True)

    def update(*_):
        kind = config.get_property("style-from")
        for k, w in pickers.items():
            w.set_visible(k == kind)
        pic = style_thumbnail(config, kind)
        thumb.set_from_pixbuf(pic)
        thumb.set_visible(pic is not None)
        dialog.set_response_sensitive(Gtk.ResponseType.OK, pic is not None or has_style(config, kind))
    update()
    return [config.connect("notify::" + n, update) for n in ("style-from", "style-file", "style-layer")]


def has_style(config, kind):
    if kind == "layer":
        return gimp_io.item_ok(config.get_property("style-layer"))
    f = config.get_property("style-file")
    return f is not None and bool(f.get_path() or f.get_uri())


def style_thumbnail(config, kind):
    """A GdkPixbuf of the picked style (a layer's thumbnail, or the file scaled), or None."""
    try:
        if kind == "layer":
            layer = config.get_property("style-layer")
            if gimp_io.item_ok(layer):
                return layer.get_thumbnail(THUMB, THUMB, Gimp.PixbufTransparency.SMALL_CHECKS)
            return None
        f = config.get_property("style-file")
        if f is None or not f.get_path():
            return None
        gi.require_version("GdkPixbuf", "2.0")
        from gi.repository import GdkPixbuf
        return GdkPixbuf.Pixbuf.new_from_file_at_scale(f.get_path(), THUMB, THUMB, True)
    except Exception:  # noqa: BLE001 - a file GdkPixbuf cannot read: no thumbnail, the run still works
        return None


def estimate_line(dialog, config, note, box, estimate, Gtk):
    """The line under Detail: what the chosen detail costs on this device, from the daemon's measured
    speed ("Auto: 1024×768 px (full size), standard quality, about 55 s on cpu"), kept up to date;
    Size is shown only for a custom size."""
    size = dialog.get_widget("size", GObject_none())
    size.set_no_show_all(True)
    if isinstance(note, Gtk.Label):
        note.set_line_wrap(True)
        note.set_max_width_chars(60)     # wraps instead of widening the dialog
        note.set_xalign(0.0)
    known = {"daemon": estimate is not None and box is not None}

    def update(*_):
        detail = config.get_property("detail")
        size.set_visible(detail == "size")
        if not isinstance(note, Gtk.Label):
            return
        if not known["daemon"]:
            note.set_text(daemon_link.estimate_text(None, 0, 0))
            return
        options = {"quality": config.get_property("quality"),
                   "size": int(config.get_property("size")) if detail == "size" else 0}
        if config.get_property("steps") > 0:
            options["steps"] = int(config.get_property("steps"))
        info = estimate(options)
        if info is None:
            known["daemon"] = False     # no daemon: do not wait for one at every change
        note.set_text(daemon_link.detail_text(detail, info, box))
    update()
    return [config.connect("notify::" + n, update) for n in ("detail", "size", "quality", "steps")]


# ---- the live preview pane -----------------------------------------------------------------

PANE = 256          # the pane's long edge at least (a small area is shown scaled up), at most LONG_EDGE
DRAIN_MS = 50       # how often the pane takes the preview worker's events (on GTK's thread)
# What request.read takes from GIMP: only a change of one of these reads pixels again; any other
# setting only changes the options of the cached read.
READ_INPUTS = ("style-from", "style-file", "style-layer", "style-mask-channel", "region-channel",
               "outside-style-layer", "outside-style-file", "scale-fine-layer", "scale-fine-file")


def pane_size(width, height):
    """The pane's picture size for an area of ``width`` × ``height``: its long edge between PANE
    and LONG_EDGE (the preview is rendered at most LONG_EDGE px; a small area is shown bigger)."""
    long_edge = max(1, int(width), int(height))
    shown = min(live_preview.LONG_EDGE, max(PANE, long_edge))
    return max(1, round(width * shown / long_edge)), max(1, round(height * shown / long_edge))


def pixbuf(pic, width, height):
    """A GdkPixbuf of an RGBA ImageData, scaled to ``width`` × ``height``."""
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib
    pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(bytes(pic.data)), GdkPixbuf.Colorspace.RGB, True, 8,
                                         pic.width, pic.height, pic.width * 4)
    if (pic.width, pic.height) != (width, height):
        pb = pb.scale_simple(width, height, GdkPixbuf.InterpType.BILINEAR)
    return pb


class LiveSource:
    """The dialog's live preview: a pane beside the settings with the area being styled (what
    ``read()`` returns: ``request.read``'s Submission, the selection's box plus margin or the layer),
    re-rendered by the daemon through ``live_preview.LivePreview`` whenever a setting changes.

    GIMP's pixels are read on GTK's thread, and only when a ``READ_INPUTS`` setting changes; every
    other change only builds a new submission from the cached read. All socket work stays in the
    LivePreview's thread (and the daemon, when none answers, is started in a thread of its own);
    the pane takes its events every ``DRAIN_MS``. Until the first styled image it shows the content.
    ``warm`` afterwards: the daemon keeps a preview result for this content, so OK's full-size run
    can start from it (``init: "last"``)."""

    def __init__(self, client, settings, read):
        self.client = client
        self.settings = settings
        self.read = read
        self.endpoint = daemon_link.configured_endpoint(client, settings)
        self.worker = None          # the LivePreview while the Live preview box is on
        self.content = None         # the cached read (a Submission)
        self.problem = None         # why there is no read (no style yet, an empty selection...)
        self.sent = None            # what was last asked for (identical changes render nothing)
        self.warm = False           # a styled preview arrived: the daemon keeps a result for this content
        self.closed = False
        self.pending = False
        self.daemon_problem = []    # the daemon-starting thread's error, read on GTK's thread

    # ---- GTK's thread -----------------------------------------------------------------------------
    def attach(self, main, config, Gtk):
        """Build the pane beside the settings in ``main``; returns the ids of handlers on ``config``."""
        from gi.repository import GLib
        self.config, self.GLib = config, GLib
        pane = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        frame = Gtk.Frame()
        frame.set_shadow_type(Gtk.ShadowType.IN)
        self.image = Gtk.Image()
        self.image.set_size_request(*pane_size(PANE, PANE))
        frame.add(self.image)
        self.label = Gtk.Label(label="")
        self.label.set_line_wrap(True)
        self.label.set_max_width_chars(36)
        self.label.set_xalign(0.0)
        pane.pack_start(frame, False, False, 0)
        pane.pack_start(self.label, False, False, 0)
        main.pack_start(pane, False, False, 0)
        pane.show_all()
        threading.Thread(target=self._start_daemon, name="neural-style-start-daemon", daemon=True).start()
        GLib.timeout_add(DRAIN_MS, self._drain)
        self._schedule()
        return [config.connect("notify", self._notify)]

    def _notify(self, config, pspec):
        if pspec.name in READ_INPUTS:
            self.content, self.problem = None, None
        self._schedule()

    def _schedule(self):
        """Update once GTK is idle (a burst of notifications is one update)."""
        if not self.pending and not self.closed:
            self.pending = True
            self.GLib.idle_add(self._update)

    def _update(self):
        self.pending = False
        if self.closed:
            return False
        config = self.config
        if self.content is None and self.problem is None:
            try:
                self.content = self.read()[0]
                self._show(self.content.content)         # the area itself until the first styled image
            except daemon_link.UserError as e:
                self.problem = str(e)
            except Exception as e:  # noqa: BLE001 - the preview never breaks the dialog
                self.problem = "No preview: %s: %s" % (type(e).__name__, e)
        if not config.get_property("preview"):
            self._stop_worker(wait=False)
            self.label.set_text("Live preview is off.")
            return False
        if self.problem is not None:
            self._stop_worker(wait=False)
            self.label.set_text(self.problem)
            return False
        sub = self.submission(config)
        key = (id(self.content), sorted(sub.options.items()))
        if self.worker is not None and key == self.sent:
            return False
        self.sent = key
        if self.worker is None:
            self.worker = live_preview.LivePreview(self.client, self.endpoint)
        self.worker.request(sub)
        return False

    def submission(self, config):
        """The cached read with the options the settings say now (the preview's size: Detail's
        custom Size, else the area's own, at most LONG_EDGE px in LivePreview)."""
        from dataclasses import replace
        options = dict(self.content.options)
        options.update(quality=config.get_property("quality"), color=config.get_property("color"),
                       style_weight=float(config.get_property("style-weight")),
                       size=int(config.get_property("size")) if config.get_property("detail") == "size" else 0)
        steps = int(config.get_property("steps"))
        if steps > 0:
            options["steps"] = steps
        else:
            options.pop("steps", None)
        return replace(self.content, options=options)

    def _show(self, pic):
        w, h = pane_size(self.content.content.width, self.content.content.height) if self.content else \
            pane_size(pic.width, pic.height)
        self.image.set_size_request(w, h)
        self.image.set_from_pixbuf(pixbuf(pic, w, h))

    def _drain(self):
        if self.closed:
            return False
        while self.daemon_problem:
            self.label.set_text(self.daemon_problem.pop(0))
        if self.worker is not None:
            for ev in self.worker.events():
                kind = ev.get("type")
                if kind == "image":
                    self.warm = True             # kept by the daemon, even a cancelled job's image
                    if not ev.get("outdated"):
                        self._show(ev["image"])
                elif kind in ("status", "error"):
                    self.label.set_text(ev.get("text", ""))
        return True

    def _stop_worker(self, wait=True):
        """End the worker (it cancels its job); ``wait=False`` while the dialog is up: it never freezes."""
        if self.worker is not None:
            self.worker.close(timeout=5.0 if wait else 0)
            self.worker, self.sent = None, None

    def close(self):
        """Cancel or OK: the running preview job is cancelled, the pane stops."""
        self.closed = True
        self._stop_worker()

    # ---- a thread of its own ----------------------------------------------------------------------
    def _start_daemon(self):
        try:
            daemon_link.ensure_daemon(self.client, self.settings)
        except daemon_link.UserError as e:
            self.daemon_problem.append(str(e))
        except Exception as e:  # noqa: BLE001
            self.daemon_problem.append("The daemon could not be started: %s" % e)


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
    ABOVE_STATUS_BAR = 64       # pixels kept free at the image window's bottom: status bar, scroll bar

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
