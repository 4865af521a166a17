"""The plug-in's arguments, declared once: ``ARGUMENTS`` is the one table, and everything else is read
from it (GIMP's ``plug-ins/python/foggify.py`` declares each argument once too).

Each row says an argument's GIMP type, name, label, help, default and range or choices; where the
dialog shows it (``tier``: "basics" up front or "advanced" under the expander, in ``place`` order;
None: never, it is set by the dialog itself); whether a result layer remembers it (``remember``: its
key in the record); which daemon option it maps to (``option``); whether a change of it reads pixels
from GIMP again (``reads_pixels``: the live preview re-reads only then); and, for the styles, which
style slot it fills (``style``: one layer and one file argument per slot). From the table:
``declare`` (the procedure's arguments, in table order: the PDB signature), ``tier`` (the dialog's
lists), ``READ_INPUTS``, ``PLAIN`` and ``STYLES`` (the remembered record), ``DEFAULTS``, and
``options_from_config`` (the daemon options a config says, used by the run, the estimate line and
the live preview alike).

Standard library only at import time: GIMP's types are passed to ``declare``.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

AUTO_TARGET_S = 60.0     # "Auto": the best quality that takes about a minute at full size on this device


@dataclass(frozen=True)
class Argument:
    name: str                       # the procedure's property ("style-weight")
    kind: str                       # layer, file, channel, choice, int, double, boolean, string
    label: str                      # with its mnemonic ("Style strengt_h")
    help: str
    default: object = None
    choices: Tuple[Tuple[str, str, str], ...] = ()     # (nick, label, help) of a choice
    range: Tuple[float, float] = (0, 0)                # an int's or a double's
    aux: bool = False               # the dialog's own choice, outside the PDB signature
    tier: Optional[str] = None      # "basics", "advanced" or None (not a widget of the settings' lists)
    place: int = 0                  # its order within its tier
    remember: Optional[str] = None  # its key in a result's record (a plain value)
    option: Optional[str] = None    # the daemon option it maps to
    reads_pixels: bool = False      # a change reads pixels from GIMP again
    style: Optional[str] = None     # the style slot a layer or file argument fills


COLOR_CHOICES = (
    ("full", "Full colour", "The style's colours (Gatys et al. 2016)"),
    ("luminance", "Luminance only", "Only the style's luminance; the colours stay the layer's"),
    ("histogram", "Colour histogram", "The style recoloured to the layer's colour histogram first"),
)
QUALITY_CHOICES = (
    ("preview", "Preview (fast)", "Few steps at a small size: for trying things out"),
    ("standard", "Standard", "A good balance of time and quality"),
    ("high", "High", "More steps and a coarse-to-fine pyramid: slow"),
)
STYLE_FROM_CHOICES = (
    ("file", "An image file", "The style is an image file (Style file)"),
    ("layer", "A layer of an open image", "The style is a layer of any open image"),
)
DETAIL_CHOICES = (
    ("auto", "Auto: full size, about a minute",
     "The area's own pixels, in the best quality up to Quality that takes about a minute here "
     "(the time is shown when even the preview quality takes longer)"),
    ("full", "Full size, chosen quality", "The layer's (or the selection's) own pixels, in the Quality chosen"),
    ("size", "Custom size", "Size below: the long edge, in pixels, of what is computed, scaled up to the layer"),
)
MIX_CUT_CHOICES = (
    ("auto", "By size", "The authors' rule: relu2_1 at 512 px, relu4_1 at 1024 px"),
    ("relu1_1", "Finest (relu1_1)", "The fine style sets only the finest texture"),
    ("relu2_1", "Fine (relu2_1)", "The fine style sets small strokes"),
    ("relu3_1", "Medium (relu3_1)", "The fine style sets strokes of a few dozen pixels"),
    ("relu4_1", "Coarse (relu4_1)", "The fine style sets all but the largest structure"),
)
CONTINUE_CHOICES = (
    ("no", "No: style the photo anew", "Start from the layer the result was made from"),
    ("new-layer", "Continue from this layer: a new layer",
     "More steps from this result's own pixels, added as a new layer on top"),
    ("replace", "Continue from this layer: replace it",
     "More steps from this result's own pixels, put in its place (one undo step brings it back)"),
)

A = Argument
ARGUMENTS = (
    A("style-layer", "layer", "Style la_yer", "A layer of any open image to take the style from (or use a "
      "style file)", tier="basics", place=3, reads_pixels=True, style="style"),
    A("style-file", "file", "Style _file", "An image file to take the style from (used when no style layer "
      "is set)", tier="basics", place=2, reads_pixels=True, style="style"),
    A("style-mask-channel", "channel", "Style mas_k channel", "Which part of the style image to use (a "
      "channel of the style layer's image; none = all of it)", tier="advanced", place=5, reads_pixels=True),
    A("outside-style-layer", "layer", "Ou_tside style layer", "A second style for the area outside the "
      "selection (none = leave it as it is)", tier="advanced", place=3, reads_pixels=True,
      style="outside_style"),
    A("outside-style-file", "file", "Outside style f_ile", "A second style file for the area outside the "
      "selection", tier="advanced", place=4, reads_pixels=True, style="outside_style"),
    A("region-channel", "channel", "Region (a sa_ved selection)", "A saved selection (channel) to use "
      "instead of the current selection", tier="advanced", place=1, reads_pixels=True),
    A("scale-fine-layer", "layer", "Fi_ne-scale style layer", "Scale mixing: take the fine texture from this "
      "style and the coarse structure from the main style (none = no mixing)", tier="advanced", place=6,
      reads_pixels=True, style="scale_fine"),
    A("scale-fine-file", "file", "Fine-scale style fil_e", "Scale mixing: the fine-texture style as a file",
      tier="advanced", place=7, reads_pixels=True, style="scale_fine"),
    A("color", "choice", "Colo_ur", "Colour control: full, luminance or histogram", "full", COLOR_CHOICES,
      tier="basics", place=4, remember="color", option="color"),
    A("quality", "choice", "_Quality", "Preview (fast), standard or high", "standard", QUALITY_CHOICES,
      tier="basics", place=8, remember="quality", option="quality"),
    A("size", "int", "Si_ze (long edge in px, 0 = full)", "Long edge of the computed image in pixels: 0 = "
      "the own size of what is computed (the selection plus a margin, or the layer), full resolution; a "
      "smaller size is faster and its result is scaled up (blurred at 100 %)", 0, range=(0, 8192),
      tier="basics", place=6, remember="size", option="size"),
    A("style-weight", "double", "Style strengt_h (1 = the paper's)", "How strongly the style is imposed "
      "relative to the layer's content: 1 is the balance of the papers' figures, 0.1 keeps most of the "
      "photo, 10 paints it over", 1.0, range=(0.0, 1000.0), tier="basics", place=9, remember="style_weight",
      option="style_weight"),
    A("preview", "boolean", "Live _preview", "Show the image on the canvas while it is being computed", True,
      tier="basics", place=10, remember="preview"),
    A("mask-to-selection", "boolean", "_Mask the result to the selection", "Give the new layer a mask from "
      "the selection (feathering kept)", True, tier="advanced", place=2, remember="mask_to_selection"),
    A("steps", "int", "Steps (0 = from qu_ality)", "Optimisation steps at the working size (about 512 px; "
      "finishing levels above it keep the preset's) (0 = what the quality preset says)", 0, range=(0, 5000),
      tier="advanced", place=9, remember="steps", option="steps"),
    A("mix-cut", "choice", "Fine-scale style rea_ches", "Scale mixing: the deepest layer (the largest "
      "strokes) that the fine-scale style sets", "auto", MIX_CUT_CHOICES, tier="advanced", place=8,
      remember="mix_cut", option="mix_cut"),
    A("regions", "string", "More regions, each _with its own style", "More regions, each a saved selection "
      "(channel) of the image with its own style, laid over the main style's: a JSON list of {\"channel\": "
      "NAME, \"style\": FILE or \"gallery:NAME\"} (the dialog lists them in Advanced)", "[]", tier="advanced",
      place=10, remember="regions", reads_pixels=True),
    A("style-from", "choice", "Style _source", "Where the style comes from: a file or a layer of an open image "
      "(the dialog's one Style choice)", "file", STYLE_FROM_CHOICES, aux=True, tier="basics", place=1,
      reads_pixels=True),
    A("detail", "choice", "_Detail", "How much detail to compute (scripts use Size)", "auto", DETAIL_CHOICES,
      aux=True, tier="basics", place=5, remember="detail"),
    A("continue", "choice", "Continue from this _layer", "Opened on a result layer: style the photo anew, or "
      "more steps from the result's own pixels (scripts: plug-in-neural-style-continue)", "no",
      CONTINUE_CHOICES, aux=True, tier="basics", place=11),
)
del A

BY_NAME = {a.name: a for a in ARGUMENTS}
DEFAULTS = {a.name: a.default for a in ARGUMENTS if a.kind not in ("layer", "file", "channel")}
# what a change reads from GIMP again (the live preview re-reads pixels only then)
READ_INPUTS = tuple(a.name for a in ARGUMENTS if a.reads_pixels)
# the record's plain values: (key in the record, the procedure's property)
PLAIN = tuple((a.remember, a.name) for a in ARGUMENTS if a.remember)
# the style slots: (record key, layer argument, file argument)
STYLES = tuple((slot, next(a.name for a in ARGUMENTS if a.style == slot and a.kind == "layer"),
                next(a.name for a in ARGUMENTS if a.style == slot and a.kind == "file"))
               for slot in dict.fromkeys(a.style for a in ARGUMENTS if a.style))


def tier(name):
    """The dialog's list of one tier ("basics", "advanced"), in its order."""
    return [a.name for a in sorted((a for a in ARGUMENTS if a.tier == name), key=lambda a: a.place)]


def declare(procedure, flags, Gimp, keep=lambda choice: choice):
    """Add every argument of the table to ``procedure`` (``Gimp``: the gi module; ``keep`` holds a
    Gimp.Choice alive where libgimp does not)."""
    for a in ARGUMENTS:
        aux = "_aux" if a.aux else ""
        if a.kind in ("layer", "channel"):
            getattr(procedure, "add_%s%s_argument" % (a.kind, aux))(a.name, a.label, a.help, True, flags)
        elif a.kind == "file":
            procedure.add_file_argument(a.name, a.label, a.help, Gimp.FileChooserAction.OPEN, True, None, flags)
        elif a.kind == "choice":
            choice = keep(Gimp.Choice.new())
            for i, (nick, label, help_) in enumerate(a.choices):
                choice.add(nick, i, label, help_)
            getattr(procedure, "add_choice%s_argument" % aux)(a.name, a.label, a.help, choice, a.default, flags)
        elif a.kind in ("int", "double"):
            getattr(procedure, "add_%s%s_argument" % (a.kind, aux))(a.name, a.label, a.help, *a.range,
                                                                    a.default, flags)
        elif a.kind == "boolean":
            getattr(procedure, "add_boolean%s_argument" % aux)(a.name, a.label, a.help, a.default, flags)
        elif a.kind == "string":
            getattr(procedure, "add_string%s_argument" % aux)(a.name, a.label, a.help, a.default, flags)
        else:
            raise ValueError("unknown argument kind %r" % a.kind)


# ---- more regions ------------------------------------------------------------------------------------

def parse_regions(text):
    """The "regions" argument -> [(channel name, style: a file's path or "gallery:NAME")]; ValueError
    with a sentence for anything else."""
    import json
    try:
        items = json.loads(text or "[]")
    except ValueError:
        raise ValueError("'regions' is not a JSON list: %r" % (text[:80],)) from None
    if not isinstance(items, list):
        raise ValueError("'regions' must be a JSON list of {\"channel\": NAME, \"style\": FILE}")
    out = []
    for i, r in enumerate(items):
        if not (isinstance(r, dict) and isinstance(r.get("channel"), str) and isinstance(r.get("style"), str)
                and r["channel"] and r["style"]):
            raise ValueError("region %d of 'regions' must be {\"channel\": NAME, \"style\": FILE or "
                             "\"gallery:NAME\"}" % (i + 1))
        out.append((r["channel"], r["style"]))
    return out


def format_regions(pairs):
    """[(channel name, style)] -> the "regions" argument's text."""
    import json
    return json.dumps([{"channel": c, "style": s} for c, s in pairs])


# ---- the daemon options a config says -----------------------------------------------------------

def working_size(size, long_edge):
    """The long edge the daemon computes: Size, or 0 (the part's own size) when Size is 0 or at
    least the part's long edge: a small selection is never computed above its own detail."""
    return 0 if not size or size >= long_edge else int(size)


def options_from_config(config, long_edge=None, detail="size", info=None):
    """The daemon options (docs/protocol.md, ``submit``) that ``config`` says for an area whose long
    edge is ``long_edge`` px (None: Size as given). ``detail``: the dialog's Detail ("size": Size as
    given, what scripts use; "full": the area's own pixels in the chosen Quality; "auto": the area's
    own pixels in the best Quality that fits about a minute, from the daemon's estimate ``info``, or
    the chosen Quality while none is known). Steps only when set (0: what the quality says), a choice
    only when not "auto" (the daemon's own rule)."""
    options = {}
    for a in ARGUMENTS:
        if a.option is not None:
            value = config.get_property(a.name)
            if a.kind == "choice" and value == "auto":
                continue
            options[a.option] = float(value) if a.kind == "double" else value
    size = int(options["size"]) if detail == "size" else 0
    options["size"] = working_size(size, long_edge) if long_edge else size
    if detail == "auto" and info is not None and info.get("fit_quality"):
        options["quality"] = info["fit_quality"]
    if int(options["steps"]) > 0:
        options["steps"] = int(options["steps"])
    else:
        del options["steps"]
    return options
