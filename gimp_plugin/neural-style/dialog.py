"""The procedure's dialog before the run: the settings in two tiers (``arguments.tier``), the style
choice with its thumbnail, the estimate line under Detail, and the live preview pane beside them
(``preview_pane``). What shows while the run works is ``progress``.

GTK and GimpUi are imported only in interactive runs; scripts (NONINTERACTIVE) never touch GTK.
"""
import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

import arguments  # noqa: E402
import gimp_io  # noqa: E402
import texts  # noqa: E402
from progress import TITLE  # noqa: E402

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
        strength_scale(dialog)
        basics = arguments.tier("basics")      # the estimate line goes under Size
        basics.insert(basics.index("size") + 1, "estimate-note")
        basics = dialog.fill_box("basics", basics)
        dialog.fill_box("advanced-box", arguments.tier("advanced"))
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


STRENGTH_RANGE = (0.03, 30.0)     # the Style strength slider: logarithmic, 1 (the paper's look) in its middle


def strength_scale(dialog):
    """Style strength as a logarithmic slider from ``STRENGTH_RANGE[0]`` to ``[1]``: its middle is 1,
    the paper's balance of content and style, and each side reaches 30× milder or stronger (scripts
    may still give any weight the argument takes)."""
    try:
        entry = dialog.get_scale_entry("style-weight", 1.0)
        entry.set_bounds(*STRENGTH_RANGE, True)
        entry.set_logarithmic(True)
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the plain spin scale still works
        import traceback
        traceback.print_exc()


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
            note.set_text(texts.estimate_text(None, 0, 0))
            return
        info = estimate(arguments.options_from_config(config, detail="size" if detail == "size" else "full"))
        if info is None:
            known["daemon"] = False     # no daemon: do not wait for one at every change
        note.set_text(texts.detail_text(detail, info, box))
    update()
    return [config.connect("notify::" + n, update) for n in ("detail", "size", "quality", "steps")]
