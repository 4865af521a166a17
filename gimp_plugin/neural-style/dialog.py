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
    watches = fill(dialog, config, box, estimate, live, source.get_image() if source is not None else None)
    continue_choice(dialog, can_continue)
    ok = dialog.run()
    for w in watches:
        config.disconnect(w)
    dialog.destroy()
    if live is not None:
        live.close()            # Cancel or OK: the preview's job is cancelled, nothing in the image changed
    return ok


def fill(dialog, config, box=None, estimate=None, live=None, image=None):
    """The settings column: a "Style" tab with the gallery (one click picks a painting), Style (file
    or layer, one choice, with a thumbnail), colour, detail with the time it will take, quality,
    strength, live preview; an "Advanced" tab with regions, outside style, style mask, scale mixing
    and steps; under the tabs a line saying every style in use. The column is the "settings" box
    inside a horizontal "main" box, so that a preview pane (of a fixed size) can go beside it: the
    dialog keeps its size. Falls back to GIMP's plain list of every argument. Returns the ids of the
    handlers connected to ``config``."""
    try:
        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk
        watches = []
        note = dialog.get_label("estimate-note", "", False, False)
        strength_scale(dialog)
        basics = arguments.tier("basics")      # the estimate line goes under Size
        basics.insert(basics.index("size") + 1, "estimate-note")
        advanced = arguments.tier("advanced")
        basics_box = dialog.fill_box("basics", [n for n in basics if not is_own(n)])
        advanced_box = dialog.fill_box("advanced-box", [n for n in advanced if not is_own(n)])
        watches += own_rows(config, basics_box, basics, image, Gtk)   # file choosers, regions (see file_row)
        watches += own_rows(config, advanced_box, advanced, image, Gtk)
        dialog.get_label("basics-title", "Style", False, False)
        dialog.get_label("advanced-title", "Advanced", False, False)
        # two tabs: the dialog is as tall as the taller page whichever shows (an expander made it
        # jump as it opened), and the styles line under them says what Advanced holds
        tabs = dialog.fill_notebook("tabs", ["basics-title", "advanced-title"], ["basics", "advanced-box"])
        for page in (basics_box, advanced_box):
            page.set_border_width(8)
        settings = dialog.fill_box("settings", ["tabs"])
        settings.set_spacing(8)
        main = dialog.fill_box("main", ["settings"])
        main.set_orientation(Gtk.Orientation.HORIZONTAL)
        main.set_spacing(18)
        dialog.fill(["main"])
        watches += clear_buttons(dialog, config, advanced_box, advanced, Gtk)
        watches += style_choice(dialog, config, basics_box, Gtk)
        grid, more = gallery_grid(config, Gtk)
        basics_box.pack_start(grid, False, False, 0)
        basics_box.reorder_child(grid, 0)
        watches += more
        line, more = styles_line(config, Gtk)
        settings.pack_start(line, False, False, 0)   # under the tabs: visible whichever tab shows
        watches += more
        watches += estimate_line(dialog, config, note, box, estimate, Gtk)
        if live is not None:
            watches += live.attach(main, config, Gtk)
        tabs.show_all()
        return watches
    except Exception:  # noqa: BLE001 - an older or newer GimpUi: the plain dialog still works
        import traceback
        traceback.print_exc()
        dialog.fill(None)
        return []


def is_own(name):
    """Whether the dialog builds the argument's widget itself (a style file, the regions list)."""
    a = arguments.BY_NAME.get(name)     # None: a widget of the dialog's own (the estimate line)
    return a is not None and (a.kind == "file" or a.name == "regions")


def clear_buttons(dialog, config, box, names, Gtk):
    """A clear button beside each layer and channel chooser of ``names`` (GimpUi's own widgets, in
    ``box``): an outside style, a fine-scale style, a region or a style mask set once can be taken
    back to none without Reset. Returns the handler ids."""
    watches = []
    for name in names:
        a = arguments.BY_NAME.get(name)
        if a is None or a.kind not in ("layer", "channel"):
            continue
        widget = dialog.get_widget(name, GObject_none())
        if widget is None or widget.get_parent() is not box:
            continue
        place = box.get_children().index(widget)
        row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        box.remove(widget)
        row.pack_start(widget, True, True, 0)
        clear = Gtk.Button.new_from_icon_name("edit-clear", Gtk.IconSize.BUTTON)
        clear.set_tooltip_text("None")
        clear.set_valign(Gtk.Align.CENTER)
        clear.connect("clicked", lambda _b, n=name: config.set_property(n, None))
        row.pack_start(clear, False, False, 0)
        box.pack_start(row, False, False, 0)
        box.reorder_child(row, place)

        def sensitive(*_, n=name, button=clear):
            button.set_sensitive(gimp_io.item_ok(config.get_property(n)))
        sensitive()
        watches.append(config.connect("notify::" + name, sensitive))
    return watches


def own_rows(config, box, names, image, Gtk):
    """The widgets the dialog builds itself for ``names`` (a tier's list), each at its place in ``box``."""
    watches = []
    for i, name in enumerate(names):
        if is_own(name):
            row, watch = file_row(config, name, Gtk) if name != "regions" else regions_editor(config, image, Gtk)
            box.pack_start(row, False, False, 0)
            box.reorder_child(row, i)
            row.set_name(name)
            watches.append(watch)
    return watches


def file_row(config, name, Gtk):
    """A style file argument as a label, a file button and a clear button, bound to ``config`` by
    hand: GimpUi's own file widget passes a file reset to none straight to GTK (Reset to Factory
    Defaults printed two Gtk-CRITICALs and the buttons kept the old files), and offers no way back
    to "no file" (an outside style set once stayed active). Returns (row, handler id)."""
    a = arguments.BY_NAME[name]
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
    label = Gtk.Label.new_with_mnemonic(a.label)
    label.set_xalign(0.0)
    button = Gtk.FileChooserButton.new(a.label.replace("_", ""), Gtk.FileChooserAction.OPEN)
    button.set_tooltip_text(a.help)
    label.set_mnemonic_widget(button)
    clear = Gtk.Button.new_from_icon_name("edit-clear", Gtk.IconSize.BUTTON)
    clear.set_tooltip_text("No file")
    row.pack_start(label, False, False, 0)
    row.pack_start(button, True, True, 0)
    row.pack_start(clear, False, False, 0)
    quiet = []

    def from_config(*_):
        f = config.get_property(name)
        quiet.append(True)
        try:
            if f is not None and f.get_path():
                button.set_file(f)
            else:
                button.unselect_all()
        finally:
            quiet.pop()
        clear.set_sensitive(f is not None)

    def to_config(_button):
        if not quiet:
            config.set_property(name, button.get_file())
    button.connect("file-set", to_config)
    clear.connect("clicked", lambda *_: config.set_property(name, None))
    from_config()
    row.show_all()
    return row, config.connect("notify::" + name, from_config)


def regions_editor(config, image, Gtk):
    """More regions, each a saved selection (a channel of the image) with its own style (a gallery
    painting, a style file used lately, or any file), laid over the main style's region; one row per
    region with a button that removes it, and "Add a region". Edits the "regions" argument (JSON,
    ``arguments.parse_regions``), so the live preview, OK, Repeat and the remembered record all see
    it. Returns (widget, handler id)."""
    import os
    from gi.repository import GLib
    from shared import gallery
    import remember
    outer = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
    label = Gtk.Label.new_with_mnemonic(arguments.BY_NAME["regions"].label)
    label.set_xalign(0.0)
    rows = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
    add = Gtk.Button.new_with_label("Add a region")
    add.set_halign(Gtk.Align.START)
    label.set_mnemonic_widget(add)
    outer.pack_start(label, False, False, 0)
    outer.pack_start(rows, False, False, 0)
    outer.pack_start(add, False, False, 0)
    channels = [c.get_name() for c in image.get_channels()] if image is not None else []
    known = [("gallery:" + p.name, p.title) for p in gallery.PAINTINGS]
    known += [(path, os.path.basename(path)) for path in remember.recent_styles()]
    pending = []

    def current():
        try:
            return arguments.parse_regions(config.get_property("regions"))
        except ValueError:
            return []

    def write(pairs):
        config.set_property("regions", arguments.format_regions(pairs))

    def choose_file(parent):
        chooser = Gtk.FileChooserDialog(title="A style for the region", transient_for=parent,
                                        action=Gtk.FileChooserAction.OPEN)
        chooser.add_buttons("_Cancel", Gtk.ResponseType.CANCEL, "_Open", Gtk.ResponseType.ACCEPT)
        path = chooser.get_filename() if chooser.run() == Gtk.ResponseType.ACCEPT else None
        chooser.destroy()
        return path

    def row(i, chan, spec):
        box = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        where = Gtk.ComboBoxText()
        for name in channels + ([chan] if chan not in channels else []):
            where.append(name, name)
        where.set_active_id(chan)
        what = Gtk.ComboBoxText()
        for key, title in known + ([(spec, os.path.basename(spec))] if spec not in dict(known) else []):
            what.append(key, title)
        what.append("choose", "Choose a file...")
        what.set_active_id(spec)
        remove = Gtk.Button.new_from_icon_name("list-remove", Gtk.IconSize.BUTTON)
        remove.set_tooltip_text("Remove this region")

        def edit(pair):
            pairs = current()
            if i < len(pairs):
                pairs[i] = pair
                write(pairs)

        def styled(_combo):
            key = what.get_active_id()
            if key == "choose":
                key = choose_file(what.get_toplevel())
                if key is None:
                    what.set_active_id(spec)
                    return
            edit((where.get_active_id(), key))
        where.connect("changed", lambda *_: edit((where.get_active_id(), what.get_active_id())))
        what.connect("changed", styled)
        remove.connect("clicked", lambda *_: write([p for k, p in enumerate(current()) if k != i]))
        box.pack_start(where, True, True, 0)
        box.pack_start(Gtk.Label(label="\u2192"), False, False, 0)
        box.pack_start(what, True, True, 0)
        box.pack_start(remove, False, False, 0)
        return box

    def rebuild():
        pending.clear()
        for child in rows.get_children():
            child.destroy()
        for i, (chan, spec) in enumerate(current()):
            rows.pack_start(row(i, chan, spec), False, False, 0)
        rows.show_all()
        add.set_sensitive(bool(channels))
        add.set_tooltip_text(None if channels else "Save a selection as a channel first (Select > Save to Channel)")
        return False

    def later(*_):            # once the edit's own signal is over: its widget may then go
        if not pending:
            pending.append(True)
            GLib.idle_add(rebuild)
    add.connect("clicked", lambda *_: write(current() + [(channels[0], known[0][0])]) if channels else None)
    rebuild()
    outer.show_all()
    return outer, config.connect("notify::regions", later)


GALLERY_THUMB = 60          # a gallery painting's thumbnail, in pixels
GALLERY_COLUMNS = 6


def gallery_grid(config, Gtk):
    """The first choice: the gallery's paintings (``shared.gallery``), then the style files and the
    style layers (of images open now) used lately, as a grid of thumbnails; one click picks a style (the live preview starts), and the
    painting picked is the one framed. Returns (widget, handler ids)."""
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, Gio
    from shared import gallery
    import remember
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
    label = Gtk.Label.new_with_mnemonic(texts.GALLERY_LABEL)
    label.set_xalign(0.0)
    flow = Gtk.FlowBox()
    flow.set_selection_mode(Gtk.SelectionMode.SINGLE)
    flow.set_min_children_per_line(GALLERY_COLUMNS)
    flow.set_max_children_per_line(GALLERY_COLUMNS)
    flow.set_homogeneous(True)
    flow.set_row_spacing(4)
    flow.set_column_spacing(4)
    label.set_mnemonic_widget(flow)
    entries = [(str(p.path), p.caption) for p in gallery.PAINTINGS]
    entries += [(path, "Used lately: " + path) for path in remember.recent_styles()]
    entries += [(layer, "Used lately: the layer '%s'" % layer.get_name()) for layer in remember.recent_layers()]
    children = {}                        # a file's path or a layer -> its thumbnail in the grid
    for key, caption in entries:
        try:
            pic = (GdkPixbuf.Pixbuf.new_from_file_at_scale(key, GALLERY_THUMB, GALLERY_THUMB, True)
                   if isinstance(key, str) else
                   key.get_thumbnail(GALLERY_THUMB, GALLERY_THUMB, Gimp.PixbufTransparency.SMALL_CHECKS))
        except Exception:  # noqa: BLE001 - an unreadable file: not offered
            continue
        image = Gtk.Image.new_from_pixbuf(pic)
        image.set_size_request(GALLERY_THUMB, GALLERY_THUMB)
        child = Gtk.FlowBoxChild()
        child.add(image)
        child.set_tooltip_text(caption)
        flow.add(child)
        children[key] = child
    keys = {child: key for key, child in children.items()}

    def picked(_flow, child):
        key = keys[child]
        if isinstance(key, str):
            config.set_property("style-from", "file")
            config.set_property("style-file", Gio.File.new_for_path(key))
        else:
            config.set_property("style-from", "layer")
            config.set_property("style-layer", key)

    def from_config(*_):
        if config.get_property("style-from") == "layer":
            layer = config.get_property("style-layer")
            child = next((c for k, c in children.items() if not isinstance(k, str) and gimp_io.item_ok(layer)
                          and k.get_id() == layer.get_id()), None)
        else:
            f = config.get_property("style-file")
            child = children.get(f.get_path()) if f is not None else None
        if child is None:
            flow.unselect_all()
        elif not child.is_selected():
            flow.select_child(child)

    def focus_grid(*_):      # the mnemonic: the painting picked, else the first, has the focus
        chosen = flow.get_selected_children() or flow.get_children()
        if chosen:
            chosen[0].grab_focus()
        return True

    def key(_flow, event):   # space or Enter picks the thumbnail that has the focus; Home, End move it
        gi.require_version("Gdk", "3.0")
        from gi.repository import Gdk
        child, every = flow.get_focus_child(), flow.get_children()
        if event.keyval in (Gdk.KEY_Home, Gdk.KEY_End) and every:
            every[0 if event.keyval == Gdk.KEY_Home else -1].grab_focus()
            return True
        if child is not None and event.keyval in (Gdk.KEY_space, Gdk.KEY_Return, Gdk.KEY_KP_Enter):
            flow.select_child(child)
            picked(flow, child)
            return True
        return False
    flow.connect("child-activated", picked)
    flow.connect("mnemonic-activate", focus_grid)
    flow.connect("key-press-event", key)
    from_config()
    box.pack_start(label, False, False, 0)
    box.pack_start(flow, False, False, 0)
    box.show_all()
    return box, [config.connect("notify::" + n, from_config) for n in ("style-file", "style-layer", "style-from")]


def styles_line(config, Gtk):
    """One line naming every style in use and where it goes, under the basics, so that what is set
    under Advanced shows with it closed ("Styles: The Starry Night inside the selection; Udnie
    outside it")."""
    line = Gtk.Label(label="")
    line.set_xalign(0.0)
    line.set_line_wrap(True)
    line.set_max_width_chars(60)
    names = ("style-from", "style-file", "style-layer", "outside-style-file", "outside-style-layer",
             "scale-fine-file", "scale-fine-layer", "region-channel", "style-mask-channel", "regions")

    def update(*_):
        line.set_text(texts.styles_summary(style_names(config)))
    update()
    line.show()
    return line, [config.connect("notify::" + n, update) for n in names]


def style_names(config):
    """What ``texts.styles_summary`` says: the name of each style slot set (None: unset), the region."""
    from shared import gallery

    def name(layer_arg, file_arg, prefer=None):
        layer = config.get_property(layer_arg) if prefer != "file" else None
        if gimp_io.item_ok(layer):
            return layer.get_name()
        f = config.get_property(file_arg) if prefer != "layer" else None
        if f is None or not f.get_path():
            return None
        painting = gallery.of_path(f.get_path())
        return painting.title if painting is not None else f.get_basename()
    region = config.get_property("region-channel")
    try:
        more = arguments.parse_regions(config.get_property("regions"))
    except ValueError:
        more = []

    def title(spec):
        try:
            return gallery.find(spec).title if gallery.is_gallery(spec) else spec.rsplit("/", 1)[-1]
        except KeyError:
            return spec
    return {"style": name("style-layer", "style-file", config.get_property("style-from")),
            "outside": name("outside-style-layer", "outside-style-file"),
            "fine": name("scale-fine-layer", "scale-fine-file"),
            "region": region.get_name() if gimp_io.item_ok(region) else None,
            "more": [(chan, title(spec)) for chan, spec in more]}


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
    thumb.set_size_request(THUMB, THUMB)
    basics.pack_start(thumb, False, False, 0)
    basics.reorder_child(thumb, 3)
    pickers = {"file": next(c for c in basics.get_children() if c.get_name() == "style-file"),
               "layer": dialog.get_widget("style-layer", GObject_none())}
    for w in pickers.values():
        w.set_no_show_all(True)

    def update(*_):
        kind = config.get_property("style-from")
        for k, w in pickers.items():
            w.set_visible(k == kind)
        pic = style_thumbnail(config, kind)
        thumb.set_from_pixbuf(pic)     # its place kept when empty: the dialog keeps its size
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
        info = estimate(arguments.options_from_config(config, max(box), "size" if detail == "size" else "full"))
        if info is None:
            known["daemon"] = False     # no daemon: do not wait for one at every change
        note.set_text(texts.detail_text(detail, info, box))
    update()
    return [config.connect("notify::" + n, update) for n in ("detail", "size", "quality", "steps")]
