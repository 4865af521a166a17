"""Results that remember: the settings record a result layer carries, and restoring it.

Every result layer carries a persistent parasite (``gimp_io.SETTINGS_PARASITE``) holding
``settings_record``: the styles (a file's path, or a layer's name and image), every argument and
dialog choice by name, the source layer and the box of it the result covers, what the daemon did,
and the plug-in's version, as small readable JSON that an .xcf keeps. Opening the filter on a result
restores it (``restore_settings``) and names what could not be (a style file gone, a layer closed);
a script's continue run reads it as the procedure's values (``RecordedValues``).
"""
import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

import gimp_io  # noqa: E402
from arguments import DEFAULTS, PLAIN, STYLES  # noqa: E402

PLUGIN_VERSION = "0.1.0"                  # the project's version (daemon/__init__.py's __version__)

def image_ref(img):
    """How a record names an open image: its file's path (found again in a later session), else its
    id (this session only)."""
    gfile = img.get_file() or img.get_imported_file() or img.get_exported_file()
    if gfile is not None and (gfile.get_path() or gfile.get_uri()):
        return {"image": gfile.get_path() or gfile.get_uri()}
    return {"image_id": img.get_id()}


def find_image(ref):
    for img in Gimp.get_images():
        if "image_id" in ref and img.get_id() == ref["image_id"]:
            return img
        if "image" in ref and image_ref(img).get("image") == ref["image"]:
            return img
    return None


def style_ref(config, layer_arg, file_arg, prefer=None):
    """A style as the record names it: {"file": path} or {"layer": name, "image": ...}; None when unset
    (the same choice as ``pick_style``)."""
    layer = config.get_property(layer_arg) if prefer != "file" else None
    gfile = config.get_property(file_arg) if prefer != "layer" else None
    if gimp_io.item_ok(layer):
        return dict(layer=layer.get_name(), **image_ref(layer.get_image()))
    if gfile is not None and (gfile.get_path() or gfile.get_uri()):
        return {"file": gfile.get_path() or gfile.get_uri()}
    return None


def settings_record(config, source, plan, style_from, detail, report, stopped, continued=None):
    """What a result layer remembers (gimp_io.SETTINGS_PARASITE): the styles (file path, or layer name
    and image), every argument and dialog choice by name, its source layer (name and tattoo, which an
    .xcf keeps) and the box of it that it covers, what the daemon did (working size, steps run, where
    it started) and the plug-in's version. Small and readable."""
    record = {"plugin": PLUGIN_VERSION, "box": list(plan.box),
              "source": {"name": source.get_name(), "tattoo": source.get_tattoo()}}
    for key, layer_arg, file_arg in STYLES:
        ref = style_ref(config, layer_arg, file_arg, style_from if key == "style" else None)
        if ref is not None:
            record[key] = ref
    chan = config.get_property("style-mask-channel")
    if gimp_io.item_ok(chan):
        record["style_mask_channel"] = dict(channel=chan.get_name(), **image_ref(chan.get_image()))
    chan = config.get_property("region-channel")
    record["region"] = {"channel": chan.get_name()} if gimp_io.item_ok(chan) else (
        "selection" if plan.mask_from == "selection" or plan.region_from == "selection" else "everywhere")
    for key, prop in PLAIN:
        record[key] = config.get_property(prop) if prop != "detail" else detail
    record["style_weight"] = float(record["style_weight"])
    levels = report.get("levels") or [{}]
    h_w = levels[-1].get("size") or [0, 0]
    record["run"] = {"size": [int(h_w[1]), int(h_w[0])], "steps": int(report.get("steps_done") or 0),
                     "init": report.get("init") or "content", "device": report.get("device"),
                     "stopped": bool(stopped)}
    if continued is not None:
        record["run"]["continued_from"] = continued
    return record


def settings_values(record, image):
    """The procedure's property values a record restores ({property: value}), and the sentences for
    what it could not (a style file gone, a layer or channel no longer open)."""
    from gi.repository import Gio
    values, lost = {}, []
    for key, prop in PLAIN:
        if key in record:
            values[prop] = record[key]
    for key, layer_arg, file_arg in STYLES:
        ref = record.get(key)
        values[layer_arg], values[file_arg] = None, None
        if not isinstance(ref, dict):
            continue
        if "file" in ref:
            gfile = Gio.File.new_for_commandline_arg(ref["file"])
            if gfile.query_exists(None):
                values[file_arg] = gfile
            else:
                lost.append("the style file %s is gone" % ref["file"])
        else:
            img = find_image(ref)
            layer = img.get_layer_by_name(ref.get("layer", "")) if img is not None else None
            if gimp_io.item_ok(layer):
                values[layer_arg] = layer
            else:
                lost.append("the style layer '%s' is not open" % ref.get("layer"))
        if key == "style":
            values["style-from"] = "file" if "file" in ref else "layer"
    values["style-mask-channel"] = values["region-channel"] = None
    ref = record.get("style_mask_channel")
    if isinstance(ref, dict):
        img = find_image(ref)
        chan = img.get_channel_by_name(ref.get("channel", "")) if img is not None else None
        if gimp_io.item_ok(chan):
            values["style-mask-channel"] = chan
        else:
            lost.append("the style mask channel '%s' is not open" % ref.get("channel"))
    ref = record.get("region")
    if isinstance(ref, dict):
        chan = image.get_channel_by_name(ref.get("channel", ""))
        if gimp_io.item_ok(chan):
            values["region-channel"] = chan
        else:
            lost.append("the region channel '%s' is gone" % ref.get("channel"))
    return values, lost


def restore_settings(config, record, image):
    """Set ``config`` from a result's record (the dialog then starts from that result's settings);
    returns what could not be restored, as sentences."""
    values, lost = settings_values(record, image)
    for prop, value in values.items():
        try:
            config.set_property(prop, value)
        except (TypeError, ValueError) as e:        # a value this version no longer takes
            lost.append("%s (%s)" % (prop, e))
    return lost


class RecordedValues:
    """A result's record as the procedure's values (``get_property``), for a script's continue run:
    what the record does not say takes the procedure's default (``arguments.DEFAULTS``)."""

    def __init__(self, values):
        self.values = dict(values)

    def get_property(self, name):
        return self.values.get(name, DEFAULTS.get(name))


# ---- the dialog's own choices, kept however the run ends ---------------------------------------------

CHOICES_FILE = "neural-style-dialog.json"    # in GIMP's profile folder
KEPT_CHOICES = ("detail", "style-from")      # the dialog's own (aux) choices a new dialog starts from


def _read_profile_json(name):
    """A JSON file of the plug-in's in GIMP's profile folder; None when missing or unreadable."""
    import json
    import os
    try:
        with open(os.path.join(Gimp.directory(), name), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_profile_json(name, value):
    """Write ``value`` whole to a temporary file beside ``name`` and rename it into place: a crash
    never leaves half a file. A read-only profile keeps nothing (GIMP's own values still apply)."""
    import json
    import os
    target = os.path.join(Gimp.directory(), name)
    try:
        with open(target + ".part", "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(target + ".part", target)
    except OSError:
        pass


def save_choices(config):
    """The dialog's choices at OK, kept by the plug-in itself: GIMP keeps a procedure's last values
    only when its run succeeds, so a run cancelled from GIMP's progress bar forgot Detail."""
    _write_profile_json(CHOICES_FILE, {name: config.get_property(name) for name in KEPT_CHOICES})


def restore_choices(config):
    """Set the dialog's choices from ``save_choices``' file, where it has them."""
    kept = _read_profile_json(CHOICES_FILE)
    for name in KEPT_CHOICES:
        if isinstance(kept, dict) and isinstance(kept.get(name), str):
            try:
                config.set_property(name, kept[name])
            except (TypeError, ValueError):     # a choice this version no longer has
                pass


# ---- the styles used lately (the dialog's grid shows them after the gallery) --------------------------

RECENT_FILE = "neural-style-recent.json"     # in GIMP's profile folder: newest first, files and layers
RECENT_MAX = 5


def _recent():
    """The recent list as kept: file paths (strings) and layer refs ({"layer": name, "image": ...})."""
    items = _read_profile_json(RECENT_FILE)
    return [x for x in items if isinstance(x, (str, dict))] if isinstance(items, list) else []


def recent_styles():
    """The style files used lately, newest first, that still exist (paths)."""
    import os
    return [p for p in _recent() if isinstance(p, str) and os.path.isfile(p)][:RECENT_MAX]


def recent_layers():
    """The style layers used lately that are open now, newest first."""
    out = []
    for ref in _recent():
        if isinstance(ref, dict):
            img = find_image(ref)
            layer = img.get_layer_by_name(ref.get("layer", "")) if img is not None else None
            if gimp_io.item_ok(layer):
                out.append(layer)
    return out[:RECENT_MAX]


def add_recent_style(path=None, layer=None):
    """Put a style file's ``path`` or a style ``layer`` first among the recent styles (a gallery
    painting is always shown: not kept)."""
    from shared import gallery
    if layer is not None and gimp_io.item_ok(layer):
        item = dict(layer=layer.get_name(), **image_ref(layer.get_image()))
    elif path and gallery.of_path(path) is None:
        item = path
    else:
        return
    items = [item] + [x for x in _recent() if x != item]
    keep = [x for x in items if isinstance(x, str)][:RECENT_MAX] + [x for x in items if isinstance(x, dict)][:RECENT_MAX]
    _write_profile_json(RECENT_FILE, [x for x in items if x in keep])
