"""Will a job fit? A rough memory estimate before it starts, and what to do when it would not.

Figures from docs (../shared/reference/performance.md): the backward through relu5_1 saves about
1.5 kB per pixel in fp32 (0.9 kB in bf16), with observed peaks 1.8-2.4x that; L-BFGS keeps 2 image-
sized vectors per remembered step. The estimate is deliberately on the high side.

Fallback order when the top level would not fit: lower the top pyramid level (the result is then
scaled up to the requested size) down to half the requested long edge; below that, run on the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch

from ..engine import TransferOptions
from ..engine.scale import fit_long_edge

BASE_BYTES = 300 << 20            # weights, allocator slack, style targets
MIN_FRACTION = 0.5                # lower the size at most to half; below that the CPU is better


def bytes_per_pixel(options: TransferOptions, device: torch.device) -> float:
    fast = options.fast and device.type == "cuda"
    act = (900 if fast else 1500) * 2.4
    lbfgs = 2 * options.lbfgs_history * 3 * 4 if options.optimizer == "lbfgs" else 3 * 3 * 4
    return act + lbfgs + 64


def estimate_bytes(h: int, w: int, options: TransferOptions, device: torch.device) -> int:
    """Peak bytes of a job whose top level is h×w (style images at style_scale included)."""
    px = h * w
    style_px = px * options.style_scale
    return int(BASE_BYTES + px * bytes_per_pixel(options, device) + style_px * 1500 * 1.2)


def available_bytes(device: torch.device, budget: Optional[int] = None) -> Optional[int]:
    """What a job may use on ``device``: the budget when given, else free GPU memory (CUDA);
    None = no check (CPU/MPS without a budget)."""
    if budget:
        return budget
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        reusable = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(0, reusable))
    return None


@dataclass
class Plan:
    size: int                    # long edge to run at
    device: torch.device         # device to run on
    message: Optional[str]       # what changed and why, for a progress message and the report
    estimate: int                # bytes expected at the chosen size


def plan(h: int, w: int, options: TransferOptions, device: torch.device, budget: Optional[int] = None) -> Plan:
    """Choose size and device for a job with content h×w so that the estimate fits."""
    fh, fw = fit_long_edge(h, w, options.size)
    need = estimate_bytes(fh, fw, options, device)
    avail = available_bytes(device, budget)
    if avail is None or need <= avail:
        return Plan(options.size, device, None, need)
    size = options.size
    floor = max(64, int(options.size * MIN_FRACTION))
    while size > floor:
        size = max(floor, int(size * 0.9))
        sh, sw = fit_long_edge(h, w, size)
        est = estimate_bytes(sh, sw, options, device)
        if est <= avail:
            return Plan(size, device, f"not enough memory on {device} for {options.size} px (needs about "
                                      f"{_gb(need)}, {_gb(avail)} free): working at {size} px and scaling "
                                      f"the result up to {options.size} px", est)
    if device.type != "cpu":
        cpu = torch.device("cpu")
        return Plan(options.size, cpu, f"not enough memory on {device} for {options.size} px (needs about "
                                       f"{_gb(need)}, {_gb(avail)} free): running on the CPU instead (slower)",
                    estimate_bytes(fh, fw, options, cpu))
    return Plan(floor, device, f"not enough memory for {options.size} px (needs about {_gb(need)}, "
                               f"{_gb(avail)} allowed): working at {floor} px and scaling the result up", need)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


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
    out = {"process_rss": process_rss()}
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
