"""Exact tiled transfer: the SAME objective as untiled, over overlapping tiles, in bounded memory
(the global-Gram scheme of Galerne et al., "Scaling Painting Style Transfer", 2023).

Every statistic a term takes of the output is a sum over feature positions divided by a count of the
whole image (``losses``, ``spatial``): Gram  G = Σ_p f_p f_pᵀ / N,  guided Gram with the guide
multiplied in,  guided sums  Σ_p t(p) f_p / Σ_p t(p),  content  Σ_p |F_p − P_p|² / numel.
Sums over disjoint sets of positions add up, so the image is cut into tiles whose CORES partition it:

- tile cores sit on the 16-px pooling grid (origins multiples of 16), so at a layer of stride s a core
  maps to exactly core/s positions;
- a tile runs through the network in a WINDOW: its core with a HALO of the receptive-field radius of
  the deepest layer used on every side (``halo_for``: 70 px for relu5_1, 38 px for relu4_2), clipped
  at the image's borders, where the network's own zero padding is the true padding;
- the window knows where it lies in the image (``Tile.within``, ``vgg.valid_regions``): every layer
  keeps only the positions it computes exactly (a convolution loses one ring along the window's inner
  edges, a pooling starts at an even position of the image's map, so its windows are the image's),
  so the deeper layers compute only what they still need: at a 352-px core, a forward + backward costs
  1.6× the core's, where running the whole window through every layer cost 2.0× (BENCHMARKS.md);
- a tile OWNS its core's positions at every layer: their whole receptive field lies inside the tile's
  input, so they equal the untiled features exactly.

Pass 1 (no gradient): every tile's owned features give partial statistics; their sum is the global
statistic S (its windows hold a third of pass 2's memory per pixel, so they may be larger: fewer
halo pixels recomputed, ``TilePlan.forward_tiles``). L(S) is computed once with S as a leaf, and
autograd gives dL/dS.
Pass 2: per tile, the surrogate Σ ⟨dL/dS, S_tile⟩ is back-propagated to the tile's input window and
added into one image-sized gradient: Σ_tiles ∂S_tile/∂x = ∂S/∂x, so it is the exact gradient of L.

Memory: a tile's backward needs about ``activation_bytes_per_pixel`` of its input window, whatever the
image's size; what stays image-sized (the image, its gradient, the optimiser's history, the content
target, the guides) is ``image_bytes_per_pixel``. ``plan`` picks the largest tile that fits a budget;
where the image-sized state itself leaves no room for useful tiles, it keeps the L-BFGS history and the
content target in bf16 (``COMPACT``) and then shortens the history, and says so (``TilePlan.note``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from .errors import BadInput
from .vgg import LAYERS, valid_regions

GRID = 16                      # VGG-19 pools four times before relu5_1: the feature grids align every 16 px
GOOD_CORE = 256                # a core from which on the halo's recomputation costs less than the core
BASE_BYTES = 300 << 20         # GPU: weights, allocator slack, style targets (as daemon/service/memory.py)
CPU_BASE_BYTES = 100 << 20     # CPU: the weights are already resident (daemon/service/memory.py's measurement)


def _receptive_fields() -> Dict[str, Tuple[int, int, int]]:
    """layer -> (stride s, lo, hi): position i of the layer sees input pixels [s·i − lo, s·i + hi]
    (3×3 convolutions with padding 1 widen it by s on each side, 2×2 poolings double s)."""
    out, s, lo, hi = {}, 1, 0, 0
    for name, kind, _ in LAYERS:
        if kind == "conv":
            lo, hi = lo + s, hi + s
        elif kind == "pool":
            hi, s = hi + s, 2 * s
        out[name] = (s, lo, hi)
    return out


RECEPTIVE = _receptive_fields()
STRIDE = {name: s for name, (s, _, _) in RECEPTIVE.items()}


def halo_for(layers: Iterable[str]) -> int:
    """The halo (px) that makes a core's features exact at every one of ``layers``: a core [c0, c1)
    owns positions c0/s … c1/s − 1, which see [c0 − lo, c1 − s + hi] (70 px on both sides for
    relu5_1). A window starting lo before a core on the grid meets every pooling at an even position
    of its map, so no position is lost to the pooling's parity (``vgg.valid_regions``)."""
    return max(max(lo, hi - s + 1) for s, lo, hi in (RECEPTIVE[l] for l in layers))


# ---- tiles ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """One tile: the pixels it owns (core) and the pixels it runs through the network (window), as
    (y0, y1, x0, x1), and the whole image's size (h, w)."""

    core: Tuple[int, int, int, int]
    window: Tuple[int, int, int, int]
    image: Tuple[int, int]

    def input(self, x: torch.Tensor) -> torch.Tensor:
        y0, y1, x0, x1 = self.window
        return x[..., y0:y1, x0:x1]

    @property
    def within(self) -> Tuple[int, int, int, int]:
        """Where the window lies: (y0, x0, height, width) of the image (``Model.features``)."""
        return self.window[0], self.window[2], self.image[0], self.image[1]

    def _owned(self, layer: str, origin: Tuple[int, int]) -> Tuple[slice, slice]:
        s = STRIDE[layer]
        y0, y1, x0, x1 = self.core
        oy, ox = origin
        return slice(y0 // s - oy, y1 // s - oy), slice(x0 // s - ox, x1 // s - ox)

    def crop(self, layer: str, features: torch.Tensor) -> torch.Tensor:
        """The owned positions of this tile's own feature map at ``layer`` (run ``within`` the image:
        the map covers ``vgg.valid_regions``' region of the layer)."""
        y0, y1, x0, x1 = self.window
        region = valid_regions(self.within, (y1 - y0, x1 - x0))[0][layer]
        ys, xs = self._owned(layer, (region[0], region[2]))
        return features[..., ys, xs]

    def take(self, layer: str, full: torch.Tensor) -> torch.Tensor:
        """The owned positions of an image-sized map at ``layer`` (a guide, the content target)."""
        ys, xs = self._owned(layer, (0, 0))
        return full[..., ys, xs]

    def count(self, layer: str) -> int:
        """Positions of the WHOLE image's map at ``layer``: the statistics' divisor."""
        s = STRIDE[layer]
        return (self.image[0] // s) * (self.image[1] // s)


def _cuts(n: int, core: int, halo: int) -> List[Tuple[int, int, int, int]]:
    """Along one axis of n px: (core start, core end, window start, window end) of each tile."""
    out = []
    for c0 in range(0, n, core):
        c1 = min(n, c0 + core)
        out.append((c0, c1, max(0, c0 - halo), min(n, c1 + halo)))
    return out


def tiles(size: Tuple[int, int], core: int, halo: int) -> List[Tile]:
    """Tiles of ``core`` px (a multiple of 16) covering an image of ``size`` = (h, w), row by row,
    with ``halo`` px around each core."""
    h, w = size
    return [Tile((cy0, cy1, cx0, cx1), (wy0, wy1, wx0, wx1), (h, w))
            for cy0, cy1, wy0, wy1 in _cuts(h, core, halo)
            for cx0, cx1, wx0, wx1 in _cuts(w, core, halo)]


# ---- memory --------------------------------------------------------------------------------------
# The one estimate of a level's peak memory (the service's memory plan uses it too): base + the
# image-sized state (``image_bytes_per_pixel``, resident for the whole level) + the larger of one
# window's forward + backward (``activation_bytes_per_pixel``) and the image-sized work of the step
# itself (the L-BFGS direction, the preview's copies: ``step_bytes_per_pixel``), which never overlap.
COMPACT = torch.bfloat16        # storage of the compacted state: fp32's range (fp16 overflows features)
CPU_UNTILED_ACTIVATION = 1500   # CPU, one tensor: saved activations through relu5_1 in fp32 (measured)
CPU_WINDOW_ACTIVATION = 2400    # CPU, per window pixel, with each tile's memory returned (``allocator``): one
                                # window's forward + backward peaked at 1.9-2.2 kB/px (288²-640², torch 2.13);
                                # without ``allocator`` the heap kept ~100 MiB per new window shape besides
CPU_FORWARD_ACTIVATION = 850    # CPU, per window pixel, a forward without gradient (pass 1, the targets): only
                                # the layer being computed and the kept feature maps are alive (767-818 B/px
                                # measured at 480²-1024², torch 2.13, with ``allocator``; rounded up)


def activation_bytes_per_pixel(options, device: torch.device, window: bool = True) -> float:
    """Peak bytes per INPUT pixel of one forward + backward through relu5_1 (saved activations
    ~1.5 kB/px in fp32, 0.9 kB in bf16, observed peaks up to 2.4× that)."""
    device = torch.device(device)
    if device.type == "cpu":
        return CPU_WINDOW_ACTIVATION if window else CPU_UNTILED_ACTIVATION
    fast = options.fast and device.type == "cuda"
    return (900 if fast else 1500) * 2.4


def forward_bytes_per_pixel(options, device: torch.device) -> float:
    """Peak bytes per INPUT pixel of a forward without gradient through relu5_1 (pass 1, the
    targets): a third of a forward + backward, so pass 1 runs in windows of ~3× the pixels."""
    device = torch.device(device)
    if device.type == "cpu":
        return CPU_FORWARD_ACTIVATION
    return activation_bytes_per_pixel(options, device) / 3


def base_bytes(device) -> int:
    return CPU_BASE_BYTES if torch.device(device).type == "cpu" else BASE_BYTES


def image_bytes_per_pixel(options, history: Optional[int] = None, regions: int = 0, compact: bool = False) -> float:
    """Bytes per OUTPUT pixel of what stays image-sized however the level is tiled (fp32: 12 B per
    RGB vector): the image and its gradient; the optimiser's state; the content as the network sees
    it (and the original for luminance transfer); the relu4_2 content target (512 channels at 1/64 of
    the pixels); each region's guides (its mask and the propagated guides of every style layer).

    Full precision (as untiled jobs have always run): L-BFGS keeps 2 vectors per remembered step and
    ~7 of work, Adam its two moments and 2 of work, plus slack for the preview's copies.
    ``compact`` (``plan`` sets it only when the budget needs it): the L-BFGS history in bf16 (6 B per
    vector) and only the previous gradient besides (``optim.LBFGS``: its step works in place), the
    content target in bf16; the step's own work is ``step_bytes_per_pixel``."""
    m = options.lbfgs_history if history is None else history
    lbfgs = options.optimizer == "lbfgs"
    inputs = 24 if options.color == "luminance" else 12
    if not compact:
        optimiser = (2 * m + 7) * 12 if lbfgs else 4 * 12
        content = 512 * 4 / 64 if options.content_weight > 0 else 0
        return 24 + optimiser + inputs + content + regions * 12 + 24
    optimiser = 2 * m * 6 + 12 if lbfgs else 2 * 12
    content = 512 * 2 / 64 if options.content_weight > 0 else 0
    return 24 + optimiser + inputs + content + regions * 12


def step_bytes_per_pixel(options, compact: bool = False) -> float:
    """Image-sized work outside the network's passes, compact state only (full precision counts it in
    ``image_bytes_per_pixel``): an L-BFGS step's (y = g − g_prev and the pyramid metric's resamplings
    of it, then the direction built in the metric of g: ~48 B), or the preview's copies (the image
    back in RGB, the finished picture, its 8-bit copy: ~36 B), whichever is larger."""
    return 48 if compact else 0


def untiled_bytes(size: Tuple[int, int], options, device: torch.device, regions: int = 0) -> int:
    """Peak bytes of a level run as one tensor (style images at style_scale included)."""
    px = size[0] * size[1]
    return int(base_bytes(device) + px * (activation_bytes_per_pixel(options, device, window=False)
                                          + image_bytes_per_pixel(options, regions=regions))
               + px * options.style_scale * 1500 * 1.2)


def tiled_bytes(size: Tuple[int, int], core: int, halo: int, options, device: torch.device,
                history: Optional[int] = None, regions: int = 0, compact: bool = False) -> int:
    """Peak bytes of a level run in tiles of ``core`` px with ``halo``."""
    px = size[0] * size[1]
    return int(base_bytes(device) + px * image_bytes_per_pixel(options, history, regions, compact)
               + max(_window_pixels(size, core, halo) * activation_bytes_per_pixel(options, device),
                     px * step_bytes_per_pixel(options, compact)))


def _window_pixels(size: Tuple[int, int], core: int, halo: int) -> int:
    """Pixels of the largest window of tiles of ``core`` px with ``halo`` (clipped to the image)."""
    side = core + 2 * halo
    return min(side, size[0]) * min(side, size[1])


def forward_bytes(size: Tuple[int, int], core: int, halo: int, options, device: torch.device,
                  history: Optional[int] = None, regions: int = 0, compact: bool = False) -> int:
    """Peak bytes of a level's forward passes without gradient in tiles of ``core`` px (pass 1 and
    the targets run while the image-sized state is resident)."""
    return int(base_bytes(device) + size[0] * size[1] * image_bytes_per_pixel(options, history, regions, compact)
               + _window_pixels(size, core, halo) * forward_bytes_per_pixel(options, device))


@dataclass
class TilePlan:
    """How one level runs: untiled (``core`` 0) or in ``tiles`` of ``core`` px with ``halo``; the
    L-BFGS history that fits (lowered only when the budget cannot hold the asked one) and whether
    the image-sized state is ``compact`` (L-BFGS history and content target in bf16).

    The passes without gradient (pass 1, the targets) hold a third of the memory per window pixel, so
    they run in ``forward_tiles`` of ``forward_core`` px where the budget allows (empty: ``tiles``):
    the halo's recomputation costs them less, and the same tiles' sums are exact all the same."""

    size: Tuple[int, int]
    core: int = 0
    halo: int = 0
    tiles: List[Tile] = field(default_factory=list)
    history: Optional[int] = None
    note: Optional[str] = None
    compact: bool = False
    estimate: Optional[int] = None       # the peak bytes ``plan`` counted (under a budget)
    forward_core: int = 0
    forward_tiles: List[Tile] = field(default_factory=list)

    @property
    def tiled(self) -> bool:
        return self.core > 0

    @property
    def forward(self) -> List[Tile]:
        """The tiles of the passes without gradient."""
        return self.forward_tiles or self.tiles

    def describe(self) -> dict:
        """The report's entry for a level."""
        out = {"tiled": self.tiled, "tile": self.core or None, "tiles": len(self.tiles) if self.tiled else 1,
               "halo": self.halo if self.tiled else None}
        if self.tiled and self.forward_tiles:
            out["forward_tile"], out["forward_tiles"] = self.forward_core, len(self.forward_tiles)
        if self.compact:
            out["compact"] = True
        if self.history is not None:
            out["lbfgs_history"] = self.history
        if self.estimate is not None:
            out["estimate_bytes"] = self.estimate
        if self.note:
            out["note"] = self.note
        return out


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def _balanced(core: int, longest: int) -> int:
    """The smallest core on the grid that needs as few tiles along the longest side as ``core``: the
    same count of windows, none of them a thin sliver at the far edge."""
    n = math.ceil(longest / core)
    return min(core, GRID * math.ceil(math.ceil(longest / n) / GRID))


def plan(size: Tuple[int, int], layers: Sequence[str], options, device, budget: Optional[int] = None,
         regions: int = 0) -> TilePlan:
    """Untiled when no tile is forced and the level fits ``budget`` (or there is none); else the
    largest core (a multiple of 16, at most ``options.tile`` when set) whose window's backward and the
    image-sized state fit the budget. Where even tiles of GOOD_CORE would not fit with the state in
    full precision, the state is compacted (bf16 L-BFGS history and content target), then the
    L-BFGS history shortened (never below 1); ``note`` says so. A budget too small even for a 16-px
    core and the most compact state is a BadInput."""
    h, w = size
    forced = getattr(options, "tile", 0) or 0
    fits = budget is None or untiled_bytes(size, options, device, regions) <= budget
    if fits and (forced == 0 or (h <= forced and w <= forced)):
        return TilePlan(size)
    halo = halo_for(layers)
    longest = GRID * math.ceil(max(h, w) / GRID)
    core = min(longest, forced // GRID * GRID) if forced else longest
    history, compact, note = None, False, None

    def cost(c, k=None, small=False, opts=options):
        return tiled_bytes(size, c, halo, opts, device, k, regions, small)

    if budget is not None:
        m = options.lbfgs_history if options.optimizer == "lbfgs" else None
        smallest = cost(GRID, 1 if m else None, True)
        if smallest > budget:
            adam = dataclasses.replace(options, optimizer="adam")
            hint = ", or use the Adam optimiser (less state per pixel than L-BFGS)" \
                if m and cost(GRID, small=True, opts=adam) <= budget else ""
            raise BadInput(f"a memory budget of {_gb(budget)} is too small for {w}×{h} pixels, even in the "
                           f"smallest tiles (needs about {_gb(smallest)}): raise the budget or lower the size{hint}")
        # the image-sized state is compacted, then the L-BFGS history shortened, only where it would
        # leave no room for tiles of a useful size, where the halo costs less than the core (GOOD_CORE)
        good = min(core, GOOD_CORE)
        if cost(good) > budget:
            compact = True
            done = ["L-BFGS history and content target kept in bf16"] if m else ["content target kept in bf16"]
            if m and cost(good, m, True) > budget:
                history = max([k for k in range(1, m + 1) if cost(good, k, True) <= budget] or [1])
                done = [f"L-BFGS history {m} -> {history}", "history and content target kept in bf16"]
            note = f"{', '.join(done)}, to fit the memory budget of {_gb(budget)}"
        while core > GRID and cost(core, history, compact) > budget:
            core -= GRID
        core = _balanced(core, longest)
    cut = tiles(size, core, halo)
    estimate = None if budget is None else cost(core, history, compact)
    if len(cut) == 1:   # one window over the whole image: the same memory as untiled, without the 2nd pass
        return TilePlan(size, history=history, note=note, compact=compact, estimate=estimate)
    forward_core, forward_cut = 0, []
    if budget is not None:   # the passes without gradient: the largest windows that fit the same budget
        larger = next((c for c in range(longest, core, -GRID)
                       if forward_bytes(size, c, halo, options, device, history, regions, compact)
                       <= budget), 0)
        if larger:
            forward_core = _balanced(larger, longest)
            forward_cut = tiles(size, forward_core, halo)
            estimate = max(estimate, forward_bytes(size, forward_core, halo, options, device, history, regions,
                                                   compact))
    return TilePlan(size, core, halo, cut, history, note, compact, estimate, forward_core, forward_cut)


# ---- the two passes ------------------------------------------------------------------------------
Stats = List[Dict[str, torch.Tensor]]


class Stopped(Exception):
    """Raised between tiles when the job is asked to stop: the step is abandoned, the image kept."""


def _owned_features(features: Dict[str, torch.Tensor], tile: Tile) -> Dict[str, torch.Tensor]:
    return {l: tile.crop(l, f) for l, f in features.items()}


def _add(total: Optional[Stats], part: Stats) -> Stats:
    if total is None:
        return [dict(d) for d in part]
    return [{l: td[l] + pd[l] for l in td} for td, pd in zip(total, part)]


def statistics(features_of: Callable[..., Dict[str, torch.Tensor]], x: torch.Tensor,
               stats_of: Callable, plan: TilePlan, stop: Optional[Callable[[], bool]] = None) -> Stats:
    """Pass 1: the statistics of the whole image, summed tile by tile (no gradient).
    ``features_of(x, within)`` runs the network (``within``: where a window lies, ``Tile.within``);
    ``stats_of(features, tile)`` gives a term list's statistics of features (tile None: the whole image)."""
    with torch.no_grad():
        if not plan.tiled:
            return stats_of(features_of(x), None)
        total = None
        for tile in plan.forward:
            if stop is not None and stop():
                raise Stopped
            total = _add(total, stats_of(_owned_features(features_of(tile.input(x), tile.within), tile), tile))
        return total


def features(features_of: Callable[..., Dict[str, torch.Tensor]], x: torch.Tensor, plan: TilePlan,
             dtype: torch.dtype = torch.float32) -> Dict[str, torch.Tensor]:
    """Image-sized feature maps (forward only), assembled from every tile's owned positions, stored
    in ``dtype`` (COMPACT for a content target that must be small)."""
    with torch.no_grad():
        if not plan.tiled:
            return {l: f.to(dtype) for l, f in features_of(x).items()}
        out: Dict[str, torch.Tensor] = {}
        for tile in plan.forward:
            for l, f in _owned_features(features_of(tile.input(x), tile.within), tile).items():
                if l not in out:
                    s = STRIDE[l]
                    out[l] = torch.zeros((1, f.shape[1], plan.size[0] // s, plan.size[1] // s), device=x.device,
                                         dtype=dtype)
                tile.take(l, out[l]).copy_(f)
        return out


def value_and_grad(features_of: Callable, objective, x: torch.Tensor, plan: TilePlan,
                   stop: Optional[Callable[[], bool]] = None):
    """The objective's ``Losses`` at x (detached) with x.grad set to its exact gradient, in two
    passes over the tiles (module docstring). Raises ``Stopped`` between tiles when ``stop()``."""
    stats_of = objective.statistics
    total = statistics(features_of, x, stats_of, plan, stop)
    leaves = [{l: s.detach().requires_grad_(True) for l, s in d.items()} for d in total]
    with torch.enable_grad():
        losses = objective.losses(leaves, x.device)
        if losses.total.requires_grad:
            losses.total.backward()
    seeds = [{l: s.grad for l, s in d.items() if s.grad is not None} for d in leaves]
    grad = torch.zeros_like(x)
    for tile in plan.tiles:
        if stop is not None and stop():
            raise Stopped
        xt = tile.input(x).detach().requires_grad_(True)
        with torch.enable_grad():
            part = stats_of(_owned_features(features_of(xt, tile.within), tile), tile)
            surrogate = sum((seed[l] * p[l]).sum() for seed, p in zip(seeds, part) for l in seed)
        if isinstance(surrogate, torch.Tensor) and surrogate.requires_grad:
            surrogate.backward()
            y0, y1, x0, x1 = tile.window
            grad[..., y0:y1, x0:x1] += xt.grad
    x.grad = grad
    return type(losses)(*(v.detach() if isinstance(v, torch.Tensor) else [p.detach() for p in v] for v in losses))
