"""Warm start: a re-run's starting image from the last result (the artist changed a weight, the
colour mode or the selection; the new optimum lies close to the last result, not to the photo).
The daemon keeps last results (``service.results``); this is the maths it applies to one:

    init = m · resample(last) + (1 − m) · content

where m is the new regions' coverage (Σ of their masks, clamped to [0, 1]: ``guides.coverage``;
1 everywhere without regions): where the new regions put no style the run starts from the photo,
elsewhere from the last result resampled to the working size.

A change to luminance-only colour (Gatys et al. 2017 §4) from a full-colour result also moves the
start's luminance to the statistics the new run aims at, the content's (the style's luminance is
matched to them, ``color.match_luminance``):

    Y' = (σ_c / σ_last)(Y_last − μ_last) + μ_c,   every channel shifted by Y' − Y_last

(the YIQ luminance weights sum to 1 and the chroma weights to 0, so the shift changes Y alone): a
full-colour result carries the painting's tones, which a quarter of the steps did not retune
(BENCHMARKS.md, "Warm re-runs").
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch

from . import color
from .guides import coverage
from .images import resize, to_tensor, to_uint8
from .options import Region


def luminance_like(image: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """``image`` (1×3×H×W RGB) with its luminance's mean and spread moved to ``photo``'s (Y' above);
    only Y changes."""
    y, yc = color.luminance(image), color.luminance(photo)
    return image + (color.match_luminance(y, yc) - y)


def warm_start(last: np.ndarray, content: np.ndarray, size_hw: Tuple[int, int],
               regions: Sequence[Region] = (), retune_luminance: bool = False) -> np.ndarray:
    """The init image of a warm re-run at ``size_hw`` (uint8 H×W×3): ``last`` resampled, re-masked to
    the new ``regions``, its luminance moved to the content's where ``retune_luminance`` (the new run
    is luminance-only and the last one was not)."""
    device = torch.device("cpu")
    start = resize(to_tensor(last, device), size_hw)
    photo = resize(to_tensor(content, device), size_hw)
    if retune_luminance:
        start = luminance_like(start, photo)
    m = coverage(regions, size_hw, device)
    if m is not None:
        start = m * start + (1 - m) * photo
    return np.ascontiguousarray(to_uint8(start.clamp(0, 1)))
