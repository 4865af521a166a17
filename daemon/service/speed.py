"""The daemon's measured speed, per device, and a job's time estimated from it before it starts.

One optimisation step (L-BFGS or Adam: one forward and one backward pass through VGG-19, ``optim``)
costs a fixed overhead plus a part that grows linearly with the pixels, so a job of pyramid levels
l = 1..L (the engine's ``scale.pyramid_sizes``; the style mix counted as one more level) takes about

    t_job ≈ Σ_l  steps_l · (a + r · MP_l · (k if level l runs in tiles else 1))

r = seconds per step per megapixel, a = seconds per step whatever the size (launches, Python), k = the
cost of exact tiles per pixel against one piece (the halo recomputed, two passes; ``engine.tiling``).
a and a first r come from the warm-up: one forward + backward timed at two sizes. Every finished job
then updates r (its untiled levels) and k (its tiled ones) from its report's per-level size, steps and
seconds, as an exponential moving average over jobs, so the estimate follows the device as it is used.
Jobs too small to say anything about the per-pixel cost (the overhead is most of their time) only
leave r as it was.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

TILED_FACTOR = 1.5       # k before any tiled job ran: the goal is ≤ 2× on a CPU, ≤ 1.6× on a GPU
ALPHA = 0.3              # weight of the newest job in the moving average (the warm-up counts as one job)
PIXEL_SHARE = 0.5        # a sample teaches r only when the per-pixel part is at least this share of its time

Work = Tuple[int, int, bool]   # (pixels, steps, tiled) of one level


@dataclass
class Rate:
    """What one device has shown: the wire's ``speed`` object, less its device name."""
    s_per_step_per_mp: float
    s_per_step: float = 0.0          # the overhead a
    tiled_factor: float = TILED_FACTOR
    samples: int = 1                 # the warm-up and every job that taught r
    tiled_samples: int = 0
    source: str = "warm-up"          # "warm-up" until a job taught r, then "jobs"


def probe(run: Callable[[Tuple[int, int]], None], sizes: Sequence[Tuple[int, int]], repeats: int = 2) -> Rate:
    """r and a from one forward + backward (``run(size)``) timed at two sizes, the fastest of
    ``repeats`` tries each (the first may still pay for allocations; a busy machine adds noise)."""
    (h1, w1), (h2, w2) = sizes
    t = []
    for size in sizes:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            run(size)
            best = min(best, time.perf_counter() - t0)
        t.append(best)
    mp1, mp2 = h1 * w1 / 1e6, h2 * w2 / 1e6
    r = (t[1] - t[0]) / (mp2 - mp1)
    if r <= 0:                 # noise (a busy machine): the larger size alone, with no overhead
        return Rate(s_per_step_per_mp=t[1] / mp2)
    a = min(max(0.0, t[0] - r * mp1), t[0])
    return Rate(s_per_step_per_mp=r, s_per_step=a)


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
        "samples", "source"}; None before the warm-up measured anything."""
        r = self.get(device)
        if r is None:
            return None
        return {"device": device, "s_per_step_per_mp": _sig(r.s_per_step_per_mp), "s_per_step": _sig(r.s_per_step),
                "tiled_factor": round(r.tiled_factor, 3), "samples": r.samples, "source": r.source}

    def estimate(self, device: str, work: Iterable[Work]) -> Optional[float]:
        """Seconds for the levels of ``work`` on ``device``; None when its speed is unknown."""
        r = self.get(device)
        if r is None:
            return None
        return sum(steps * (r.s_per_step + r.s_per_step_per_mp * px / 1e6 * (r.tiled_factor if tiled else 1.0))
                   for px, steps, tiled in work)

    def learn(self, device: str, report: dict) -> None:
        """Update ``device``'s rate from a finished job's report (its "levels" and "mix": size [h, w],
        steps, seconds, tiled). Cancelled jobs ran fewer steps than their levels say: not used."""
        if report.get("cancelled") or not report.get("steps_done"):
            return
        levels = [l for l in [*report.get("levels", []), report.get("mix")] if isinstance(l, dict)]
        with self._lock:
            r = self._rates.get(_key(device))
            if r is None:
                return
            for tiled in (False, True):
                secs = steps = work = 0.0
                for l in levels:
                    try:
                        if bool(l.get("tiled")) == tiled and l["steps"] > 0:
                            secs += float(l["seconds"])
                            steps += l["steps"]
                            work += l["steps"] * l["size"][0] * l["size"][1] / 1e6
                    except (KeyError, TypeError, IndexError, ValueError):
                        continue
                pixel_part = secs - r.s_per_step * steps
                if work <= 0 or pixel_part < PIXEL_SHARE * secs:
                    continue
                if not tiled:
                    r.s_per_step_per_mp = _average(r.s_per_step_per_mp, pixel_part / work, r.samples)
                    r.samples += 1
                    r.source = "jobs"
                else:
                    k = pixel_part / work / r.s_per_step_per_mp
                    r.tiled_factor = _average(r.tiled_factor, k, r.tiled_samples) if r.tiled_samples else k
                    r.tiled_samples += 1


def job_work(sizes: Sequence[Tuple[int, int]], steps: Sequence[int], tiled: Callable[[Tuple[int, int]], bool],
             mix: Optional[Tuple[Tuple[int, int], int]] = None) -> List[Work]:
    """The levels of a job as (pixels, steps, tiled): ``sizes`` and ``steps`` coarsest first, and the
    style mix's size and steps when the job mixes scales."""
    levels = list(zip(sizes, steps))
    if mix is not None:
        levels.insert(0, mix)
    return [(h * w, n, tiled((h, w))) for (h, w), n in levels if n > 0]


def options_work(h: int, w: int, options, tiled: Callable[[Tuple[int, int]], bool] = lambda _s: False,
                 style_hw: Optional[Tuple[int, int]] = None) -> List[Work]:
    """``job_work`` of a job on an h×w content with these engine options: its pyramid
    (``scale.pyramid_sizes``: ``levels``, ``steps`` at the final size, ``coarse_steps`` below it) and
    the style mix, at the style image's pixel count scaled to the output's (``style_hw``; the final
    size where the style is not known yet, as for an ``estimate`` request)."""
    from ..engine.scale import fit_pixels, pyramid_sizes
    o = options
    sizes = pyramid_sizes(h, w, o.size, o.levels)
    coarse = o.steps if o.coarse_steps is None else o.coarse_steps
    mix = None
    if o.scale_mix:
        final = sizes[-1]
        mix_size = fit_pixels(*style_hw, final[0] * final[1] * o.style_scale) if style_hw else final
        mix = (mix_size, o.steps if o.mix_steps is None else o.mix_steps)
    return job_work(sizes, [coarse] * (len(sizes) - 1) + [o.steps], tiled, mix)


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
