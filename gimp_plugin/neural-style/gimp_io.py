"""GIMP pixel I/O for the neural style plug-in: layers, files and channels in, layers out.

Everything is read and written in one wire format, "R'G'B'A u8" (perceptual sRGB, what networks
trained on ordinary images expect), masks as "Y u8"; babl converts from and to any layer type and
precision (docs: shared/reference/gimp3.md, "Pixels"). Buffers are in layer-local coordinates.
GEGL is imported on first use, never when GIMP queries the plug-in at start-up.
"""
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
    """The visible pixels of an image file (any format GIMP opens) as ImageData, or None when GIMP
    opens nothing. GIMP's own error (GLib.Error) passes through."""
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile)
    if img is None:
        return None
    try:
        return layer_image(client, img.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE))
    finally:
        img.delete()


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


def layer_above(image, source, name, pic):
    """A new layer holding ``pic`` right above ``source``, scaled to its size, at its offsets."""
    layer = Gimp.Layer.new(image, name, pic.width, pic.height, new_layer_type(image), 100.0,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
    write_rect(layer, pic.width, pic.height, RGBA, pic.data)
    if (pic.width, pic.height) != (source.get_width(), source.get_height()):
        layer.scale(source.get_width(), source.get_height(), False)
    _, ox, oy = source.get_offsets()
    layer.set_offsets(ox, oy)
    return layer


def add_result_layer(image, source, pic, name, mask_from, region_mask):
    """The result right above the source, masked to the region: ``mask_from`` "selection" (GIMP's
    own selection mask, feathering kept), "channel" (``region_mask``'s pixels) or None. Call it
    inside the run's undo group (with a pushed context: scaling uses cubic interpolation)."""
    Gimp.context_set_interpolation(Gimp.InterpolationType.CUBIC)
    layer = layer_above(image, source, name, pic)
    if mask_from == "selection":
        layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
    elif mask_from == "channel":
        mask = layer.create_mask(Gimp.AddMaskType.WHITE)
        layer.add_mask(mask)
        write_rect(mask, source.get_width(), source.get_height(), GRAY, region_mask.data)
    image.set_selected_layers([layer])
    return layer


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
        if not self.frozen:
            self.image.undo_freeze()
            self.frozen = True
        self.remove_layer()
        self.layer = layer_above(self.image, self.source, PREVIEW_NAME, pic)
        if self.mask and not Gimp.Selection.is_empty(self.image):
            self.layer.add_mask(self.layer.create_mask(Gimp.AddMaskType.SELECTION))
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
