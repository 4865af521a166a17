"""What the user asked for, read from the procedure's arguments and the image: the wire request for
the daemon (``link.Submission``) and the facts the result layer needs (``ResultPlan``).

The daemon needs pixels and options (docs/protocol.md, ``submit``): the layer, one or more styles,
regions (a content mask, which style goes there, which part of that style, inverted or not) and
``TransferOptions`` fields. The plug-in alone needs the rest: the new layer's name, and where its
mask comes from. Choices that cannot work raise ``UserError`` with a sentence saying what to do.
"""
import os
from dataclasses import dataclass
from typing import Optional

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402
from gi.repository import GLib  # noqa: E402

import gimp_io  # noqa: E402
import arguments  # noqa: E402
from link import Submission, UserError  # noqa: E402
from texts import size_note  # noqa: E402


@dataclass
class ResultPlan:
    """What the plug-in shows: the result layer's name and mask, the live preview's mask."""
    style: str                            # the style's name ("starry_night + brick" with scale mixing)
    settings: str                         # "full, standard, style weight 3"
    mask_from: Optional[str] = None       # the result's mask: "selection", "channel" or None
    region_from: Optional[str] = None     # where the style went: "selection", "channel" or None (everywhere)
    region_mask: object = None            # MaskData of the region channel over ``box``, when mask_from == "channel"
    box: tuple = (0, 0, 0, 0)             # what is computed: x, y, w, h in the source layer's coordinates
    size_note: str = ""                   # "working at 512 px, scaled up to 1920 px" (texts.size_note)

    size: int = 0                         # the working size sent (0 = the computed part's own)

    @property
    def name(self):
        """ "Neural style: <style> (<settings>, <size> px)" """
        settings = self.settings + (", %d px" % self.size if self.size else "")
        return "Neural style: %s (%s)" % (self.style, settings)

    def layer_name(self, stopped):
        return self.name + (" [stopped]" if stopped else "")


def use_options(submission, plan, options):
    """Send ``options`` (``arguments.options_from_config`` for the Detail the artist chose, resolved
    after the dialog) instead of the ones read."""
    keep = {k: v for k, v in submission.options.items() if k not in options and k != "steps"}
    submission.options = dict(keep, **options)
    plan.size = options["size"]
    plan.size_note = size_note(plan.size, submission.content.width, submission.content.height)


# ---- the source layer -------------------------------------------------------------------------

def the_one_layer(drawables, image=None):
    """(layer, None), or (None, why not) when the procedure was not given one normal layer.

    What GIMP passes after a run is seldom the photo: Filters > Repeat and Re-Show pass what is
    active, often the last result's mask, or the result itself. So a layer mask means the layer
    that owns it, a result of ours means the layer it was made from (its parasite), and another
    channel means the last run's source (the image's parasite), when that layer is still there."""
    if len(drawables) != 1:
        return None, "Neural Style Transfer works on one layer: select exactly one layer."
    source = drawables[0]
    if isinstance(source, Gimp.LayerMask):
        source = Gimp.Layer.from_mask(source)
    elif not isinstance(source, Gimp.Layer) and image is not None:
        source = gimp_io.remembered_source(image) or source
    if isinstance(source, Gimp.Layer) and image is not None:
        source = gimp_io.remembered_source(image, source) or source
    if not isinstance(source, Gimp.Layer):
        return None, "Neural Style Transfer works on a layer: select a layer, not a mask or channel."
    if source.is_group():
        return None, ("'%s' is a layer group, which has no pixels of its own: select a normal layer "
                      "(or merge the group first)." % source.get_name())
    return source, None


# ---- what is computed -------------------------------------------------------------------------

MARGIN_SHARE = 0.10       # context around the selection's box: 10 % of its size...
MARGIN_MIN = 32           # ...and at least this many pixels (feathering, and the network's receptive field)


def mask_box(mask):
    """The bounding box (x, y, w, h) of a MaskData's non-zero pixels; None when it has none."""
    w = mask.width
    rows = [y for y in range(mask.height) if mask.data[y * w:(y + 1) * w].strip(b"\0")]
    if not rows:
        return None
    x0, x1 = w, 0
    for y in rows:
        row = mask.data[y * w:(y + 1) * w]
        x0 = min(x0, w - len(row.lstrip(b"\0")))
        x1 = max(x1, len(row.rstrip(b"\0")))
    return x0, rows[0], x1 - x0, rows[-1] + 1 - rows[0]


def compute_box(mask, width, height):
    """What the daemon computes, in the layer's coordinates: the region's bounding box plus a margin
    (``MARGIN_SHARE`` of the box, at least ``MARGIN_MIN`` px), clipped to the layer; the whole layer
    without a region."""
    box = mask_box(mask) if mask is not None else None
    if box is None:
        return 0, 0, width, height
    x, y, w, h = box
    mx, my = max(MARGIN_MIN, int(w * MARGIN_SHARE)), max(MARGIN_MIN, int(h * MARGIN_SHARE))
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(width, x + w + mx), min(height, y + h + my)
    return x0, y0, x1 - x0, y1 - y0


def crop_mask(client, mask, box):
    x, y, w, h = box
    if (x, y, w, h) == (0, 0, mask.width, mask.height):
        return mask
    rows = (mask.data[(y + j) * mask.width + x:(y + j) * mask.width + x + w] for j in range(h))
    return client.MaskData(w, h, b"".join(rows))


def crop_image(client, pic, box):
    """The rectangle ``box`` (x, y, w, h) of an RGBA ImageData."""
    x, y, w, h = box
    if (x, y, w, h) == (0, 0, pic.width, pic.height):
        return pic
    row = pic.width * 4
    return client.ImageData(w, h, b"".join(pic.data[(y + j) * row + x * 4:(y + j) * row + (x + w) * 4]
                                           for j in range(h)))


def crop_submission(client, submission, box):
    """The same request for the rectangle ``box`` of its content: content, region masks and init
    cropped alike (the dialog's 1:1 preview)."""
    from dataclasses import replace
    regions = [dict(r, content_mask=crop_mask(client, r["content_mask"], box)) for r in submission.regions]
    init = crop_image(client, submission.init, box) if submission.init is not None else None
    return replace(submission, content=crop_image(client, submission.content, box), regions=regions, init=init)


# ---- styles -----------------------------------------------------------------------------------

def file_stem(gfile):
    """The style's name for the result layer: a gallery painting's title, else the file's name.
    (``shared`` is importable once ``link.import_client`` has run, as it has before any read.)"""
    from shared import gallery
    painting = gallery.of_path(gfile.get_path()) if gfile.get_path() else None
    if painting is not None:
        return painting.title
    name = gfile.get_basename() or "style"
    return os.path.splitext(name)[0]


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


def style_file_image(client, gfile):
    path = gfile.get_path() or gfile.get_uri()
    try:
        pic = gimp_io.file_image(client, gfile)
    except GLib.Error as e:
        raise UserError("GIMP cannot open the style file %s: %s" % (path, e.message))
    if pic is None:
        raise UserError("GIMP cannot open the style file %s." % path)
    return pic


def pick_style(client, config, layer_arg, file_arg, prefer=None):
    """(ImageData, name, layer) for a style given as a layer of any open image or a file; None when
    neither is set. A layer wins over a file when both are set, unless ``prefer`` is "file" (the
    dialog's one Style choice says which of the two the artist meant)."""
    layer = config.get_property(layer_arg) if prefer != "file" else None
    gfile = config.get_property(file_arg) if prefer != "layer" else None
    if gimp_io.item_ok(layer):
        if layer.is_group():
            raise UserError("The style layer '%s' is a layer group: pick a normal layer." % layer.get_name())
        return gimp_io.layer_image(client, layer), style_layer_name(layer), layer
    if gfile is not None and (gfile.get_path() or gfile.get_uri()):
        return style_file_image(client, gfile), file_stem(gfile), None
    return None


def style_mask(client, config, style, style_layer):
    """Which part of the style image to use: the style-mask channel over the style, or None."""
    chan = config.get_property("style-mask-channel")
    if not gimp_io.item_ok(chan):
        return None
    if style_layer is not None and chan.get_image() == style_layer.get_image():
        _, sx, sy = style_layer.get_offsets()
        return gimp_io.channel_mask(client, chan, sx, sy, style.width, style.height)
    if (chan.get_width(), chan.get_height()) == (style.width, style.height):
        return gimp_io.channel_mask(client, chan, 0, 0, style.width, style.height)
    raise UserError(
        "The style mask channel '%s' is %dx%d but the style image is %dx%d: use a channel of "
        "the style layer's image, or one of the same size as the style file."
        % (chan.get_name(), chan.get_width(), chan.get_height(), style.width, style.height))


def more_regions(client, image, config):
    """The "regions" argument read: [(channel name, channel, style ImageData, style's name)]."""
    from gi.repository import Gio
    from shared import gallery
    try:
        pairs = arguments.parse_regions(config.get_property("regions"))
    except ValueError as e:
        raise UserError(str(e))
    out = []
    for name, spec in pairs:
        chan = image.get_channel_by_name(name)
        if not gimp_io.item_ok(chan):
            raise UserError("The region '%s' (More regions) is not a channel of this image: save the selection "
                            "as a channel of that name, or remove the region." % name)
        if gallery.is_gallery(spec):
            try:
                spec = str(gallery.find(spec).path)
            except KeyError as e:
                raise UserError(e.args[0])
        gfile = Gio.File.new_for_path(spec)
        if not gfile.query_exists(None):
            raise UserError("The style file %s of the region '%s' is gone: choose another." % (spec, name))
        out.append((name, chan, style_file_image(client, gfile), file_stem(gfile)))
    return out


# ---- where the style goes ---------------------------------------------------------------------

def region(client, image, source, config):
    """(MaskData over the layer, "channel" | "selection"): a saved channel, else the selection;
    (None, None) = everywhere."""
    w, h = source.get_width(), source.get_height()
    _, ox, oy = source.get_offsets()
    chan = config.get_property("region-channel")
    if gimp_io.item_ok(chan):
        if chan.get_image() != image:
            raise UserError("The region channel '%s' belongs to another image: pick a channel of this image."
                            % chan.get_name())
        mask, origin = gimp_io.channel_mask(client, chan, ox, oy, w, h), "channel"
    elif not Gimp.Selection.is_empty(image):
        mask, origin = gimp_io.channel_mask(client, image.get_selection(), ox, oy, w, h), "selection"
    else:
        return None, None
    if not any(mask.data):
        raise UserError("The %s does not cover any pixel of the layer '%s': select part of the layer, "
                        "or select nothing to style all of it." % (
                            "selection" if origin == "selection" else "region channel", source.get_name()))
    return mask, origin


# ---- the whole request ------------------------------------------------------------------------

def settings_label(config):
    """The settings part of the result layer's name: "full, standard, style weight 3"."""
    bits = [config.get_property("color"), config.get_property("quality")]
    sw = float(config.get_property("style-weight"))
    if sw != 1.0:
        bits.append("style weight %g" % sw)
    return ", ".join(bits)


def dialog_box(image, source):
    """Width and height of what will be computed, for the dialog's estimate: the selection's bounds
    on the layer plus the margin (``compute_box`` reads the exact region when the run starts)."""
    w, h = source.get_width(), source.get_height()
    _ok, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    if not non_empty:
        return w, h
    _, ox, oy = source.get_offsets()
    x0, y0 = max(0, x1 - ox), max(0, y1 - oy)
    x1, y1 = min(w, x2 - ox), min(h, y2 - oy)
    if x1 <= x0 or y1 <= y0:
        return w, h
    bw, bh = x1 - x0, y1 - y0
    mx, my = max(MARGIN_MIN, int(bw * MARGIN_SHARE)), max(MARGIN_MIN, int(bh * MARGIN_SHARE))
    return min(w, bw + 2 * mx), min(h, bh + 2 * my)


def read(client, image, source, config, style_from=None, box=None):
    """Read the styles, the region and the part of the layer to compute: (Submission, ResultPlan).
    Only the region's bounding box plus a margin is sent (all of the layer with no region, or with an
    outside style, which paints the rest of the layer too); Size is the long edge of that part.
    ``box`` (x, y, w, h inside the layer): compute exactly that part instead (a continued result's)."""
    main = pick_style(client, config, "style-layer", "style-file", style_from)
    if main is None:
        raise UserError("Choose a style: a style layer (from any open image) or a style file.")
    style, style_name, style_layer = main
    styles = [style]
    part_of_style = style_mask(client, config, style, style_layer)
    region_mask, region_from = region(client, image, source, config)
    outside = pick_style(client, config, "outside-style-layer", "outside-style-file")
    extras = more_regions(client, image, config)

    lw, lh = source.get_width(), source.get_height()
    if box is None:
        box = compute_box(region_mask if outside is None and not extras else None, lw, lh)
    content = client.ImageData(box[2], box[3], gimp_io.read_rect(source, *box, gimp_io.RGBA))
    if region_mask is not None:
        region_mask = crop_mask(client, region_mask, box)

    regions = []
    if region_mask is not None:
        regions.append({"content_mask": region_mask, "style": 0, "style_mask": part_of_style, "invert": False})
        if outside is not None:
            styles.append(outside[0])
            regions.append({"content_mask": region_mask, "style": len(styles) - 1,
                            "style_mask": None, "invert": True})
    elif part_of_style is not None or extras:
        w, h = content.width, content.height
        everywhere = client.MaskData(w, h, b"\xff" * (w * h))
        regions.append({"content_mask": everywhere, "style": 0, "style_mask": part_of_style, "invert": False})
    _, ox, oy = source.get_offsets()
    for name, chan, pic, title in extras:     # each over the regions before it (the daemon takes it out of them)
        styles.append(pic)
        mask = gimp_io.channel_mask(client, chan, ox + box[0], oy + box[1], box[2], box[3])
        regions.append({"content_mask": mask, "style": len(styles) - 1, "style_mask": None, "invert": False,
                        "over": True})

    options = arguments.options_from_config(config, max(content.width, content.height))
    fine = pick_style(client, config, "scale-fine-layer", "scale-fine-file")
    if fine is not None:
        styles.append(fine[0])
        options["scale_mix"] = [0, len(styles) - 1]
        style_name = "%s + %s" % (style_name, fine[1])

    masked = bool(config.get_property("mask-to-selection"))
    styled_outside = (outside is not None and region_mask is not None) or bool(extras)
    if outside is not None and region_mask is not None:    # the name lists every style the layer has
        style_name = "%s, outside: %s" % (style_name, outside[1])
    for name, _chan, _pic, title in extras:
        style_name = "%s, %s: %s" % (style_name, name, title)
    submission = Submission(content=content, styles=styles, regions=regions, options=options,
                            preview=bool(config.get_property("preview")))
    plan = ResultPlan(style=style_name, settings=settings_label(config), size=options["size"],
                      mask_from=region_from if masked and not styled_outside else None,
                      region_mask=region_mask, region_from=region_from, box=box,
                      size_note=size_note(options["size"], content.width, content.height))
    return submission, plan


def read_continue(client, image, source, config, style_from, result):
    """Like ``read``, for more steps from a result layer's own pixels: the content is the box the
    result covers (the box it was made for), the daemon starts from the result's pixels there (its
    ``init`` frame, the content's size; the daemon's plan then skips the coarse levels, as the result
    already has the structure). The region is the selection or region channel as for any run, else the result's
    own layer mask."""
    x, y, w, h = gimp_io.result_box(result, source)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(source.get_width(), x + w), min(source.get_height(), y + h)
    if x1 <= x0 or y1 <= y0:
        raise UserError("The result layer '%s' no longer lies over its source layer '%s': move it back, or "
                        "choose to start from the photo." % (result.get_name(), source.get_name()))
    box = x0, y0, x1 - x0, y1 - y0
    submission, plan = read(client, image, source, config, style_from, box=box)
    submission.init = gimp_io.result_pixels(client, result, source, box)
    if plan.region_mask is None and result.get_mask() is not None and not submission.regions:
        mask = gimp_io.result_mask(client, result)
        submission.regions.append({"content_mask": mask, "style": 0, "style_mask": None, "invert": False})
        plan.region_mask = mask
        plan.mask_from = "channel" if config.get_property("mask-to-selection") else None
    plan.settings += ", continued"
    return submission, plan
