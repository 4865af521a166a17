"""Each level's objective: what the network sees after colour control, and the content and style
targets at the level's size, cached across runs (``cache.TargetCache``).

Colour control (Gatys et al. 2017, §4) changes the inputs before anything else: luminance-only
transfer works on grey luminance images with the style's luminance matched to the content's mean
and variance; histogram matching gives the style images the content's colour mean and covariance.
Spatial control (§3) turns each region into one style term (``spatial``); without regions the style
term is the plain Gram of the blended style images (Gatys et al. 2016, §2).
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Type, Union

import numpy as np
import torch

from . import color, tiling
from .cache import pixel_hash
from .guides import mask_to_tensor
from .images import resize, to_tensor
from .job import Context, Inputs, StyleSource
from .losses import ContentTerm, Objective, blend_grams
from .options import Region, TransferOptions
from .scale import style_size
from .spatial import GramTerm, SumsTerm
from .vgg import CONTENT_LAYERS, STYLE_LAYERS

TermType = Union[Type[GramTerm], Type[SumsTerm]]


def colour_controlled(device, content: np.ndarray, styles: Sequence[np.ndarray], regions: Sequence[Region],
                      options: TransferOptions) -> Inputs:
    """The job's inputs as the network will see them, with their cache keys."""
    content_t, styles_t = to_tensor(content, device), [to_tensor(s, device) for s in styles]
    content_hash = pixel_hash(content)
    if options.color == "luminance":
        cy = color.luminance(content_t)
        seen_styles = [color.gray3(color.match_luminance(color.luminance(s), cy)) for s in styles_t]
        seen_content = color.gray3(cy)
        tag = f"lum:{content_hash}"  # luminance matching depends on the content's statistics
    elif options.color == "histogram":
        seen_styles = [color.match_histogram(s, content_t, options.histogram_method) for s in styles_t]
        seen_content = content_t
        tag = f"hist-{options.histogram_method}:{content_hash}"
    else:
        seen_styles, seen_content, tag = list(styles_t), content_t, "full"
    return Inputs(content=seen_content, content_rgb=content_t, styles=seen_styles,
                  style_keys=[f"{pixel_hash(s)}|{tag}" for s in styles],
                  content_key=f"{content_hash}|{'lum' if options.color == 'luminance' else 'rgb'}",
                  regions=list(regions),
                  sources=[StyleSource(r.style, r.style_mask, pixel_hash(r.style_mask)) for r in regions])


def content_target(ctx: Context, size) -> torch.Tensor:
    """The content's relu4_2 features at ``size``; in bf16 where the level's memory plan compacts its
    image-sized state (``tiling.plan``: only when a budget needs it), else fp32."""
    model, inputs = ctx.model, ctx.inputs
    compact = ctx.plan(size, CONTENT_LAYERS + STYLE_LAYERS).compact
    key = (model.source, model.pooling, str(model.device), inputs.content_key, tuple(size), ctx.options.fast,
           compact)

    def compute():
        x = model.to_input(resize(inputs.content, size))
        target = tiling.features(ctx.features_of(CONTENT_LAYERS), x, ctx.plan(size, CONTENT_LAYERS),
                                 tiling.COMPACT if compact else torch.float32)
        return target[CONTENT_LAYERS[0]].detach()

    return ctx.cached("content", key, compute)


def style_targets(ctx: Context, term_type: TermType, source: StyleSource, size) -> Dict[str, torch.Tensor]:
    """A style term's per-layer targets from its style source, the style image sized to the level's
    pixel count times ``style_scale``, never above its own pixels (``scale.style_size``)."""
    model, options, inputs = ctx.model, ctx.options, ctx.inputs
    style = inputs.styles[source.index]
    ssize = style_size(tuple(style.shape[-2:]), size, options.style_scale)
    guided = source.mask is not None
    key = (model.source, model.pooling, str(model.device), inputs.style_keys[source.index], source.mask_key,
           ssize, term_type.kind, options.propagation if guided else "-", options.guide_grow if guided else 0,
           options.fast)

    def compute():
        guide = mask_to_tensor(source.mask, ssize, model.device) if guided else None
        guides = term_type.layer_guides(guide, options.propagation, options.guide_grow) if guided else None
        return {l: s.detach() for l, s in statistics_of(ctx, term_type, guides, model.to_input(resize(style, ssize))).items()}

    return ctx.cached("style", key, compute)


def statistics_of(ctx: Context, term_type: TermType, guides, x: torch.Tensor,
                  layers=STYLE_LAYERS) -> Dict[str, torch.Tensor]:
    """A term type's statistics of the image x (model input) under ``guides`` (None: the whole image)
    at ``layers``, summed over tiles where the image is too large to run whole: the same values as
    ``term_type.targets_of``."""
    probe = term_type(dict.fromkeys(layers), guides)   # its statistics only: no targets
    layers = tuple(probe.targets)
    if not layers:
        return {}
    stats_of = lambda f, part: [probe.statistics(f, part)]  # noqa: E731
    return tiling.statistics(ctx.features_of(layers), x, stats_of, ctx.plan(x.shape[-2:], layers))[0]


def _blended_grams(ctx: Context, size) -> Dict[str, torch.Tensor]:
    """Plain Gram targets of the style images blended by ``style_blend`` (equal when not given)."""
    n = len(ctx.inputs.styles)
    weights = list(ctx.options.style_blend) if ctx.options.style_blend is not None else [1.0] * n
    used = [i for i, w in enumerate(weights) if w > 0]
    grams = [style_targets(ctx, GramTerm, StyleSource(i), size) for i in used]
    return blend_grams(grams, [weights[i] for i in used])


def style_terms(ctx: Context, size) -> List[Union[GramTerm, SumsTerm]]:
    """One term per region (guided Gram or guided sums), plus the plain Gram of the blended styles
    where the method needs it; equal weights 1/R. No regions: the plain Gram term alone."""
    options, inputs = ctx.options, ctx.inputs
    if not inputs.regions:
        return [GramTerm(_blended_grams(ctx, size), label="whole image")]
    term_type: TermType = SumsTerm if options.guidance == "sums" else GramTerm
    terms: list = []
    for r, (region, source) in enumerate(zip(inputs.regions, inputs.sources)):
        targets = style_targets(ctx, term_type, source, size)
        guide = mask_to_tensor(region.content_mask, size, ctx.model.device)
        guides = term_type.layer_guides(guide, options.propagation, options.guide_grow)
        terms.append(term_type(targets, guides, label=f"region {r}"))
    if term_type is SumsTerm or options.global_guide:
        # guided sums carry the plain Gram block of the stacked Gram; the 2017 global channel adds the
        # same unguided term to guided Grams.
        terms.append(GramTerm(_blended_grams(ctx, size), label="global"))
    for t in terms:
        t.weight = 1.0 / len(terms)
    return terms


def level_objective(ctx: Context, size) -> Objective:
    """The objective at one pyramid level: α L_content + β Σ_t w_t L_t with targets at ``size``."""
    options = ctx.options
    content = ContentTerm(content_target(ctx, size))
    terms = style_terms(ctx, size)
    return Objective(content if options.content_weight > 0 else None, terms,
                     options.content_weight, options.style_weight)
