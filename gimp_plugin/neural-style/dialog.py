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


def ask(procedure, config, source=None, box=None, estimate=None, can_continue=False):
    """GIMP's dialog for the procedure, in two tiers; True when the user chose OK. ``box``: width
    and height of what will be computed; ``estimate(options)``: the daemon's estimate or None;
    ``can_continue``: opened on a result layer, which can be continued."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi
    dialog = GimpUi.ProcedureDialog.new(procedure, config, TITLE)
    watches = fill(dialog, config, box, estimate)
    continue_choice(dialog, can_continue)
    ok = dialog.run()
    for w in watches:
        config.disconnect(w)
    dialog.destroy()
    return ok


def fill(dialog, config, box=None, estimate=None):
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
        return watches
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the plain dialog still works
        import traceback
        traceback.print_exc()
        dialog.fill(None)
        return []


def continue_choice(dialog, can_continue):
    """"Continue from this layer" first among the basics when the dialog was opened on a result
    layer (issue 13), hidden otherwise."""
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
    speed ("Auto: 512 px, about 1 min on cpu; full resolution would take about 3 h 10 min"), kept up
    to date; Size is shown only for a custom size."""
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
        note.set_text(detail_text(detail, info, box))
    update()
    return [config.connect("notify::" + n, update) for n in ("detail", "size", "quality", "steps")]


def detail_text(detail, info, box):
    """The estimate line for the Detail choice (``info``: the daemon's estimate at the asked size)."""
    w, h = box
    if info is None:
        return daemon_link.estimate_text(None, w, h)
    full = daemon_link.format_duration(info["seconds"], coarse=True)
    if detail == "auto" and (info.get("fit_seconds") or 0) > daemon_link.AUTO_TARGET_S * 1.5:
        return "Auto: even at %d px this takes about %s on %s: choose Quality \u201cPreview (fast)\u201d " \
               "for a quick try. Full resolution: about %s." % (
                   info["fit_size"], daemon_link.format_duration(info["fit_seconds"], coarse=True),
                   info.get("device", "?"), full)
    if detail == "auto" and info.get("fit_size") and int(info["fit_size"]) < max(w, h):
        return "Auto: %d px (of %d), about %s on %s. Full resolution: about %s." % (
            info["fit_size"], max(w, h), daemon_link.format_duration(info.get("fit_seconds") or 0, coarse=True),
            info.get("device", "?"), full)
    if detail == "auto":
        return "Auto: full resolution fits, about %s on %s." % (full, info.get("device", "?"))
    return daemon_link.estimate_text(info, w, h)


def Gdk_hint():
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk
    return Gdk.WindowTypeHint.DIALOG


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
        self.window.set_type_hint(Gdk_hint())
        try:     # over the image window that ran the filter, not top-left over the menus
            from gi.repository import GimpUi
            GimpUi.window_set_transient(self.window)
            self.window.set_position(Gtk.WindowPosition.CENTER_ON_PARENT)
        except Exception:  # noqa: BLE001 - a GimpUi without it: the window manager places it
            self.window.set_position(Gtk.WindowPosition.CENTER)
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
