"""The daemon's measured speed, per device, and a job's time priced from its plan before it starts.

A job's time is priced from its ``engine.plan.JobPlan``, the same object the engine runs. One
optimisation step at a level of P megapixels whose network runs to layer d costs

    t_step = a + r · s_d · P · (k if the level runs in tiles else 1)

r = seconds per step per megapixel through relu5_1, s_d = the share of that cost of a network cut at
d (a finishing level stops at relu3_1: ``engine.finishing``), a = seconds per step whatever the size
(launches, Python), k = the cost of exact tiles per pixel against one piece (the halo recomputed, two
passes; ``engine.tiling``). Each level also pays once for its targets (one forward at the level's size
and at its style images' sizes, ``FORWARD_SHARE`` of a step each), and the job for its final losses:

    t_job = Σ_levels [ steps · t_step + FORWARD_SHARE · r · (P + Σ P_style) ] + FORWARD_SHARE · r · P_final

a, r and s_d come from the warm-up: one forward + backward timed at two sizes, and at the larger one
cut at each depth a plan uses. Steps cost more than the bare network (the optimiser's image-sized
work, the Gram losses): ``STEP_FACTOR`` covers that before any job ran. Every finished job then
scales r by how far its real step times were from the price (a moving average of the ratio, in log
space, each job's ratio clamped to [1/2, 2]), each shallower depth's share s_d from its untiled
levels of that depth, and k from its tiled levels. A level under
``LEARN_MIN_MP`` megapixels teaches nothing: its time is mostly overhead, and one 16-px job must not
move the price of a 512-px one. The same price, level by level, gives the progress's time left.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

TILED_FACTOR = 2.0       # k before any tiled job ran (measured 1.8-2.0× on a CPU; a GPU job learns its own)
ALPHA = 0.3              # weight of the newest job in the moving average (the warm-up counts as one job)
LEARN_MIN_MP = 0.04      # levels smaller than this (200×200) teach nothing
FORWARD_SHARE = 0.35     # a forward without gradient, as a share of a step's network cost
STEP_FACTOR = 1.1        # a real step against the bare forward + backward the warm-up times (the
                         # optimiser's image-sized work, the losses): 1.07 at 512 px, 1.19 at 1024 px
DEPTHS = ("relu2_1", "relu3_1", "relu4_1", "relu5_1")   # the cuts the warm-up times (relu4_2 ~ relu5_1)


def depth_of(layer: str) -> str:
    """The timed cut that covers a network running to ``layer``."""
    return next((d for d in DEPTHS if layer <= d), "relu5_1")


@dataclass
class Rate:
    """What one device has shown: the wire's ``speed`` object, less its device name."""
    s_per_step_per_mp: float
    s_per_step: float = 0.0          # the overhead a
    tiled_factor: float = TILED_FACTOR
    samples: int = 1                 # the warm-up and every job that taught r
    tiled_samples: int = 0
    source: str = "warm-up"          # "warm-up" until a job taught r, then "jobs"
    depth_share: Dict[str, float] = field(default_factory=dict)   # s_d; missing = 1

    def share(self, layer: str) -> float:
        return self.depth_share.get(depth_of(layer), 1.0)


def probe(run: Callable[..., None], sizes: Sequence[Tuple[int, int]], repeats: int = 2,
          depths: Sequence[str] = ()) -> Rate:
    """r and a from one forward + backward (``run(size)``) timed at two sizes, the fastest of
    ``repeats`` tries each (the first may still pay for allocations; a busy machine adds noise), and
    the share s_d of each of ``depths`` (``run(size, depth)``) at the larger size."""
    (h1, w1), (h2, w2) = sizes

    def best(*args) -> float:
        t = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            run(*args)
            t = min(t, time.perf_counter() - t0)
        return t

    t = [best(size) for size in sizes]
    mp1, mp2 = h1 * w1 / 1e6, h2 * w2 / 1e6
    r = (t[1] - t[0]) / (mp2 - mp1)
    if r <= 0:                 # noise (a busy machine): the larger size alone, with no overhead
        rate = Rate(s_per_step_per_mp=t[1] / mp2 * STEP_FACTOR)
    else:
        a = min(max(0.0, t[0] - r * mp1), t[0])
        rate = Rate(s_per_step_per_mp=r * STEP_FACTOR, s_per_step=a)
    full = max(1e-9, t[1] - rate.s_per_step)
    for d in depths:
        if d != "relu5_1":
            rate.depth_share[d] = min(1.0, max(0.1, (best(sizes[1], d) - rate.s_per_step) / full))
    return rate


def price(rate: Rate, plan) -> List[Tuple[float, float]]:
    """Each level of ``plan`` (an ``engine.plan.JobPlan``) as (seconds before its first step, seconds
    per step); the final losses' forward is added to the last level's fixed part."""
    out = []
    r, a = rate.s_per_step_per_mp, rate.s_per_step
    for level in plan.levels:
        mp = level.pixels / 1e6
        tiled = rate.tiled_factor if level.tiles.tiled else 1.0
        per_step = a + r * rate.share(level.depth) * mp * tiled
        style_mp = sum(h * w for h, w in level.style_sizes) / 1e6
        out.append((FORWARD_SHARE * r * (mp + style_mp), per_step))
    if out:
        final_mp = plan.final_size[0] * plan.final_size[1] / 1e6
        fixed, per_step = out[-1]
        out[-1] = (fixed + FORWARD_SHARE * r * final_mp, per_step)
    return out


def plan_seconds(rate: Rate, plan) -> float:
    """The whole job's price."""
    return sum(fixed + level.steps * per_step for (fixed, per_step), level in zip(price(rate, plan), plan.levels))


def seconds_left(rate: Rate, plan, level: int, step: int, mix: bool = False) -> float:
    """The price of what is left after ``step`` steps of transfer level ``level`` (or of the mix)."""
    priced = list(zip(price(rate, plan), plan.levels))
    current = 0 if mix else level + (1 if plan.mix is not None else 0)
    left = 0.0
    for i, ((fixed, per_step), lp) in enumerate(priced):
        if i == current:
            left += max(0, lp.steps - step) * per_step
        elif i > current:
            left += fixed + lp.steps * per_step
    return left


class Speed:
    """The per-device rates; the worker writes, the server's ``hello``/``status`` read (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rates = {}

    def set(self, device: str, rate: Rate) -> None:
        with self._lock:
            self._rates[_key(device)] = rate

    def get(self, device: str) -> Optional[Rate]:
        with self._lock:
            r = self._rates.get(_key(device))
            return None if r is None else Rate(**asdict(r))

    def describe(self, device: str) -> Optional[dict]:
        """The wire's ``speed``: {"device", "s_per_step_per_mp", "s_per_step", "tiled_factor",
        "samples", "source", "depth_share"}; None before the warm-up measured anything."""
        r = self.get(device)
        if r is None:
            return None
        return {"device": device, "s_per_step_per_mp": _sig(r.s_per_step_per_mp), "s_per_step": _sig(r.s_per_step),
                "tiled_factor": round(r.tiled_factor, 3), "samples": r.samples, "source": r.source,
                "depth_share": {d: round(v, 3) for d, v in r.depth_share.items()}}

    def estimate(self, device: str, plan) -> Optional[float]:
        """Seconds for ``plan`` (an ``engine.plan.JobPlan``) on ``device``; None when its speed is unknown."""
        r = self.get(device)
        return None if r is None else plan_seconds(r, plan)

    def learn(self, device: str, report, plan) -> None:
        """Update ``device``'s rate from a finished job's ``engine.Report`` (its mix and levels: steps
        run and seconds) against ``plan``'s price, per kind of level: the full network's untiled levels
        teach r, each shallower depth its share s_d, tiled levels k. Cancelled jobs are not used, nor
        levels under LEARN_MIN_MP."""
        if report.cancelled or not report.steps_done:
            return
        ran = [l for l in [report.mix, *report.levels] if isinstance(l, dict)]
        with self._lock:
            r = self._rates.get(_key(device))
            if r is None or len(ran) != len(plan.levels):
                return
            groups: Dict[Tuple[bool, str], List[float]] = {}   # (tiled, depth) -> [actual, priced]
            for l, lp, (_fixed, per_step) in zip(ran, plan.levels, price(r, plan)):
                try:
                    steps = int(l["steps"])
                    secs = float(l["seconds"]) - float(l.get("targets_seconds") or 0.0)
                except (KeyError, TypeError, ValueError):
                    continue
                if lp.pixels / 1e6 < LEARN_MIN_MP or steps <= 0 or secs <= 0:
                    continue
                g = groups.setdefault((lp.tiles.tiled, depth_of(lp.depth)), [0.0, 0.0])
                g[0] += secs - r.s_per_step * steps
                g[1] += (per_step - r.s_per_step) * steps
            untiled_full = groups.pop((False, "relu5_1"), None)
            if untiled_full and untiled_full[0] > 0 and untiled_full[1] > 0:
                alpha = max(ALPHA, 1.0 / (r.samples + 1))
                r.s_per_step_per_mp *= _step(untiled_full, alpha)
                r.samples += 1
                r.source = "jobs"
            for (tiled, depth), g in groups.items():
                if g[0] <= 0 or g[1] <= 0:
                    continue
                if tiled:
                    k = r.tiled_factor * _step(g, 1.0)
                    r.tiled_factor = _average(r.tiled_factor, k, r.tiled_samples) if r.tiled_samples else k
                    r.tiled_samples += 1
                else:
                    r.depth_share[depth] = min(1.0, r.share(depth) * _step(g, max(ALPHA, 0.5)))
                    r.source = "jobs"


def _step(group: List[float], alpha: float) -> float:
    """The factor that moves a price toward what a group of levels took: (actual / priced)^alpha,
    the ratio clamped to [1/2, 2] (one odd job moves a price at most that far)."""
    ratio = min(2.0, max(0.5, group[0] / group[1]))
    return math.exp(alpha * math.log(ratio))


def duration(seconds: float) -> str:
    """A time for a person: "40 s", "3 min 20 s", "2 h 05 min"."""
    s = max(1, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    m = int(round(s / 60))
    return f"{m // 60} h {m % 60:02d} min"


def sentence(seconds: float, device: str, rate: Optional[Rate]) -> str:
    """The progress text of an estimate: "about 3 min 20 s on cpu (estimated from earlier jobs)"."""
    source = "earlier jobs" if rate is not None and rate.source == "jobs" else "the daemon's warm-up"
    return f"about {duration(seconds)} on {device} (estimated from {source})"


def _key(device: str) -> str:
    """One record per device: "cuda" and "cuda:0" are the same one."""
    device = str(device)
    return device[:-2] if device.endswith(":0") else device


def _average(old: float, new: float, samples: int) -> float:
    """Moving average: the first job after the warm-up weighs 1/2, later ones ``ALPHA``."""
    alpha = max(ALPHA, 1.0 / (samples + 1))
    return (1 - alpha) * old + alpha * new


def _sig(x: float) -> float:
    """Four significant digits (the wire carries a measurement, not a float's noise)."""
    return float(f"{x:.4g}")
