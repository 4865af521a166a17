"""Quality presets: how many pyramid levels and steps (coarse-to-fine, Gatys et al. 2017 §5).

Every preset runs the authors' own recipe at the working size (``WORKING_SIZE``, their 512 px): one
level, from the content, of 60, 150 or 500 L-BFGS steps (*high* is their 500). A coarse level below
it would be cheaper per step, but its upsampled result is soft and the top level's steps never bring
the strokes back: with the authors' α = 1, two levels (256 px then 512 px) ended with a quarter less
detail (mean |Laplacian|) than one level of the same time; one level has their crispness at any step
count, and 150 steps (the time the old two-level *standard* took) come within 1.3× of their 500-step
style loss (BENCHMARKS.md, "The paper's look"). The preview's 60 come within 1.3× of pastiche's
300-step objective at 256 px (22, as many as α = 30 needed, left it at 4×: "Time to quality").
``levels`` > 1 (a coarse-to-fine pyramid, the option) never puts a level under ``COARSE_EDGE_MIN``
= 256 px: relu5_1 then has a map of fewer than 16 positions along the long edge, and the L-BFGS
pyramid metric (``optim.pyramid_metric``) already does such a level's work.

Above the working size the pyramid goes on in finishing levels (``finishing``, ``plan``) with
``finish_steps`` at the first and half as many at each further doubling: enough for the finishing
objective to bring the painting's fine statistics to the full-size output about as close as a plain
full-objective run at that size (BENCHMARKS.md, "Full size: a layer at its own pixels").
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from .errors import BadInput
from .options import SIZE_MAX, SIZE_MIN, TransferOptions, usable_levels
from .plan import working_edge

COARSE_EDGE_MIN = 256           # no preset level has a shorter long edge than this (px)

WORKING_SIZE = 512              # above it, finishing levels (``finishing``), as the authors' 512 px then 1024 px

PRESETS = {
    "preview": {"levels": 1, "steps": 60, "finish_steps": 30},
    "standard": {"levels": 1, "steps": 150, "finish_steps": 60},
    "high": {"levels": 1, "steps": 500, "finish_steps": 120},
}
ALONE_STEPS = {name: p["steps"] for name, p in PRESETS.items()}   # the steps of a one-level job


def preset_levels(name: str, size: int, content_hw: Optional[Tuple[int, int]] = None) -> int:
    """The levels preset ``name`` runs at an output long edge of ``size`` px: its own, less those whose
    long edge would be under COARSE_EDGE_MIN, and (given the content's h×w) less those the content has
    no room for (``options.usable_levels``); at least one."""
    levels = PRESETS[name]["levels"]
    while levels > 1 and size < COARSE_EDGE_MIN * 2 ** (levels - 1):
        levels -= 1
    if content_hw is not None:
        levels = min(levels, usable_levels(*content_hw, size))
    return max(1, levels)


def apply_preset(options: TransferOptions, name: str, size=None,
                 content_hw: Optional[Tuple[int, int]] = None) -> TransferOptions:
    """``options`` with preset ``name``'s schedule for an output long edge of ``size`` px (None:
    ``options.size``) and, if given, this content's h×w. A size that is not a valid one leaves the
    preset's full schedule: the options' own checks then refuse it."""
    if name not in PRESETS:
        raise BadInput(f"quality must be one of {', '.join(PRESETS)} (got {name!r})")
    values = dict(PRESETS[name], working_size=WORKING_SIZE)
    size = options.size if size is None else size
    if (isinstance(size, (int, float)) and not isinstance(size, bool)      # NaN fails the range test
            and SIZE_MIN <= size <= SIZE_MAX and size == int(size)):
        values["levels"] = preset_levels(name, working_edge(int(size), WORKING_SIZE), content_hw)
        if values["levels"] == 1:
            values["steps"] = ALONE_STEPS[name]
    return dataclasses.replace(options, **values)
