"""Scale control (Gatys et al. 2017, §5): image sizes, the coarse-to-fine pyramid, and where the
style-mixing cut lies.

Coarse-to-fine: the output is synthesised at 1/2^(L−1) of the final size first; each next level starts
from the bilinearly upsampled previous result, with all targets and guides recomputed at the new size.

Style mixing (``transfer.mix_styles``): a new style image with the COARSE structure of style A and the
FINE texture of style B: start from A, drop the content loss, and match B's Gram matrices only on the
low layers, relu1_1 … relu{k}_1. The cut is a pixel scale, so it moves deeper as resolution grows:
k = 2 at 512 px and 4 at 1024 px (the authors' values, their images 512² and 1024²), i.e.
k = 2 + 2·log2(long edge / 512), within [2, 4] (``mix_cut_layer``). Never relu1_1 alone: at the sizes a
mix runs (the working level, 362–724 px) relu1_1 holds only colour and pixel noise, and the fine
style barely showed; the option ``mix_cut`` sets the cut by hand (``MIX_CUTS``).
"""
from __future__ import annotations

import math
from typing import List, Tuple

from .errors import BadInput

MIN_SIDE = 16  # VGG-19 pools four times before relu5_1


def fit_long_edge(h: int, w: int, long_edge: int) -> Tuple[int, int]:
    s = long_edge / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def fit_pixels(h: int, w: int, pixels: float) -> Tuple[int, int]:
    """Same aspect ratio, about ``pixels`` pixels, no side below MIN_SIDE."""
    s = math.sqrt(pixels / (h * w))
    hh, ww = max(MIN_SIDE, round(h * s)), max(MIN_SIDE, round(w * s))
    return hh, ww


def style_size(style_hw: Tuple[int, int], level_hw: Tuple[int, int], style_scale: float) -> Tuple[int, int]:
    """The size a style image takes for one level's targets: the level's pixel count times
    ``style_scale`` (the scale of strokes relative to the output, Gatys et al. 2016 §2), but never more
    than the style's own pixels. An upsampled painting has no finer statistics than its own, only
    interpolation blur at the fine layers, so above its own size it stays as it is and the output's
    fine texture comes from the painting's real brushwork."""
    h, w = style_hw
    return fit_pixels(h, w, min(level_hw[0] * level_hw[1] * style_scale, h * w))


def pyramid_sizes(h: int, w: int, long_edge: int, levels: int) -> List[Tuple[int, int]]:
    """Sizes of the pyramid levels, coarsest first; levels too small for VGG are dropped."""
    final = fit_long_edge(h, w, long_edge)
    if min(final) < MIN_SIDE:
        raise BadInput(f"the output would be {final[1]}×{final[0]} pixels; each side needs at least "
                       f"{MIN_SIDE}: raise the size")
    sizes = []
    for k in reversed(range(levels)):
        hh, ww = round(final[0] / 2 ** k), round(final[1] / 2 ** k)
        if min(hh, ww) >= MIN_SIDE:
            sizes.append((hh, ww))
    return sizes


MIX_CUTS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def mix_cut_layer(h: int, w: int) -> str:
    """Deepest layer matched to the fine style when mixing at an h×w size (module docstring)."""
    k = round(2 + 2 * math.log2(max(h, w) / 512))
    return f"relu{min(4, max(2, k))}_1"
