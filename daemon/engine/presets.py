"""Quality presets: how many pyramid levels and steps (coarse-to-fine, Gatys et al. 2017 §5).

Most steps run at the coarse levels, where a step is 4× cheaper per level down; the final size gets
enough steps to sharpen the texture. The preview preset is the coarse level alone at the same size.
"""
from __future__ import annotations

import dataclasses

from .errors import BadInput
from .options import TransferOptions

PRESETS = {
    "preview": {"levels": 1, "steps": 60},
    "standard": {"levels": 2, "steps": 100, "coarse_steps": 200},
    "high": {"levels": 3, "steps": 200, "coarse_steps": 300},
}


def apply_preset(options: TransferOptions, name: str) -> TransferOptions:
    if name not in PRESETS:
        raise BadInput(f"quality must be one of {', '.join(PRESETS)} (got {name!r})")
    return dataclasses.replace(options, **PRESETS[name])
