"""The job plan: every decision about how a job runs, made once, before any work.

``plan_job`` turns a content size, the options, the style images' sizes, the device and the memory
budget into a ``JobPlan``: the style mix (when scales are mixed), then the pyramid's levels coarsest
first, each with its size, steps, role, the network layers its objective reads, its style images'
sizes and its ``tiling.TilePlan``; and the job's peak memory. The engine runs exactly this plan
(``transfer.stylize``); the service prices it for the time estimate (``service.speed``), checks its
memory, and the bench reads it: nobody derives the pyramid a second time.

The pyramid (Gatys et al. 2017 §5, coarse-to-fine): the final size is the requested long edge. Up to
the *working size* (within √2 of ``working_size``: ``finishing_count``) the levels are the usual
ones, each the full objective: ``levels`` of them, ``coarse_steps`` below the top one and ``steps``
at it. Above it the pyramid goes on in *finishing levels*, each twice the size of the last, the top
one exactly the requested size; each starts from the level below upsampled and runs ``finish_steps``
steps (halved at each further doubling: ``finish_steps``) of the finishing objective
(``finishing``: the fine style layers). So an output at a layer's own pixels costs a few cheap steps
per doubling on top of a working-size job, instead of a blurred upscale of a small one.

Where a job starts decides which levels it runs (``start``, the rule written once here):

- ``"content"``: from the content (or noise): the whole pyramid.
- ``"warm"``: from a kept result of the same content after a small change (the daemon's ``init:
  "last"``, the live preview re-rendering its own picture). It is already at the final structure: no
  coarse levels, and ``warm_steps`` at the working level (the option, else a quarter of ``steps``, at
  least ``WARM_MIN_STEPS``: BENCHMARKS.md, "Warm re-runs").
- ``"image"``: from an image given with the job (a result continued in GIMP, ``--init PATH``): its
  structure is kept too, so no coarse levels, and ``steps`` at the working level (the artist asked
  for more steps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch

from . import tiling
from .finishing import finishing_layers
from .options import TransferOptions
from .scale import fit_long_edge, mix_cut_layer, pyramid_sizes, style_size
from .vgg import CONTENT_LAYERS, STYLE_LAYERS

Size = Tuple[int, int]
STARTS = ("content", "warm", "image")
WARM_SHARE = 0.25          # a warm start's steps: a quarter of a cold run's...
WARM_MIN_STEPS = 15        # ...and at least this many (the live preview's re-renders: a quarter of its 60)


@dataclass(frozen=True)
class LevelPlan:
    """One optimisation of the job: a size, its steps, what it is, the layers its objective reads,
    the sizes its style images take for their targets, and how it is tiled."""

    size: Size
    steps: int
    role: str                          # "mix", "coarse", "working" (the top full-objective level), "finishing"
    layers: Tuple[str, ...]
    style_sizes: Tuple[Size, ...]
    tiles: tiling.TilePlan = field(compare=False, repr=False)

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]

    @property
    def depth(self) -> str:
        """The deepest layer the network runs to at this level (what a step costs depends on it)."""
        return max(self.layers)      # relu1_1 < … < relu4_2 < relu5_1, as strings too

    def describe(self) -> dict:
        return {"size": list(self.size), "steps": self.steps, "role": self.role, "depth": self.depth,
                **self.tiles.describe()}


@dataclass(frozen=True)
class JobPlan:
    """What a job will do: ``levels`` in the order they run (the style mix first where there is one)."""

    levels: Tuple[LevelPlan, ...]
    peak_bytes: int
    start: str = "content"             # STARTS

    @property
    def transfer_levels(self) -> List[LevelPlan]:
        return [l for l in self.levels if l.role != "mix"]

    @property
    def mix(self) -> Optional[LevelPlan]:
        return next((l for l in self.levels if l.role == "mix"), None)

    @property
    def final_size(self) -> Size:
        return self.transfer_levels[-1].size

    @property
    def total_steps(self) -> int:
        return sum(l.steps for l in self.levels)

    @property
    def tiled(self) -> bool:
        return any(l.tiles.tiled for l in self.levels)

    def describe(self) -> dict:
        return {"levels": [l.describe() for l in self.levels], "peak_bytes": self.peak_bytes,
                "total_steps": self.total_steps, "start": self.start}


def finishing_count(size: int, working_size: int) -> int:
    """How many finishing levels a job at long edge ``size`` has: the n for which size/2^n is nearest
    ``working_size`` (in log scale, so the working level's long edge lies within √2 of it either way,
    and a size just above a doubling does not halve the working level); 0 for no working size."""
    if not working_size or size <= working_size:
        return 0
    return max(0, round(math.log2(size / working_size)))


def working_edge(size: int, working_size: int) -> int:
    """The long edge of the working level (the top level of the full objective)."""
    return max(1, round(size / 2 ** finishing_count(size, working_size)))


def level_sizes(h: int, w: int, options: TransferOptions) -> Tuple[List[Size], int]:
    """The transfer levels' sizes, coarsest first, and how many of them are finishing levels."""
    final = fit_long_edge(h, w, options.size)
    finishing = finishing_count(options.size, options.working_size)
    sizes = pyramid_sizes(h, w, working_edge(options.size, options.working_size), options.levels)
    for k in reversed(range(finishing)):
        sizes.append(final if k == 0 else (max(1, round(final[0] / 2 ** k)), max(1, round(final[1] / 2 ** k))))
    return sizes, finishing


def plan_job(content_hw: Size, options: TransferOptions, style_hws: Sequence[Size], device,
             memory_budget: Optional[int] = None, regions: int = 0, start: str = "content") -> JobPlan:
    """The plan of a job on an h×w content (module docstring). ``style_hws``: the style images'
    sizes (h, w), as given; ``start``: where the job starts (``STARTS``, module docstring). A budget
    too small for a level even in tiles is a BadInput, before any work."""
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS} (got {start!r})")
    h, w = content_hw
    device = torch.device(device)
    o = options
    sizes, finishing = level_sizes(h, w, o)
    styles = list(style_hws)
    levels: List[LevelPlan] = []

    def level(size, steps, role, layers, style_sizes) -> LevelPlan:
        tiles = tiling.plan(tuple(size), layers, o, device, memory_budget, regions)
        return LevelPlan(tuple(size), steps, role, tuple(layers), tuple(style_sizes), tiles)

    top_full = len(sizes) - finishing - 1                 # the working level's index
    if o.scale_mix:
        a, b = o.scale_mix
        mix_size = style_size(styles[a], sizes[top_full], o.style_scale)
        cut = o.mix_cut or mix_cut_layer(*mix_size)
        mix_layers = tuple(l for l in STYLE_LAYERS if l <= cut)
        levels.append(level(mix_size, o.steps if o.mix_steps is None else o.mix_steps, "mix", mix_layers,
                            [mix_size, style_size(styles[b], mix_size, 1.0)]))
        styles[a] = styles[b] = mix_size                  # both become the mixed image
    coarse = o.steps if o.coarse_steps is None else o.coarse_steps
    for i, size in enumerate(sizes):
        if i < top_full:
            role, steps, layers = "coarse", coarse, _full_layers(o)
        elif i == top_full:
            role, steps, layers = "working", warm_steps(o) if start == "warm" else o.steps, _full_layers(o)
        else:
            role, steps, layers = "finishing", finish_steps(o.finish_steps, i - top_full), finishing_layers()
        levels.append(level(size, steps, role, layers, [style_size(s, size, o.style_scale) for s in styles]))
    if start != "content":   # a kept result or a given image: already at the final structure
        levels = [l for l in levels if l.role != "coarse"]
    peak = max(_level_bytes(l, o, device, regions) for l in levels)
    return JobPlan(tuple(levels), peak, start)


def warm_steps(options: TransferOptions) -> int:
    """The working level's steps on a warm start: the option ``warm_steps``, else ``WARM_SHARE`` of
    ``steps``, at least ``WARM_MIN_STEPS`` (never more than ``steps``)."""
    if options.warm_steps is not None:
        return options.warm_steps
    return min(options.steps, max(WARM_MIN_STEPS, round(options.steps * WARM_SHARE)))


def finish_steps(first: int, k: int) -> int:
    """Steps of the k-th finishing level (k = 1 just above the working size): ``first``, halved at
    each further doubling (at least 1 where ``first`` is not 0). A level of 4× the pixels costs 4× a
    step, and has less left to add: the finer its pixels, the more of its structure the level below
    already fixed (the authors' recipes halve too: 500, 200, 100, 50 steps up to 3620 px)."""
    return 0 if first == 0 else max(1, round(first / 2 ** (k - 1)))


def layers_to(depth: str) -> Tuple[str, ...]:
    """Every loss layer up to ``depth``, in the network's order: what a level cut there reads (the
    warm-up and the bench time the network this way)."""
    return tuple(sorted(l for l in CONTENT_LAYERS + STYLE_LAYERS if l <= depth))


def _full_layers(options: TransferOptions) -> Tuple[str, ...]:
    """The full objective's layers: the content layer (where there is a content term) and every style layer."""
    return (CONTENT_LAYERS if options.content_weight > 0 else ()) + STYLE_LAYERS


def _level_bytes(level: LevelPlan, options, device, regions: int) -> int:
    if level.tiles.estimate is not None:
        return level.tiles.estimate
    return tiling.untiled_bytes(level.size, options, device, regions)
