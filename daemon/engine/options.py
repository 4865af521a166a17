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
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .errors import BadInput

COLOR_MODES = ("full", "luminance", "histogram")
HISTOGRAM_METHODS = ("chol", "pca", "ot")
GUIDANCE_MODES = ("gram", "sums")
PROPAGATION_MODES = ("simple", "inside", "all")
INIT_MODES = ("content", "noise")  # or an image array passed as ``init_image``
OPTIMIZERS = ("lbfgs", "adam")
POOLING_MODES = ("avg", "max")


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
    # alpha: weight of the content loss (relu4_2). 30, not the paper's 1: the paper used a VGG whose
    # weights were normalised to unit mean activations; with the original unnormalised weights and
    # average pooling, alpha = 1 leaves little of the content at 256-512 px (checked by eye on
    # examples/chelsea.png with starry_night.jpg: 1 and 4 lost the cat, 30 kept it, 200 was timid).
    content_weight: float = 30.0
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
    init: str = "content"            # content | noise (an image array goes in init_image)
    seed: int = 0
    optimizer: str = "lbfgs"         # lbfgs | adam
    lbfgs_history: int = 20
    learning_rate: float = 1.0       # Adam's step size in model-input units (0-255 scale)
    fast: bool = True                # reduced precision where it is safe (GPU only; see engine.precision)
    tile: int = 0                    # tiles of at most PX (multiple of 16) px; 0 = tiled only when over budget

    # ---- validation -------------------------------------------------------------------------
    def validate(self, n_styles: int) -> None:
        """Raise BadInput with one clear sentence when an option cannot work."""
        if n_styles < 1:
            raise BadInput("at least one style image is needed")
        _positive_int("size", self.size)
        if self.size < 16:
            raise BadInput(f"size must be at least 16 pixels (got {self.size})")
        _non_negative_int("steps", self.steps)
        _positive_int("levels", self.levels)
        if self.coarse_steps is not None:
            _non_negative_int("coarse steps", self.coarse_steps)
        if self.mix_steps is not None:
            _non_negative_int("mix steps", self.mix_steps)
        _finite_non_negative("content weight", self.content_weight)
        _finite_non_negative("style weight", self.style_weight)
        _finite_positive("style scale", self.style_scale)
        _finite_positive("learning rate", self.learning_rate)
        _positive_int("L-BFGS history", self.lbfgs_history)
        if self.style_blend is not None:
            if len(self.style_blend) != n_styles:
                raise BadInput(f"style blend has {len(self.style_blend)} weights for {n_styles} style image(s)")
            for w in self.style_blend:
                _finite_non_negative("style blend weight", w)
            if sum(self.style_blend) <= 0:
                raise BadInput("style blend weights add up to zero")
        _choice("color", self.color, COLOR_MODES)
        _choice("histogram method", self.histogram_method, HISTOGRAM_METHODS)
        _choice("guidance", self.guidance, GUIDANCE_MODES)
        _choice("propagation", self.propagation, PROPAGATION_MODES)
        _choice("init", self.init, INIT_MODES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.guide_grow, int) or isinstance(self.guide_grow, bool):
            raise BadInput(f"guide grow must be a whole number (got {self.guide_grow!r})")
        if self.scale_mix is not None:
            if len(self.scale_mix) != 2:
                raise BadInput("scale mix takes two style indices: COARSE FINE")
            for i in self.scale_mix:
                if not isinstance(i, int) or not 0 <= i < n_styles:
                    raise BadInput(f"scale mix style index {i!r} is out of range (there are {n_styles} style images, 0-based)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise BadInput(f"seed must be a whole number (got {self.seed!r})")
        _non_negative_int("tile", self.tile)
        if 0 < self.tile < 16:
            raise BadInput(f"tile must be 0 (automatic) or at least 16 pixels, VGG-19's pooling grid (got {self.tile})")

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

    @property
    def losses(self) -> dict:
        """{"content", "style", "total"} as floats. Reading them waits for the device (a GPU sync),
        so a caller that reports every few seconds should read them only then."""
        return self.loss_values()


@dataclass
class TransferResult:
    image: np.ndarray       # uint8 H×W×3
    cancelled: bool
    report: dict            # options used, per-level steps and time, final losses, device, cache use


@dataclass
class ModelSpec:
    weights: str = "original"   # original | torchvision | path to a state dict
    pooling: str = "avg"        # avg | max
    device: str = "auto"        # auto | cpu | cuda | cuda:N | mps


# ---- small validators ---------------------------------------------------------------------------
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite_non_negative(name: str, x: Any) -> None:
    if not _is_number(x) or not math.isfinite(x) or x < 0:
        raise BadInput(f"{name} must be a finite number >= 0 (got {x!r})")


def _finite_positive(name: str, x: Any) -> None:
    if not _is_number(x) or not math.isfinite(x) or x <= 0:
        raise BadInput(f"{name} must be a finite number > 0 (got {x!r})")


def _positive_int(name: str, x: Any) -> None:
    if not isinstance(x, int) or isinstance(x, bool) or x < 1:
        raise BadInput(f"{name} must be a whole number >= 1 (got {x!r})")


def _non_negative_int(name: str, x: Any) -> None:
    if not isinstance(x, int) or isinstance(x, bool) or x < 0:
        raise BadInput(f"{name} must be a whole number >= 0 (got {x!r})")


def _choice(name: str, x: Any, choices: Sequence[str]) -> None:
    if x not in choices:
        raise BadInput(f"{name} must be one of {', '.join(choices)} (got {x!r})")
