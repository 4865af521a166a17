"""Will a job fit? The memory plan before a job starts and the fallback after an out-of-memory.

The whole policy is here, the size floor computed in one place (``size_floor``):

- ``place`` (before anything big is allocated): estimate the job's peak at the requested size and
  compare it with what the job may use on the daemon's device (``available_bytes``). When it does
  not fit, run it in exact tiles at the requested size (``engine.tiling.plan``: the same result,
  slower per pixel) where even the smallest tiles fit. Only where they do not: on a GPU, lower the top pyramid level (the result is scaled up to the requested
  size) down to the floor, half the requested long edge; below that, move to the CPU if the CPU
  plan has room at the requested size. On the CPU nothing is lowered. A job that fits nowhere is
  refused with ``TooLarge``, naming the largest size that would fit.
- ``after_oom`` (an out-of-memory while the job ran): on a GPU, 0.7× the size down to the floor,
  then the CPU (checked against the CPU plan); on the CPU, the floor once; then give up.

Estimates: one source, the job's plan (``engine.plan.plan_job``: each level's bytes in one piece or in
its tiles, and the job's peak), made here for each size and device tried (``job_plan``,
``peak_bytes``); the engine runs the same plan, so what is placed here is what runs. The figures
behind it (``engine.tiling``) are deliberately on the high side. GPU
figures from the engine's measurements: the backward through relu5_1 saves about 1.5 kB per pixel in
fp32 (0.9 kB in bf16) with observed peaks 1.8-2.4x that; L-BFGS keeps 2 image-sized vectors per
remembered step. CPU figures: the growth of a process's peak resident memory (ru_maxrss) over one
job, a 16x16 content and a 40x40 style, L-BFGS, torch 2.13 on x86-64, measured 73 MB at 128 px, 195
MB at 256, 571 MB at 512, 1.20 GB at 768 (about 60 MB + 1.95 kB per output pixel); the engine counts
100 MB + 1.5 kB of activations, the image-sized state (0.66 kB with the default options) and the style
image (1.8 kB per output pixel at style scale 1), about 2x those.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..engine import BadInput, EngineError, TransferOptions
from ..engine.plan import JobPlan, plan_job

MIN_SIDE = 64                     # never plan below this long edge
MIN_TILE = 128                    # the smallest tile core the automatic plan uses (the halo is 70 px)
MIN_FRACTION = 0.5                # lower the size at most to half; below that the CPU is better


class TooLarge(EngineError):
    """The job cannot fit in the memory this daemon may use; the message names what would."""

    code = "too_large"


def size_floor(requested: int) -> int:
    """The smallest long edge a GPU job is lowered to before it moves to the CPU."""
    return max(MIN_SIDE, int(requested * MIN_FRACTION))


def job_plan(h: int, w: int, options: TransferOptions, size: int, device: torch.device, regions: int = 0,
             style_hws=(), budget: Optional[int] = None) -> JobPlan:
    """The plan of this job (content h×w) at long edge ``size`` on ``device``, its levels in one piece
    (``budget`` None) or tiled to fit ``budget`` bytes (BadInput where even tiles do not)."""
    return plan_job((h, w), dataclasses.replace(options, size=size), list(style_hws), device, budget, regions)


def peak_bytes(h: int, w: int, options: TransferOptions, size: int, device: torch.device, regions: int = 0,
               style_hws=()) -> int:
    """Peak bytes of the job at long edge ``size`` with every level in one piece (its plan's peak)."""
    return job_plan(h, w, options, size, device, regions, style_hws).peak_bytes


def free_bytes(device: torch.device) -> Optional[int]:
    """Free memory on ``device``: free GPU memory (CUDA, what PyTorch holds unused included), the
    machine's available RAM (CPU); None where unknown (MPS)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        reusable = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(0, reusable))
    if device.type == "cpu":
        return available_ram()
    return None


def available_ram() -> Optional[int]:
    """MemAvailable from /proc/meminfo, else the free physical pages (os.sysconf); None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


FreeFn = Callable[[torch.device], Optional[int]]


CPU_SHARE = 0.5                   # with no budget set, a CPU job takes at most this share of the available RAM,
CPU_DEFAULT_BUDGET = 3 << 30      # and at most this: a 12-megapixel layer must not grow the daemon past a few GB
                                  # beside GIMP; the large levels are finishing levels, whose shallow network
                                  # runs in tiles at little extra cost (engine.finishing)


def available_bytes(device: torch.device, budget: Optional[int] = None, free: FreeFn = free_bytes) -> Optional[int]:
    """What a job may use on ``device``: the free memory, capped by the budget; None = unknown. With
    no budget on the CPU: ``CPU_SHARE`` of the available RAM, at most ``CPU_DEFAULT_BUDGET``."""
    have = free(device)
    if not budget and have is not None and torch.device(device).type == "cpu":
        have = min(int(have * CPU_SHARE), CPU_DEFAULT_BUDGET)
    if budget and have is not None:
        return min(budget, have)
    return budget or have


def largest_size(h: int, w: int, options: TransferOptions, device: torch.device, avail: int, regions: int = 0,
                 style_hws=()) -> int:
    """The largest long edge (at most the requested one) whose plan fits in ``avail``; 0 if none."""
    lo, hi = 0, options.size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        need = _peak_at(h, w, options, mid, device, regions, style_hws)
        if need is not None and need <= avail:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class Placement:
    size: int                    # long edge to run at
    device: torch.device         # device to run on
    message: Optional[str]       # what changed and why, for a progress message and the report
    estimate: int                # bytes expected at the chosen size


def place(h: int, w: int, options: TransferOptions, device: torch.device, budget: Optional[int] = None,
          free: FreeFn = free_bytes, regions: int = 0, style_hws=()) -> Placement:
    """Size and device for a job with content h×w (style images ``style_hws``) so that its plan fits
    (in tiles if need be); TooLarge when nothing does."""
    requested = options.size
    need = peak_bytes(h, w, options, requested, device, regions, style_hws)
    avail = available_bytes(device, budget, free)
    if avail is None or need <= avail:
        return Placement(requested, device, None, need)
    short = f"not enough memory on {device} for {requested} px (needs about {_gb(need)}, {_gb(avail)} free)"
    tiles = _tiles(h, w, options, device, avail, regions, style_hws)
    if tiles is not None:
        return Placement(requested, device, f"{short} in one piece: working in {tiles}" if tiles else None, avail)
    if device.type != "cpu":
        floor = size_floor(requested)
        size = requested
        while size > floor:
            size = max(floor, int(size * 0.9))
            est = _peak_at(h, w, options, size, device, regions, style_hws)
            if est is not None and est <= avail:
                return Placement(size, device, f"{short}: working at {size} px and scaling the result up to "
                                          f"{requested} px", est)
    cpu = torch.device("cpu")
    cpu_avail = available_bytes(cpu, budget, free) if device.type != "cpu" else avail
    if device.type != "cpu":
        cpu_need = peak_bytes(h, w, options, requested, cpu, regions, style_hws)
        if cpu_avail is None or cpu_need <= cpu_avail:
            return Placement(requested, cpu, f"{short}: running on the CPU instead (slower)", cpu_need)
        tiles = _tiles(h, w, options, cpu, cpu_avail, regions, style_hws)
        if tiles is not None:
            return Placement(requested, cpu, f"{short}: running on the CPU instead (slower)" + (f", in {tiles}" if tiles else ""),
                             cpu_avail)
    best = largest_size(h, w, options, cpu, cpu_avail, regions, style_hws)
    if device.type != "cpu":
        best = max(best, largest_size(h, w, options, device, avail, regions, style_hws))
    raise TooLarge(_too_large_message(requested, need, avail, best, budget))


def _peak_at(h: int, w: int, options: TransferOptions, size: int, device: torch.device, regions: int,
             style_hws) -> Optional[int]:
    """``peak_bytes`` at a lowered ``size``; None where the job cannot be planned there (an output
    under VGG-19's smallest size)."""
    try:
        return peak_bytes(h, w, options, size, device, regions, style_hws)
    except BadInput:
        return None


def _tiles(h: int, w: int, options: TransferOptions, device: torch.device, avail: Optional[int], regions: int,
           style_hws=()) -> Optional[str]:
    """Where the job's plan fits ``avail`` with its large levels in exact tiles, what the top tiled level
    runs in (for the progress text); else None. Tiles under MIN_TILE are declined, and on a GPU a plan
    that must shorten the L-BFGS history (a smaller size, then the CPU, serve the artist better); on the
    CPU, where nothing is lowered, a shortened history is taken and said."""
    if avail is None:
        return None
    try:
        plan = job_plan(h, w, options, options.size, device, regions, style_hws, budget=avail)
    except BadInput:
        return None
    tiled = [l.tiles for l in plan.levels if l.tiles.tiled]
    if any(p.core < MIN_TILE for p in tiled) or (device.type != "cpu" and any(
            l.tiles.history is not None for l in plan.levels)):
        return None   # tiny tiles, or on a GPU a shorter L-BFGS memory: a smaller size serves the artist better
    top = plan.levels[-1].tiles
    if not top.tiled:
        return f"the whole image ({top.note})" if top.note else ""   # fits after all (style targets tiled)
    return f"{len(top.tiles)} tiles of {top.core} px (the same result, slower per pixel)" + (f"; {top.note}" if top.note else "")


def after_oom(h: int, w: int, options: TransferOptions, size: int, device: torch.device,
              budget: Optional[int] = None, free: FreeFn = free_bytes, regions: int = 0,
              style_hws=()) -> Optional[Placement]:
    """What to try after an out-of-memory at ``size`` on ``device``; None = give up."""
    floor = size_floor(options.size)

    def need(at, dev):
        return _peak_at(h, w, options, at, dev, regions, style_hws) or 0
    if device.type != "cpu" and size > floor:
        size = max(floor, int(size * 0.7))
        return Placement(size, device, f"retrying at {size} px", need(size, device))
    if device.type != "cpu":
        cpu = torch.device("cpu")
        cpu_need = need(options.size, cpu)
        avail = available_bytes(cpu, budget, free)
        if avail is not None and cpu_need > avail:
            return None
        return Placement(options.size, cpu, "retrying on the CPU (slower)", cpu_need)
    if size > floor:
        return Placement(floor, device, f"retrying at {floor} px", need(floor, device))
    return None


def _too_large_message(requested: int, need: int, avail: int, best: int, budget: Optional[int]) -> str:
    what = "the memory budget" if budget and avail >= budget else "the free memory"
    head = f"a job at {requested} px needs about {_gb(need)}, more than {what} ({_gb(avail)})"
    if best >= 1:
        return f"{head}; the largest size that fits is {best} px (ask for size {best} or less)"
    return f"{head}; not even the smallest size fits"


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n < 1e9 else f"{n / 1e9:.1f} GB"


def process_rss() -> Optional[int]:
    """Resident memory of this process in bytes (None where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import resource
        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r if os.uname().sysname == "Darwin" else r * 1024
    except Exception:
        return None


def memory_status(device: torch.device) -> dict:
    out = {"process_rss": process_rss(), "available": free_bytes(torch.device("cpu"))}
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        out.update(device_total=int(total), device_free=int(free),
                   device_allocated=int(torch.cuda.memory_allocated(device)),
                   device_reserved=int(torch.cuda.memory_reserved(device)),
                   device_peak=int(torch.cuda.max_memory_allocated(device)))
    return out


def free_device_memory(device: torch.device) -> None:
    import gc
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
