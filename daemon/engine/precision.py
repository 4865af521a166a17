"""Where reduced precision is safe, and where it is not.

The VGG convolutions (forward and their backward) run in bfloat16 under autocast when
``TransferOptions.fast`` is on and the device does bf16 natively: CUDA GPUs with bf16 (Ampere and
newer) and CPUs with native bf16 instructions (AVX512-BF16 / AMX; not plain AVX512, where oneDNN
emulates bf16 at half fp32's speed). bf16 keeps fp32's exponent range;
fp16 does not (largest value 65504): its Gram matrices overflow to inf/NaN, as users of other style
transfer tools have reported, so it is never used. The Gram matrices, the losses, the image and
the optimiser state stay fp32 (``losses.gram`` casts the bf16 features to fp32 before its matmul, so
the Gram is exact for them; its backward product, whose result is the bf16 features' gradient, runs
in bf16). The weights are cast to bf16 once (``Model._weights_for_autocast``). On CUDA the fp32
matmuls may use TF32. The parity test (``tests/test_speed.py``) holds the fast path to within 2 % of
the fp32 path's final loss; BENCHMARKS.md records what each precision measured.
"""
from __future__ import annotations

import contextlib
import functools

import torch


@functools.lru_cache(maxsize=None)
def _cpu_bf16() -> bool:
    """Native bf16 on this CPU (AVX512-BF16 or AMX). oneDNN's own ``_is_mkldnn_bf16_supported`` also
    says yes on plain AVX512 CPUs, where it EMULATES bf16: a step there took twice as long as in fp32
    (BENCHMARKS.md, "Time to quality"), so only the instructions themselves count."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:   # an older torch without these probes: fp32, the safe choice
        return False


def bf16_available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16()
    return False


def autocast(device: torch.device, fast: bool):
    """bf16 autocast for the network when ``fast`` and the device supports it; else a no-op."""
    if fast and bf16_available(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure(device: torch.device) -> None:
    """Process-wide settings for speed: TF32 for fp32 matmuls and cuDNN autotuning on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
