"""Between the wire and the engine: pixel frames <-> numpy arrays, option dicts <-> TransferOptions.

Wire images are 8-bit RGBA; the engine works on RGB, so alpha is stripped on the way in and the
content's alpha is put back on the result (resized to the result when the size differs).
Wire masks are 8-bit grey (255 = inside); the engine takes float32 in [0, 1].
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np
from PIL import Image

from shared.protocol import ImageData, MaskData

from ..engine import Region, TransferOptions, apply_preset
from ..engine.errors import BadInput
from ..engine.options import SIZE_MAX, usable_levels
from ..engine.scale import fit_long_edge


def image_to_rgb(img: ImageData) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """RGBA frame -> (uint8 H×W×3 RGB, uint8 H×W alpha or None when fully opaque)."""
    a = np.frombuffer(img.data, dtype=np.uint8).reshape(img.height, img.width, 4)
    alpha = a[..., 3]
    return np.ascontiguousarray(a[..., :3]), (None if alpha.min() == 255 else alpha.copy())


def image_alpha(img: ImageData) -> Optional[np.ndarray]:
    """The RGBA frame's alpha (uint8 H×W), None when fully opaque; no copy of its colours."""
    alpha = np.frombuffer(img.data, dtype=np.uint8).reshape(img.height, img.width, 4)[..., 3]
    return None if alpha.min() == 255 else alpha.copy()


def mask_to_float(mask: MaskData, invert: bool = False, size_hw: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """8-bit wire mask -> float32 [0, 1], resampled to ``size_hw`` first (in 8 bits: a 7000² mask
    never becomes a 196 MB float array when the job works at 512 px)."""
    m = np.frombuffer(mask.data, dtype=np.uint8).reshape(mask.height, mask.width)
    if size_hw is not None:
        m = resize_gray(m, size_hw)
    m = m.astype(np.float32) / 255.0
    return 1.0 - m if invert else m


def resize_gray(a: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    if a.shape[:2] == tuple(size_hw):
        return a
    return np.asarray(Image.fromarray(a).resize((size_hw[1], size_hw[0]), Image.BILINEAR))


def resize_rgb(rgb: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    if rgb.shape[:2] == tuple(size_hw):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size_hw[1], size_hw[0]), Image.LANCZOS))


def rgb_to_image(rgb: np.ndarray, alpha: Optional[np.ndarray] = None) -> ImageData:
    """uint8 H×W×3 (+ optional alpha of any size) -> RGBA frame."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[..., :3] = rgb
    out[..., 3] = 255 if alpha is None else resize_gray(alpha, (h, w))
    return ImageData(w, h, out.tobytes())


def downscale(rgb: np.ndarray, long_edge: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb if max(h, w) <= long_edge else resize_rgb(rgb, fit_long_edge(h, w, long_edge))


def working_rgb(img: ImageData, size_hw: Tuple[int, int]) -> np.ndarray:
    """An RGBA frame's colours at ``size_hw`` (uint8 H×W×3), resampled before the engine sees them.
    Read in place as RGBX (alpha ignored, not premultiplied): no full-size copy of a large photo."""
    if (img.height, img.width) == tuple(size_hw):
        return image_to_rgb(img)[0]
    im = Image.frombuffer("RGBX", (img.width, img.height), img.data, "raw", "RGBX", 0, 1)
    return np.asarray(im.resize((size_hw[1], size_hw[0]), Image.LANCZOS).convert("RGB"))


def to_regions(regions: list, size_hw: Optional[Tuple[int, int]] = None) -> list:
    """Decoded submit regions -> engine Regions (invert = "outside this mask"); content masks at
    ``size_hw`` when given (the size the job works at). A region with ``over`` is laid over the
    ones before it: m_j ← m_j · (1 − m_i) for every earlier j (soft edges stay soft)."""
    out = []
    for r in regions:
        mask = mask_to_float(r["content_mask"], r.get("invert", False), size_hw)
        if r.get("over"):
            for earlier in out:
                earlier.content_mask = earlier.content_mask * (1.0 - mask)
        out.append(Region(content_mask=mask, style=r["style"],
                          style_mask=None if r.get("style_mask") is None else mask_to_float(r["style_mask"])))
    return out


def options_from_dict(d: dict, content_hw: Tuple[int, int]) -> TransferOptions:
    """The submit's options -> TransferOptions, checked (types, ranges, levels for this content).

    ``quality`` (a preset name) is expanded first; options given explicitly win over the preset.
    ``size`` 0 = the content's own long edge; absent = the engine's default. Whole-number options
    may come as integral floats (512.0 from a JSON writer). A preset's levels shrink to what a small
    content allows; levels given explicitly are checked (TransferOptions.check_content). Raises
    BadInput with one sentence for anything else; allocates nothing.
    """
    if not isinstance(d, dict):
        raise BadInput(f"options must be an object of name: value (got {type(d).__name__})")
    d = dict(d)
    if d.get("init") == "last":     # one wire spelling: the submit field, beside the options
        raise BadInput('init "last" is a field of submit (init: "last"), not an option: the options\' init '
                       'is content or noise')
    quality = d.pop("quality", None)
    if "size" in d and _is_zero(d["size"]):
        d["size"] = max(content_hw)
        if d["size"] > SIZE_MAX:
            raise BadInput(f"size 0 asks for the content's own long edge, {d['size']} px, but the most is "
                           f"{SIZE_MAX}: give a size")
    base = TransferOptions()
    if quality is not None:
        if not isinstance(quality, str):
            raise BadInput(f"quality must be a preset name (got {type(quality).__name__})")
        base = apply_preset(base, quality)
    merged = {**base.to_dict(), **d}
    opts = TransferOptions.from_dict(merged)
    for name in ("size", "steps", "levels", "coarse_steps", "mix_steps", "warm_steps", "seed", "guide_grow", "lbfgs_history", "tile",
                 "working_size", "finish_steps"):
        setattr(opts, name, _whole(getattr(opts, name)))
    if isinstance(opts.scale_mix, list):
        opts.scale_mix = [_whole(v) for v in opts.scale_mix]
    opts.check_ranges()
    if "levels" not in d:   # the preset's (or the default) levels: as many as this content allows
        opts.levels = max(1, min(opts.levels, usable_levels(*content_hw, opts.size)))
    opts.check_content(*content_hw)
    return opts


def _is_zero(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0


def _whole(v: Any) -> Any:
    """512.0 -> 512 (a float that is a whole number, as some JSON writers send); anything else as is."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def json_safe(x: Any) -> Any:
    """A copy of x that JSON can carry: non-finite floats become None, tuples lists, others str."""
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "item"):
        try:
            return json_safe(x.item())
        except Exception:
            pass
    return str(x)


# ---- the client's side: engine arrays -> a submit -------------------------------------------------
def float_to_mask(m: np.ndarray, size_hw: Tuple[int, int]) -> MaskData:
    """A float mask in [0, 1] of any size -> an 8-bit MaskData of size_hw (the wire wants equal sizes)."""
    a = np.clip(np.round(np.asarray(m, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    a = resize_gray(a, size_hw)
    return MaskData(size_hw[1], size_hw[0], np.ascontiguousarray(a).tobytes())


def submit_fields(content: np.ndarray, styles: list, options: TransferOptions,
                  content_alpha: Optional[np.ndarray] = None, regions: list = (),
                  init_image: Optional[np.ndarray] = None, preview: bool = False) -> dict:
    """Engine inputs (arrays, Regions, TransferOptions) -> ``DaemonClient.submit`` keyword arguments:
    the inverse of what the server does with a submit (``image_to_rgb``, ``to_regions``,
    ``options_from_dict``)."""
    hw = content.shape[:2]
    wire_regions = [{"content_mask": float_to_mask(r.content_mask, hw), "style": int(r.style),
                     "style_mask": None if r.style_mask is None else float_to_mask(r.style_mask,
                                                                                  styles[r.style].shape[:2]),
                     "invert": False} for r in regions]
    init = None if init_image is None else rgb_to_image(resize_rgb(init_image, hw))
    return dict(content=rgb_to_image(content, content_alpha), styles=[rgb_to_image(s) for s in styles],
                regions=wire_regions, options=options.to_dict(), init=init, preview=bool(preview))
