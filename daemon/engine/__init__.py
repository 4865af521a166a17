"""The style engine: Gatys et al. 2016 + "Controlling Perceptual Factors" (2017), in PyTorch.

Public API (plain functions; the engine knows nothing of sockets or messages):

    model = load_model(ModelSpec(weights="original", pooling="avg", device="auto"))
    result = stylize(model, content, styles, TransferOptions(...), regions=[Region(...)],
                     init_image=None, cache=TargetCache(), callback=fn, should_stop=fn)
    mixed = mix_styles(model, coarse, fine, size=512, steps=200)

Images are numpy uint8 H×W×3 RGB; masks float32 H×W in [0, 1] (see ``options``).
``callback(Progress)`` is called after every step; ``should_stop()`` is polled every step and a True
stops the run, returning the current image with ``result.cancelled = True``.
"""
from .cache import TargetCache
from .errors import BadInput, EmptyRegion, EngineError, OutOfMemory, WeightsUnavailable
from .options import ModelSpec, Progress, Region, Report, TransferOptions, TransferResult
from .presets import PRESETS, apply_preset
from .transfer import mix_styles, objective, stylize, warm_up
from .vgg import Model, load_model, resolve_device

__all__ = [
    "BadInput", "EmptyRegion", "EngineError", "OutOfMemory", "WeightsUnavailable",
    "ModelSpec", "Progress", "Region", "Report", "TransferOptions", "TransferResult",
    "PRESETS", "apply_preset", "TargetCache",
    "Model", "load_model", "resolve_device", "mix_styles", "objective", "stylize", "warm_up",
]
