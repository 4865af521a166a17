"""GIMP pixel I/O for the neural style plug-in: layers, files and channels in, layers out.

Everything is read and written in one wire format, "R'G'B'A u8" (perceptual sRGB, what networks
trained on ordinary images expect), masks as "Y u8"; babl converts from and to any layer type and
precision (docs/gimp.md, for developers). Buffers are in layer-local coordinates.
GEGL is imported on first use, never when GIMP queries the plug-in at start-up.
"""
import json

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

RGBA = "R'G'B'A u8"
GRAY = "Y u8"
PREVIEW_NAME = "Neural style preview"


def _gegl():
    gi.require_version("Gegl", "0.4")
    from gi.repository import Gegl
    return Gegl


# ---- reading ----------------------------------------------------------------------------------

def read_rect(drawable, x, y, w, h, fmt):
    """Bytes of a rectangle of a drawable in its own coordinates (outside it reads as 0)."""
    Gegl = _gegl()
    buf = drawable.get_buffer()
    return bytes(buf.get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def layer_image(client, layer):
    """A layer's own pixels as ImageData."""
    w, h = layer.get_width(), layer.get_height()
    return client.ImageData(w, h, read_rect(layer, 0, 0, w, h, RGBA))


def file_image(client, gfile):
    """The visible pixels of an image file as ImageData, or None when GIMP opens nothing. Read in
    this process by GdkPixbuf where it can (JPEG, PNG, WebP...: no file plug-in started, whose pipe
    file-jpeg reported broken when the image was let go at once), else opened by GIMP (XCF, PSD...,
    any format GIMP opens; its GLib.Error passes through)."""
    pic = pixbuf_image(client, gfile.get_path()) if gfile.get_path() else None
    if pic is not None:
        return pic
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    if img is None:
        return None
    try:
        return layer_image(client, img.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE))
    finally:
        img.delete()


def pixbuf_image(client, path):
    """An image file read by GdkPixbuf (turned as its Exif orientation says) as ImageData; None when
    GdkPixbuf cannot read it."""
    try:
        gi.require_version("GdkPixbuf", "2.0")
        from gi.repository import GdkPixbuf
        pb = GdkPixbuf.Pixbuf.new_from_file(path)
    except Exception:  # noqa: BLE001 - not a format GdkPixbuf reads: GIMP opens it instead
        return None
    pb = pb.apply_embedded_orientation() or pb
    if not pb.get_has_alpha():
        pb = pb.add_alpha(False, 0, 0, 0)
    w, h, stride = pb.get_width(), pb.get_height(), pb.get_rowstride()
    data = pb.get_pixels()
    rows = data[:w * h * 4] if stride == w * 4 else b"".join(data[y * stride:y * stride + w * 4] for y in range(h))
    return client.ImageData(w, h, bytes(rows))


def channel_mask(client, channel, x, y, w, h):
    """A channel (selection, saved selection, layer-mask-like channel) over a rectangle as MaskData."""
    return client.MaskData(w, h, read_rect(channel, x, y, w, h, GRAY))


def item_ok(item):
    return item is not None and item.is_valid()


# ---- writing ----------------------------------------------------------------------------------

def write_rect(drawable, w, h, fmt, data):
    Gegl = _gegl()
    buf = drawable.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, w, h), fmt, data)
    buf.flush()              # required before any other call on the drawable
    drawable.update(0, 0, w, h)


def new_layer_type(image):
    if image.get_base_type() == Gimp.ImageBaseType.GRAY:
        return Gimp.ImageType.GRAYA_IMAGE
    return Gimp.ImageType.RGBA_IMAGE


# ---- which layer the artist means, and where results go -----------------------------------------

SOURCE_PARASITE = "neural-style-source"      # on a result layer: the id of the layer it was made from
LAST_SOURCE_PARASITE = "neural-style-last-source"   # on the image: the source of the last run


def remember_source(item, source, persistent=True):
    """Attach the source layer's id to ``item`` (a result layer, or the image), inside the undo group."""
    flags = Gimp.PARASITE_UNDOABLE | (Gimp.PARASITE_PERSISTENT if persistent else 0)
    item.attach_parasite(Gimp.Parasite.new(
        SOURCE_PARASITE if isinstance(item, Gimp.Item) else LAST_SOURCE_PARASITE, flags,
        str(source.get_id()).encode("ascii")))


def remembered_source(image, item=None):
    """The source layer named by ``item``'s parasite (a result layer of ours), or by the image's
    (the last run's) when ``item`` is None; None when there is none, or it is gone or elsewhere."""
    holder, name = (item, SOURCE_PARASITE) if item is not None else (image, LAST_SOURCE_PARASITE)
    try:
        parasite = holder.get_parasite(name)
        if parasite is None:
            return None
        layer = Gimp.Item.get_by_id(int(bytes(parasite.get_data()).decode("ascii")))
    except (ValueError, TypeError, AttributeError):
        return None
    if isinstance(layer, Gimp.Layer) and layer.is_valid() and layer.get_image() == image:
        return layer
    # ids are per session: in an .xcf opened again, the source's tattoo (kept in the file) finds it
    tattoo = ((remembered_settings(item) or {}).get("source") or {}).get("tattoo") if item is not None else None
    layer = image.get_layer_by_tattoo(tattoo) if isinstance(tattoo, int) else None
    if isinstance(layer, Gimp.Layer) and layer.is_valid() and layer != item:
        return layer
    return None


def is_result(layer):
    return layer.get_parasite(SOURCE_PARASITE) is not None


def result_position(image, source):
    """Where a new result goes: above the topmost earlier result of ours beside the source (same
    parent), else right above the source; a new result is on top of what the artist sees."""
    parent = source.get_parent()
    siblings = parent.get_children() if parent is not None else image.get_layers()
    ours = [image.get_item_position(l) for l in siblings if is_result(l)]
    return min(ours) if ours else image.get_item_position(source)


def new_layer(image, source, name, box, visible=True):
    """An empty layer over ``box`` (x, y, w, h in the source's coordinates), in place for a result."""
    x, y, w, h = box
    layer = Gimp.Layer.new(image, name, w, h, new_layer_type(image), 100.0, Gimp.LayerMode.NORMAL)
    layer.set_visible(visible)
    image.insert_layer(layer, source.get_parent(), result_position(image, source))
    _, ox, oy = source.get_offsets()
    layer.set_offsets(ox + x, oy + y)
    return layer


def add_result_layer(image, source, pic, name, box, mask_from, region_mask):
    """The result over ``box`` (the computed part of the source), above earlier results, masked to
    the region: ``mask_from`` "selection" (GIMP's own selection mask, feathering kept), "channel"
    (``region_mask``'s pixels, over the box) or None. Call it inside the run's undo group (with a
    pushed context: scaling uses cubic interpolation). The layer remembers its source (parasite)."""
    Gimp.context_set_interpolation(Gimp.InterpolationType.CUBIC)
    x, y, w, h = box
    layer = new_layer(image, source, name, (x, y, pic.width, pic.height))
    write_rect(layer, pic.width, pic.height, RGBA, pic.data)
    if (pic.width, pic.height) != (w, h):
        layer.scale(w, h, False)
        _, ox, oy = source.get_offsets()
        layer.set_offsets(ox + x, oy + y)
    remember_source(layer, source)
    if mask_from == "selection":
        layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
    elif mask_from == "channel":
        mask = layer.create_mask(Gimp.AddMaskType.WHITE)
        layer.add_mask(mask)
        write_rect(mask, w, h, GRAY, region_mask.data)
    image.set_selected_layers([layer])
    return layer


# ---- results remember their settings ------------------------------------------------------------

SETTINGS_PARASITE = "neural-style-settings"  # on a result layer: its settings as JSON (remember.settings_record)


def remember_settings(layer, record):
    """Attach the run's settings (a small dict) to its result layer: persistent (saved in .xcf) and
    undoable, inside the run's undo group."""
    data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")
    layer.attach_parasite(Gimp.Parasite.new(SETTINGS_PARASITE,
                                            Gimp.PARASITE_PERSISTENT | Gimp.PARASITE_UNDOABLE, data))


def remembered_settings(layer):
    """The settings a result layer carries (a dict), or None (not a result, or an unreadable one)."""
    try:
        parasite = layer.get_parasite(SETTINGS_PARASITE)
        if parasite is None:
            return None
        record = json.loads(bytes(parasite.get_data()).decode("utf-8"))
    except (ValueError, TypeError, AttributeError):
        return None
    return record if isinstance(record, dict) else None


def active_result(drawables):
    """The result layer of ours that is active (itself, or its layer mask), or None."""
    if len(drawables) != 1:
        return None
    item = drawables[0]
    if isinstance(item, Gimp.LayerMask):
        item = Gimp.Layer.from_mask(item)
    if isinstance(item, Gimp.Layer) and item.is_valid() and remembered_settings(item) is not None:
        return item
    return None


def result_box(result, source):
    """The part of ``source`` a result layer covers (x, y, w, h in the source's coordinates): the box
    its content was read from when it was made (results are placed and sized exactly over it)."""
    _, sx, sy = source.get_offsets()
    _, rx, ry = result.get_offsets()
    return rx - sx, ry - sy, result.get_width(), result.get_height()


def result_pixels(client, result, source, box):
    """The result's pixels over ``box`` (in the source's coordinates), the content's size: what a
    continued run starts from (the protocol's ``init`` frame)."""
    _, sx, sy = source.get_offsets()
    _, rx, ry = result.get_offsets()
    x, y, w, h = box
    return client.ImageData(w, h, read_rect(result, sx + x - rx, sy + y - ry, w, h, RGBA))


def result_mask(client, result):
    """A result layer's own layer mask as MaskData over the layer, or None."""
    mask = result.get_mask()
    if mask is None:
        return None
    return channel_mask(client, mask, 0, 0, result.get_width(), result.get_height())


def replace_result_layer(image, old, source, pic, name, box):
    """Put ``pic`` in place of the result layer ``old``: a new layer at its place in the stack, over
    ``box`` (the part of ``source`` computed: the old layer's own box), with its opacity, mode,
    visibility, a copy of its mask and its source parasite, then ``old`` removed. Inside the run's
    undo group one Ctrl+Z brings the old layer back. Returns the new layer."""
    Gimp.context_set_interpolation(Gimp.InterpolationType.CUBIC)
    x, y, w, h = box
    _, sx, sy = source.get_offsets()
    _, ox, oy = old.get_offsets()
    layer = Gimp.Layer.new(image, name, pic.width, pic.height, new_layer_type(image), old.get_opacity(),
                           old.get_mode())
    image.insert_layer(layer, old.get_parent(), image.get_item_position(old))
    write_rect(layer, pic.width, pic.height, RGBA, pic.data)
    if (pic.width, pic.height) != (w, h):
        layer.scale(w, h, False)
    layer.set_offsets(sx + x, sy + y)
    layer.set_visible(old.get_visible())
    remember_source(layer, source)
    mask = old.get_mask()
    if mask is not None:
        new_mask = layer.create_mask(Gimp.AddMaskType.WHITE)
        layer.add_mask(new_mask)
        write_rect(new_mask, w, h, GRAY, read_rect(mask, sx + x - ox, sy + y - oy, w, h, GRAY))
    image.remove_layer(old)
    image.set_selected_layers([layer])
    return layer


def scale_into(drawable, pic):
    """Write ``pic`` into the whole of ``drawable``, scaled to its size by GEGL (no PDB call: GIMP's
    status bar keeps the plug-in's progress text, and no layer is created)."""
    Gegl = _gegl()
    dst = drawable.get_buffer()
    w, h = drawable.get_width(), drawable.get_height()
    if (pic.width, pic.height) == (w, h):
        dst.set(Gegl.Rectangle.new(0, 0, w, h), RGBA, pic.data)
    else:
        Gegl.init(None)          # the operations below need GEGL's own set-up in this process
        src = Gegl.Buffer.new(RGBA, 0, 0, pic.width, pic.height)
        src.set(Gegl.Rectangle.new(0, 0, pic.width, pic.height), RGBA, pic.data)
        graph = Gegl.Node()
        read = graph.create_child("gegl:buffer-source")
        read.set_property("buffer", src)
        scale = graph.create_child("gegl:scale-size")
        scale.set_property("x", float(w))
        scale.set_property("y", float(h))
        scale.set_property("sampler", Gegl.SamplerType.CUBIC)     # smooth: a small preview, not blocks
        try:
            scale.set_property("abyss-policy", Gegl.AbyssPolicy.CLAMP)   # no soft edges from the abyss
        except (TypeError, AttributeError):   # an older GEGL: a one-pixel soft edge at worst
            pass
        write = graph.create_child("gegl:write-buffer")
        write.set_property("buffer", dst)
        read.link(scale)
        scale.link(write)
        write.process()
    dst.flush()
    drawable.update(0, 0, w, h)


class PreviewLayer:
    """A temporary layer on the canvas showing the daemon's previews, created once at the result's
    place and size and shown only once it holds a preview; undo is frozen while it exists so it never
    appears in the undo history."""

    def __init__(self, image, source, box):
        self.image = image
        self.source = source
        self.box = box
        self.layer = None
        self.frozen = False

    def show(self, pic):
        if self.layer is None or not self.layer.is_valid():
            if not self.frozen:
                self.image.undo_freeze()
                self.frozen = True
            self.layer = new_layer(self.image, self.source, PREVIEW_NAME, self.box, visible=False)
            if not Gimp.Selection.is_empty(self.image):     # the style shows where it goes: the selection
                self.layer.add_mask(self.layer.create_mask(Gimp.AddMaskType.SELECTION))
            self.image.set_selected_layers([self.source])   # no boundary of the preview layer drawn over it
        scale_into(self.layer, pic)
        self.layer.set_visible(True)
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
