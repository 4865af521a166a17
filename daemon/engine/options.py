"""What a transfer is asked to do: the engine's options, regions and results.

Everything here is plain data. Images cross the engine's boundary as numpy arrays:
colour images are ``uint8`` H×W×3 (RGB, sRGB-encoded, as GIMP's ``R'G'B'A u8`` minus alpha),
masks are ``float32`` H×W in [0, 1] (white = inside; grey = soft, e.g. a feathered selection).
Masks may have any size: the engine resizes them to the image they guide.

``TransferOptions`` is JSON-friendly (``to_dict`` / ``from_dict``) so the service can carry it over
the wire unchanged; arrays (images, masks) travel separately.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

from .errors import BadInput
from .scale import MIN_SIDE, MIX_CUTS, fit_long_edge

COLOR_MODES = ("full", "luminance", "histogram")
HISTOGRAM_METHODS = ("chol", "pca", "ot")
GUIDANCE_MODES = ("gram", "sums")
PROPAGATION_MODES = ("simple", "inside", "all")
# or an image array passed as ``init_image`` (the daemon's "last", its kept result for this content, is
# the submit field ``init``, resolved by the service into an ``init_image``: the engine keeps nothing).
INIT_MODES = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
POOLING_MODES = ("avg", "max")


# ---- what a real job can use ---------------------------------------------------------------------
# Each range is checked before anything is allocated (TransferOptions.check_ranges); beyond it a value
# can only freeze, exhaust memory or overflow, never help.
SIZE_MIN = MIN_SIDE                # VGG-19 pools four times before relu5_1
SIZE_MAX = 16384                   # long edge; what fits in memory is decided later (service.memory)
STEPS_MAX = 100_000                # the paper's results take 500-1000; 100k at 16 px is still ~hours
LEVELS_MAX = (SIZE_MAX // MIN_SIDE).bit_length()  # 11: halving 16384 ten times gives 16 px
LEVELS_ALWAYS_ALLOWED = 3          # levels below MIN_SIDE are dropped silently up to this many
                                   # (scale.pyramid_sizes): more than any quality preset runs
LBFGS_HISTORY_MAX = 1000           # each remembered step keeps two image-sized vectors
STYLE_SCALE_MAX = 16.0             # style pixels relative to the output's
STYLE_PIXELS_MAX = SIZE_MAX ** 2   # size² × style scale: no style image larger than the largest output
WEIGHT_MAX = 1e6                   # content/style/blend weights; float32 losses overflow far above
LEARNING_RATE_MAX = 255.0          # Adam's step in 0-255 units: 255 already crosses the whole range
SEED_MAX = 2 ** 63 - 1             # torch.manual_seed takes 64 bits; keep it a signed-int64 for JSON peers
GUIDE_GROW_MAX = 32                # feature pixels; 32 at relu5_1 is 512 image pixels

RANGES = {  # for the docs and the tests: option -> (lowest, highest)
    "size": (SIZE_MIN, SIZE_MAX), "steps": (0, STEPS_MAX), "levels": (1, LEVELS_MAX),
    "coarse_steps": (0, STEPS_MAX), "mix_steps": (0, STEPS_MAX), "content_weight": (0, WEIGHT_MAX),
    "style_weight": (0, WEIGHT_MAX), "style_scale": (0, STYLE_SCALE_MAX), "learning_rate": (0, LEARNING_RATE_MAX),
    "lbfgs_history": (1, LBFGS_HISTORY_MAX), "seed": (0, SEED_MAX), "guide_grow": (-GUIDE_GROW_MAX, GUIDE_GROW_MAX),
    "working_size": (0, SIZE_MAX), "finish_steps": (0, STEPS_MAX), "warm_steps": (0, STEPS_MAX),
    "tile": (0, SIZE_MAX),   # and 1-15 refused: 0 = automatic, else at least the 16-px pooling grid
}


def usable_levels(h: int, w: int, size: int) -> int:
    """How many coarse-to-fine levels an h×w content at long edge ``size`` has whose short side is
    at least MIN_SIDE (the count scale.pyramid_sizes keeps); 0 when even the final size is too small."""
    fh, fw = fit_long_edge(h, w, size)
    n = 0
    while n < 64 and min(round(fh / 2 ** n), round(fw / 2 ** n)) >= MIN_SIDE:
        n += 1
    return n


@dataclass
class Region:
    """One region of spatial control (Gatys et al. 2017, §3).

    ``content_mask``: where on the output this region's style goes (H×W float in [0,1], any size).
    ``style``: 0-based index of the style image it takes its texture from.
    ``style_mask``: which part of that style image to take the texture from (None = all of it).
    """

    content_mask: np.ndarray
    style: int = 0
    style_mask: Optional[np.ndarray] = None


@dataclass
class TransferOptions:
    size: int = 512                  # long edge of the output, pixels
    steps: int = 200                 # optimisation steps at the final size
    levels: int = 1                  # coarse-to-fine pyramid levels (1 = single scale)
    coarse_steps: Optional[int] = None  # steps at each coarser level (None = same as steps)
    # alpha: weight of the content loss (relu4_2). The authors' 1: with the same network (the original
    # VGG-19, average pooling), the same losses and their 1e3/C² layer weights, alpha = 1 is what their
    # notebooks ran for the papers' figures, and the standard preset then comes within 1.4x of their
    # 500-step style loss; 30 kept houses and water photographic (BENCHMARKS.md, "The paper's look").
    content_weight: float = 1.0
    style_weight: float = 1.0        # beta: weight of the style loss (layer weights 1e3/C^2 inside)
    style_blend: Optional[list] = None  # weights of the style images (None = equal)
    style_scale: float = 1.0         # style image pixel count relative to the output's
    color: str = "full"              # full | luminance | histogram
    histogram_method: str = "pca"    # chol | pca | ot
    guidance: str = "gram"           # gram (guided Gram) | sums (guided sums)
    propagation: str = "simple"      # simple | inside | all
    guide_grow: int = 0              # dilate (+k) / erode (-k) propagated guides by k feature pixels
    global_guide: bool = False       # add the 2017 paper's constant global guidance channel
    scale_mix: Optional[list] = None  # [coarse, fine] style indices: mix them into one style
    mix_steps: Optional[int] = None  # steps of the style-mixing optimisation (None = steps)
    mix_cut: Optional[str] = None    # the deepest layer the fine style sets (scale.MIX_CUTS; None = by size)
    init: str = "content"            # content | noise (an image array goes in init_image)
    seed: int = 0
    optimizer: str = "lbfgs"         # lbfgs | adam
    lbfgs_history: int = 20
    learning_rate: float = 1.0       # Adam's step size in model-input units (0-255 scale)
    fast: bool = True                # reduced precision where it is safe (GPU only; see engine.precision)
    tile: int = 0                    # tiles of at most PX (multiple of 16) px; 0 = tiled only when over budget
    # Above ``working_size`` (long edge, px; 0 = never) the pyramid goes on in finishing levels, each
    # twice the last, up to ``size``: ``finish_steps`` steps each of the cheaper finishing objective
    # (``finishing``); ``levels``, ``steps`` and ``coarse_steps`` then describe the pyramid up to the
    # working size. The quality presets set both.
    working_size: int = 0
    finish_steps: int = 0
    warm_steps: Optional[int] = None  # steps at the working level of a warm start (None: ``plan.warm_steps``)

    # ---- validation -------------------------------------------------------------------------
    def validate(self, n_styles: int, content_hw: Optional[Tuple[int, int]] = None) -> None:
        """Raise BadInput with one clear sentence when an option cannot work.

        Every check is arithmetic on the option values: nothing is allocated and nothing grows with
        them, so an absurd value (``levels = 10**19``) costs as little as a good one. ``content_hw``
        (the content image's height, width) adds the checks that need it (see ``check_content``).
        """
        if n_styles < 1:
            raise BadInput("at least one style image is needed")
        self.check_ranges()
        if self.style_blend is not None:
            if len(self.style_blend) != n_styles:
                raise BadInput(f"style blend has {len(self.style_blend)} weights for {n_styles} style image(s)")
        if self.scale_mix is not None:
            for i in self.scale_mix:
                if not 0 <= i < n_styles:
                    raise BadInput(f"scale mix style index {i} is out of range (there are {n_styles} style "
                                   f"images, 0-based)")
        if content_hw is not None:
            self.check_content(*content_hw)

    def check_ranges(self) -> None:
        """The checks that need neither the images nor their number: types and ranges (see RANGES)."""
        _int_in("size", self.size, SIZE_MIN, SIZE_MAX, "pixels on the long edge")
        _int_in("steps", self.steps, 0, STEPS_MAX)
        _int_in("levels", self.levels, 1, LEVELS_MAX)
        if self.coarse_steps is not None:
            _int_in("coarse steps", self.coarse_steps, 0, STEPS_MAX)
        if self.mix_steps is not None:
            _int_in("mix steps", self.mix_steps, 0, STEPS_MAX)
        if self.warm_steps is not None:
            _int_in("warm steps", self.warm_steps, 0, STEPS_MAX)
        _number_in("content weight", self.content_weight, 0, WEIGHT_MAX)
        _number_in("style weight", self.style_weight, 0, WEIGHT_MAX)
        _number_in("style scale", self.style_scale, 0, STYLE_SCALE_MAX, low_open=True)
        if self.size * self.size * self.style_scale > STYLE_PIXELS_MAX:
            most = STYLE_PIXELS_MAX / (self.size * self.size)
            raise BadInput(f"style scale {_show(self.style_scale)} at size {self.size} would make style images of "
                           f"up to {self.size * self.size * self.style_scale / 1e6:.0f} megapixels; at this size "
                           f"it can be at most {most:.3g}")
        _number_in("learning rate", self.learning_rate, 0, LEARNING_RATE_MAX, low_open=True)
        _int_in("L-BFGS history", self.lbfgs_history, 1, LBFGS_HISTORY_MAX)
        _int_in("seed", self.seed, 0, SEED_MAX)
        _int_in("guide grow", self.guide_grow, -GUIDE_GROW_MAX, GUIDE_GROW_MAX, "feature pixels")
        _int_in("tile", self.tile, 0, SIZE_MAX, "pixels (0 = automatic)")
        _int_in("working size", self.working_size, 0, SIZE_MAX, "pixels on the long edge (0 = no finishing levels)")
        if 0 < self.working_size < MIN_SIDE:
            raise BadInput(f"working size must be 0 (none) or at least {MIN_SIDE} pixels (got {self.working_size})")
        _int_in("finish steps", self.finish_steps, 0, STEPS_MAX)
        if 0 < self.tile < 16:
            raise BadInput(f"tile must be 0 (automatic) or at least 16 pixels, VGG-19's pooling grid (got {self.tile})")
        if self.style_blend is not None:
            if not isinstance(self.style_blend, (list, tuple)) or not self.style_blend:
                raise BadInput(f"style blend must be a list of weights, one per style image "
                               f"(got {_show(self.style_blend)})")
            for w in self.style_blend:
                _number_in("each style blend weight", w, 0, WEIGHT_MAX)
            if sum(self.style_blend) <= 0:
                raise BadInput("style blend weights add up to zero")
        if self.scale_mix is not None:
            if not isinstance(self.scale_mix, (list, tuple)) or len(self.scale_mix) != 2:
                raise BadInput(f"scale mix takes two style indices, COARSE and FINE (got {_show(self.scale_mix)})")
            for i in self.scale_mix:
                if not _is_int(i) or i < 0:
                    raise BadInput(f"scale mix style indices must be whole numbers from 0 (got {_show(i)})")
        _choice("color", self.color, COLOR_MODES)
        _choice("histogram method", self.histogram_method, HISTOGRAM_METHODS)
        _choice("guidance", self.guidance, GUIDANCE_MODES)
        _choice("propagation", self.propagation, PROPAGATION_MODES)
        _choice("init", self.init, INIT_MODES)
        if self.mix_cut is not None:
            _choice("mix cut", self.mix_cut, MIX_CUTS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _flag("global guide", self.global_guide)
        _flag("fast", self.fast)

    def check_content(self, h: int, w: int) -> None:
        """The checks that need the content's size (h × w): the output must be at least MIN_SIDE on its
        short side, and more pyramid levels than the image allows are refused (see ``usable_levels``)."""
        self.check_ranges()
        final = fit_long_edge(h, w, self.size)
        if min(final) < MIN_SIDE:
            raise BadInput(f"the output would be {final[1]}×{final[0]} pixels; each side needs at least "
                           f"{MIN_SIDE}: raise the size")
        most = usable_levels(h, w, self.size)
        if self.levels > max(most, LEVELS_ALWAYS_ALLOWED):
            raise BadInput(f"{self.levels} pyramid levels are more than this image allows at size {self.size}: "
                           f"halving its short side ({min(final)} px) keeps {MIN_SIDE} px or more for only {most}; "
                           f"use at most {most} level{'' if most == 1 else 's'}")

    # ---- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TransferOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise BadInput(f"unknown option(s): {', '.join(unknown)}")
        return cls(**d)


@dataclass
class Progress:
    """Handed to the per-step callback."""

    level: int              # 0-based pyramid level (0 = coarsest)
    levels: int
    step: int               # 1-based step within this level
    total: int              # steps in this level
    done: int               # steps done over the whole job (style mixing included)
    job_total: int          # steps in the whole job
    stage: str              # "mix" (style mixing) or "transfer"
    size: tuple             # (height, width) of this level
    image: Callable[[], np.ndarray]  # current image as uint8 H×W×3 (computed only when called)
    loss_values: Callable[[], dict] = field(repr=False, default=dict)
    tile: Optional[Tuple[int, int]] = None   # in a tiled level, between tiles: (tiles done, tiles in
                                             # the step); ``step`` is then the step under way

    @property
    def losses(self) -> dict:
        """{"content", "style", "total"} as floats. Reading them waits for the device (a GPU sync),
        so a caller that reports every few seconds should read them only then."""
        return self.loss_values()


@dataclass
class Report:
    """What the engine did, filled by ``stylize`` (docs/protocol.md, ``result``'s ``report``); the
    service extends it (``service.worker.JobReport``). ``as_dict`` is its JSON form, without the
    fields that do not apply (None)."""

    options: dict                        # the TransferOptions run (to_dict)
    model: dict                          # Model.describe()
    device: str
    regions: int
    plan: dict                           # the JobPlan run (describe)
    levels: list = field(default_factory=list)   # per level: its plan, seconds, targets_seconds, seconds_per_step
    start: str = ""                      # the first level's start (transfer.START_KINDS)
    mix: Optional[dict] = None           # the style mix's level, cut layer and seconds (scale mixing)
    losses: Optional[dict] = None        # content, style, total (and per region) at the end; None when stopped
    cache: dict = field(default_factory=dict)    # this job's target-cache hits and misses
    cancelled: bool = False
    steps_done: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class TransferResult:
    image: np.ndarray       # uint8 H×W×3
    cancelled: bool
    report: Report


@dataclass
class ModelSpec:
    weights: str = "original"   # original | torchvision | path to a state dict
    pooling: str = "avg"        # avg | max
    device: str = "auto"        # auto | cpu | cuda | cuda:N | mps


# ---- small validators ---------------------------------------------------------------------------
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _show(x: Any) -> str:
    """A short, safe rendering of a value for a message (a 10**5000 or a long list stays short)."""
    if _is_int(x) and x.bit_length() > 64:
        return f"a {len(str(x)) if x.bit_length() < 10000 else 'many'}-digit number"
    try:
        text = repr(x)
    except Exception:
        text = f"a {type(x).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _int_in(name: str, x: Any, lo: int, hi: int, unit: str = "") -> None:
    if not _is_int(x) or not lo <= x <= hi:
        raise BadInput(f"{name} must be a whole number from {lo} to {hi}{' ' + unit if unit else ''} "
                       f"(got {_show(x)})")


def _number_in(name: str, x: Any, lo: float, hi: float, low_open: bool = False) -> None:
    """lo <= x <= hi (lo < x when low_open); ints are compared exactly, never converted to float."""
    ok = _is_number(x) and (not isinstance(x, float) or math.isfinite(x)) and \
        (lo < x if low_open else lo <= x) and x <= hi
    if not ok:
        low = f"above {lo:g} and at most" if low_open else f"from {lo:g} to"
        raise BadInput(f"{name} must be a number {low} {hi:g} (got {_show(x)})")


def _flag(name: str, x: Any) -> None:
    if not isinstance(x, bool):
        raise BadInput(f"{name} must be true or false (got {_show(x)})")


def _choice(name: str, x: Any, choices: Sequence[str]) -> None:
    if not isinstance(x, str) or x not in choices:
        raise BadInput(f"{name} must be one of {', '.join(choices)} (got {_show(x)})")
