"""What travels through one job: its inputs after colour control, the network and options, the
target cache with this job's use of it, and the step count that the progress callback sees.

``Context`` bundles them so that each part of the transfer (targets, one level's optimisation, the
loop over levels) takes the context and the one or two things of its own."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, List, Optional

import numpy as np
import torch

from . import precision, tiling
from .cache import TargetCache
from .options import Region, TransferOptions
from .vgg import Model

CACHE_COUNTS = ("style_hits", "style_misses", "content_hits", "content_misses")


@dataclass(frozen=True)
class StyleSource:
    """Which style image a style term takes its texture from, and which part of it (None = all)."""

    index: int
    mask: Optional[np.ndarray] = None
    mask_key: str = "none"           # hash of the mask's pixels, for the target cache


@dataclass
class Inputs:
    """Everything the levels share, after colour control."""

    content: torch.Tensor          # 1×3×H×W in [0,1]: what the network sees as content
    content_rgb: torch.Tensor      # the original content, for the final colour recombination
    styles: List[torch.Tensor]     # colour-controlled style images, what the network sees
    style_keys: List[str]          # cache keys of those style images
    content_key: str
    regions: List[Region] = field(default_factory=list)
    sources: List[StyleSource] = field(default_factory=list)   # each region's style source


class Steps:
    """Counts steps over the whole job and talks to the callback / cancel hooks."""

    def __init__(self, total: int, callback: Optional[Callable] = None,
                 should_stop: Optional[Callable[[], bool]] = None):
        self.total, self.done, self.callback, self.should_stop = total, 0, callback, should_stop
        self.cancelled = False
        self.start = time.perf_counter()

    def stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
        return self.cancelled


@dataclass
class Context:
    """One job: the network, its options, its inputs (None when mixing styles alone), the target
    cache and this job's hits and misses in it (the report's "cache"), and its step count."""

    model: Model
    options: TransferOptions
    steps: Steps
    inputs: Optional[Inputs] = None
    cache: Optional[TargetCache] = None
    used: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(CACHE_COUNTS, 0))
    memory_budget: Optional[int] = None   # bytes a level may use; None = no limit (tiles only if forced)

    def autocast(self):
        """bf16 for the network where the options and the device allow it (``precision``)."""
        return precision.autocast(self.model.device, self.options.fast)

    def features(self, x: torch.Tensor, layers, within=None) -> Dict[str, torch.Tensor]:
        with self.autocast():
            return self.model.features(x, layers, within)

    def features_of(self, layers) -> Callable[..., Dict[str, torch.Tensor]]:
        """(x, within=None) -> its features at ``layers``: what the tiled passes run on every tile's
        window (``within``: where it lies in the image, ``Model.features``)."""
        return lambda x, within=None: self.features(x, layers, within)

    def plan(self, size, layers) -> tiling.TilePlan:
        """How an image of ``size`` is run through ``layers``: whole, or in tiles (``tiling.plan``)."""
        regions = len(self.inputs.regions) if self.inputs is not None else 0
        return tiling.plan(tuple(size), layers, self.options, self.model.device, self.memory_budget, regions)

    def cached(self, kind: str, key: Hashable, compute: Callable):
        """The cached target under ``key`` (kind "style" or "content"), computed and stored on a miss."""
        hit = self.cache.get(kind, key) if self.cache is not None else None
        self.used[f"{kind}_hits" if hit is not None else f"{kind}_misses"] += 1
        if hit is not None:
            return hit
        value = compute()
        if self.cache is not None:
            self.cache.put(kind, key, value)
        return value
