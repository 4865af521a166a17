"""The transfer itself: Gatys et al. 2016 with the 2017 paper's spatial, colour and scale control.

    x* = argmin_x  α L_content(x, c) + β Σ_terms w_t L_style,t(x)

optimised over the image x (in the network's input space) with L-BFGS or Adam, level by level over a
coarse-to-fine pyramid. Colour control transforms the inputs before and the output after
(``color``); spatial control turns regions into guided style terms (``spatial``, ``guides``); scale
control mixes two styles into one (``mix_styles``) and sets the pyramid (``scale``).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import color, precision
from .cache import TargetCache, pixel_hash
from .errors import BadInput, EmptyRegion, OutOfMemory
from .guides import mask_to_tensor
from .losses import blend_grams, content_loss, gram, gram_loss, layer_weight
from .optim import make_optimizer
from .options import Progress, Region, TransferOptions, TransferResult
from .scale import fit_long_edge, fit_pixels, mix_cut_layer, pyramid_sizes
from .spatial import StyleTerm, propagated_guides, style_targets, term_loss
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, Model

MIN_INPUT_SIDE = 4
ALL_LAYERS = CONTENT_LAYERS + STYLE_LAYERS


# ---- image plumbing ----------------------------------------------------------------------------
def _check_image(name: str, img) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise BadInput(f"{name} must be an 8-bit RGB image")
    h, w = img.shape[:2]
    if min(h, w) < MIN_INPUT_SIDE:
        raise BadInput(f"{name} is too small ({w}×{h} pixels): each side needs at least {MIN_INPUT_SIDE}")


def _check_mask(name: str, mask) -> None:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.size == 0:
        raise BadInput(f"{name} must be a 2-D mask")
    if not np.all(np.isfinite(mask)):
        raise BadInput(f"{name} has values that are not finite numbers")
    if float(mask.max()) <= 1.0 / 255:
        raise EmptyRegion(f"{name} selects nothing (it is black everywhere)")


def to_tensor(img: np.ndarray, device) -> torch.Tensor:
    """uint8 H×W×3 -> 1×3×H×W float in [0, 1]."""
    return torch.from_numpy(np.array(img, copy=True)).to(device).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    return (rgb[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def resize(img: torch.Tensor, size) -> torch.Tensor:
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    return F.interpolate(img, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)


_autocast = precision.autocast


@dataclass
class _Inputs:
    """Everything the levels share, after colour control."""

    content: torch.Tensor          # 1×3×H×W in [0,1]: what the network sees as content
    content_rgb: torch.Tensor      # the original content, for the final colour recombination
    styles: List[torch.Tensor]     # colour-controlled style images, what the network sees
    style_keys: List[str]          # cache keys of those style images
    content_key: str


def _colour_controlled(content: torch.Tensor, styles: List[torch.Tensor], options: TransferOptions,
                       content_hash: str, style_hashes: List[str]) -> _Inputs:
    if options.color == "luminance":
        cy = color.luminance(content)
        seen_styles = [color.gray3(color.match_luminance(color.luminance(s), cy)) for s in styles]
        seen_content = color.gray3(cy)
        tag = f"lum:{content_hash}"  # luminance matching depends on the content's statistics
    elif options.color == "histogram":
        seen_styles = [color.match_histogram(s, content, options.histogram_method) for s in styles]
        seen_content = content
        tag = f"hist-{options.histogram_method}:{content_hash}"
    else:
        seen_styles, seen_content, tag = list(styles), content, "full"
    return _Inputs(content=seen_content, content_rgb=content, styles=seen_styles,
                   style_keys=[f"{h}|{tag}" for h in style_hashes],
                   content_key=f"{content_hash}|{'lum' if options.color == 'luminance' else 'rgb'}")


# ---- losses ------------------------------------------------------------------------------------
def _evaluate(model: Model, x: torch.Tensor, content_target: torch.Tensor, terms: List[StyleTerm],
              options: TransferOptions, per_term: bool = False):
    with _autocast(model.device, options.fast):
        feats = model.features(x, ALL_LAYERS if options.content_weight > 0 else STYLE_LAYERS)
    c = content_loss(feats[CONTENT_LAYERS[0]], content_target) if options.content_weight > 0 \
        else torch.zeros((), device=x.device)
    parts = [t.weight * term_loss(feats, t) for t in terms]
    s = sum(parts) if parts else torch.zeros((), device=x.device)
    total = options.content_weight * c + options.style_weight * s
    return total, c, s, (parts if per_term else None)


class _Job:
    """Counts steps over the whole job and talks to the callback / cancel hooks."""

    def __init__(self, total: int, callback, should_stop):
        self.total, self.done, self.callback, self.should_stop = total, 0, callback, should_stop
        self.cancelled = False
        self.start = time.perf_counter()

    def stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
        return self.cancelled


def _optimise(model: Model, x: torch.Tensor, loss_fn: Callable, steps: int, options: TransferOptions,
              job: _Job, progress_fields: dict, image_fn: Callable) -> torch.Tensor:
    """Run ``steps`` optimiser steps on x (model input space, requires grad). Returns x."""
    torch.manual_seed(options.seed)
    opt = make_optimizer(options.optimizer, x, options.lbfgs_history, options.learning_rate,
                         model.input_scale)
    last = {}

    def closure():
        x.grad = None
        total, c, s, _ = loss_fn(x)
        total.backward()
        last.update(total=total.detach(), content=c.detach(), style=s.detach())
        return total

    for step in range(1, steps + 1):
        if job.stop_requested():
            break
        opt.step(closure)
        job.done += 1
        if job.callback is not None:
            snapshot = dict(last)
            job.callback(Progress(step=step, total=steps, done=job.done, job_total=job.total,
                                  loss_values=lambda s=snapshot: {k: float(v) for k, v in s.items()},
                                  image=lambda: image_fn(x.detach()), **progress_fields))
    return x


# ---- style mixing --------------------------------------------------------------------------------
def _mix(model: Model, coarse: torch.Tensor, fine: torch.Tensor, size, steps: int,
         options: TransferOptions, job: _Job, cut: Optional[str] = None) -> torch.Tensor:
    """Scale mixing: start from ``coarse`` and match ``fine``'s Grams on relu1_1 … cut only."""
    coarse = resize(coarse, size)
    fine = resize(fine, fit_pixels(fine.shape[-2], fine.shape[-1], size[0] * size[1]))
    cut = cut or mix_cut_layer(*size)
    layers = tuple(l for l in STYLE_LAYERS if l <= cut)
    with torch.no_grad(), _autocast(model.device, options.fast):
        fine_feats = model.features(model.to_input(fine), layers)
    targets = {l: gram(f) for l, f in fine_feats.items()}

    def loss_fn(x):
        with _autocast(model.device, options.fast):
            feats = model.features(x, layers)
        s = sum(layer_weight(l) * gram_loss(gram(feats[l]), targets[l]) for l in layers)
        return s, torch.zeros((), device=x.device), s, None

    x = model.to_input(coarse).detach().clone().requires_grad_(True)
    fields = dict(level=0, levels=1, stage="mix", size=tuple(size))
    x = _optimise(model, x, loss_fn, steps, options, job, fields,
                  lambda xi: to_uint8(model.from_input(xi)))
    return model.from_input(x.detach()).clamp(0, 1)


def mix_styles(model: Model, coarse: np.ndarray, fine: np.ndarray, size: int = 512, steps: int = 200,
               seed: int = 0, cut: Optional[str] = None, optimizer: str = "lbfgs",
               callback=None, should_stop=None) -> np.ndarray:
    """A new style image: the coarse structure of ``coarse`` with the fine texture of ``fine``."""
    _check_image("the coarse style image", coarse)
    _check_image("the fine style image", fine)
    opts = TransferOptions(size=size, steps=steps, seed=seed, optimizer=optimizer)
    opts.validate(2)
    size_hw = fit_long_edge(coarse.shape[0], coarse.shape[1], size)
    job = _Job(steps, callback, should_stop)
    out = _mix(model, to_tensor(coarse, model.device), to_tensor(fine, model.device), size_hw, steps,
               opts, job, cut)
    return to_uint8(out)


# ---- targets (cached) ------------------------------------------------------------------------
def _content_target(model, inputs: _Inputs, size, options, cache, used) -> torch.Tensor:
    key = (model.source, model.pooling, str(model.device), inputs.content_key, tuple(size), options.fast)
    hit = cache.get("content", key) if cache is not None else None
    used["content_hits" if hit is not None else "content_misses"] += 1
    if hit is not None:
        return hit
    with torch.no_grad(), _autocast(model.device, options.fast):
        target = model.features(model.to_input(resize(inputs.content, size)), CONTENT_LAYERS)
    target = target[CONTENT_LAYERS[0]].float().detach()
    if cache is not None:
        cache.put("content", key, target)
    return target


def _style_target(model, inputs: _Inputs, index: int, style_mask, mask_key: str, size, kind: str,
                  options: TransferOptions, cache, used) -> Dict[str, torch.Tensor]:
    style = inputs.styles[index]
    ssize = fit_pixels(style.shape[-2], style.shape[-1], size[0] * size[1] * options.style_scale)
    guided = style_mask is not None
    key = (model.source, model.pooling, str(model.device), inputs.style_keys[index], mask_key, ssize, kind,
           options.propagation if guided else "-", options.guide_grow if guided else 0, options.fast)
    hit = cache.get("style", key) if cache is not None else None
    used["style_hits" if hit is not None else "style_misses"] += 1
    if hit is not None:
        return hit
    guide = mask_to_tensor(style_mask, ssize, model.device) if guided else None
    with torch.no_grad(), _autocast(model.device, options.fast):
        feats = model.features(model.to_input(resize(style, ssize)), STYLE_LAYERS)
        targets = style_targets(feats, propagated_guides(guide, kind, options.propagation, options.guide_grow), kind)
    if cache is not None:
        cache.put("style", key, targets)
    return targets


def _blend_weights(options: TransferOptions, n: int) -> List[float]:
    return list(options.style_blend) if options.style_blend is not None else [1.0] * n


def _style_terms(model, inputs: _Inputs, regions: Sequence[Region], size, options, cache, used,
                 region_keys) -> List[StyleTerm]:
    weights = _blend_weights(options, len(inputs.styles))
    used_styles = [i for i, w in enumerate(weights) if w > 0]

    def blended_gram_targets():
        grams = [_style_target(model, inputs, i, None, "none", size, "gram", options, cache, used)
                 for i in used_styles]
        return blend_grams(grams, [weights[i] for i in used_styles])

    if not regions:
        return [StyleTerm(kind="gram", weight=1.0, targets=blended_gram_targets(),
                          guides={l: None for l in STYLE_LAYERS}, label="whole image")]
    kind = "sums" if options.guidance == "sums" else "gram"
    terms = []
    for r, (region, (ckey, skey)) in enumerate(zip(regions, region_keys)):
        targets = _style_target(model, inputs, region.style, region.style_mask, skey, size, kind,
                                options, cache, used)
        guide = mask_to_tensor(region.content_mask, size, model.device)
        guides = propagated_guides(guide, kind, options.propagation, options.guide_grow)
        terms.append(StyleTerm(kind=kind, weight=1.0, targets=targets, guides=guides, label=f"region {r}"))
    if kind == "sums" or options.global_guide:
        # guided sums carry the plain Gram block of the stacked Gram; the 2017 global channel adds the
        # same unguided term to guided Grams.
        terms.append(StyleTerm(kind="gram", weight=1.0, targets=blended_gram_targets(),
                               guides={l: None for l in STYLE_LAYERS}, label="global"))
    for t in terms:
        t.weight = 1.0 / len(terms)
    return terms


# ---- the transfer ------------------------------------------------------------------------------
def _validate(content, styles, options, regions, init_image):
    options.validate(len(styles))
    _check_image("the content image", content)
    for i, s in enumerate(styles):
        _check_image(f"style image {i}", s)
    if init_image is not None:
        _check_image("the initial image", init_image)
    for r, region in enumerate(regions):
        if not isinstance(region.style, int) or not 0 <= region.style < len(styles):
            raise BadInput(f"region {r} names style {region.style!r}, but there are {len(styles)} style "
                           f"image(s) (indices are 0-based)")
        _check_mask(f"region {r}'s mask", region.content_mask)
        if region.style_mask is not None:
            _check_mask(f"region {r}'s style mask", region.style_mask)


def stylize(model: Model, content: np.ndarray, styles: Sequence[np.ndarray], options: TransferOptions,
            regions: Sequence[Region] = (), init_image: Optional[np.ndarray] = None,
            cache: Optional[TargetCache] = None,
            callback: Optional[Callable[[Progress], None]] = None,
            should_stop: Optional[Callable[[], bool]] = None) -> TransferResult:
    """Render ``content`` in the style of ``styles`` (see the module docstring)."""
    regions = list(regions)
    styles = list(styles)
    _validate(content, styles, options, regions, init_image)
    t0 = time.perf_counter()
    sizes = pyramid_sizes(content.shape[0], content.shape[1], options.size, options.levels)
    coarse_steps = options.steps if options.coarse_steps is None else options.coarse_steps
    steps = [coarse_steps] * (len(sizes) - 1) + [options.steps]
    mix_steps = options.steps if options.mix_steps is None else options.mix_steps
    job = _Job(sum(steps) + (mix_steps if options.scale_mix else 0), callback, should_stop)
    used = {"style_hits": 0, "style_misses": 0, "content_hits": 0, "content_misses": 0}
    device = model.device
    report: dict = {"options": options.to_dict(), "model": model.describe(), "device": str(device),
                    "regions": len(regions), "levels": []}
    try:
        content_t = to_tensor(content, device)
        style_ts = [to_tensor(s, device) for s in styles]
        inputs = _colour_controlled(content_t, style_ts, options, pixel_hash(content),
                                    [pixel_hash(s) for s in styles])
        if options.scale_mix:
            a, b = options.scale_mix
            tm = time.perf_counter()
            final = sizes[-1]
            mix_size = fit_pixels(inputs.styles[a].shape[-2], inputs.styles[a].shape[-1],
                                  final[0] * final[1] * options.style_scale)
            mixed = _mix(model, inputs.styles[a], inputs.styles[b], mix_size, mix_steps, options, job)
            mixed_key = f"mix:{inputs.style_keys[a]}:{inputs.style_keys[b]}:{mix_size}:{mix_steps}:{options.seed}"
            for i in (a, b):
                inputs.styles[i], inputs.style_keys[i] = mixed, mixed_key
            report["mix"] = {"size": list(mix_size), "steps": mix_steps, "cut": mix_cut_layer(*mix_size),
                             "seconds": round(time.perf_counter() - tm, 3)}
        region_keys = [(pixel_hash(r.content_mask), pixel_hash(r.style_mask) if r.style_mask is not None else "none")
                       for r in regions]
        x = None
        for level, (size, n) in enumerate(zip(sizes, steps)):
            tl = time.perf_counter()
            content_target = _content_target(model, inputs, size, options, cache, used)
            terms = _style_terms(model, inputs, regions, size, options, cache, used, region_keys)
            if level == 0:
                x = model.to_input(_start_image(inputs, options, init_image, size, device)).detach().clone()
            else:  # coarse-to-fine: start from the upsampled previous level
                x = F.interpolate(x.detach(), size=size, mode="bilinear", align_corners=False)
            x.requires_grad_(True)
            coverage = _coverage(regions, size, device)

            def loss_fn(xi, content_target=content_target, terms=terms):
                return _evaluate(model, xi, content_target, terms, options)

            def image_fn(xi, size=size, coverage=coverage):
                return to_uint8(_finish(model.from_input(xi), inputs, size, options, coverage))

            fields = dict(level=level, levels=len(sizes), stage="transfer", size=tuple(size))
            x = _optimise(model, x, loss_fn, n, options, job, fields, image_fn)
            report["levels"].append({"size": list(size), "steps": n, "seconds": round(time.perf_counter() - tl, 3)})
            if job.cancelled:
                break
        # final losses (per region where there are regions)
        with torch.no_grad():
            total, c, s, parts = _evaluate(model, x.detach(), content_target, terms, options, per_term=True)
        losses = {"content": float(c), "style": float(s), "total": float(total)}
        if regions:
            losses["regions"] = [float(p) for p, t in zip(parts, terms) if t.label.startswith("region")]
        report["losses"] = losses
        final_size = sizes[-1]
        x_rgb = resize(model.from_input(x.detach()), final_size)  # cancelled at a coarse level: still full size
        image = to_uint8(_finish(x_rgb, inputs, final_size, options, _coverage(regions, final_size, device)))
    except torch.cuda.OutOfMemoryError as e:  # type: ignore[attr-defined]
        raise OutOfMemory(f"the {device} device ran out of memory at {sizes[-1][1]}×{sizes[-1][0]} pixels; "
                          f"lower the size or the number of pyramid levels, or use the CPU") from e
    report["cache"] = used
    report["cancelled"] = job.cancelled
    report["steps_done"] = job.done
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return TransferResult(image=image, cancelled=job.cancelled, report=report)


def warm_up(model: Model, sizes=None, fast: bool = True) -> None:
    """One forward + backward through the network per size, so that cuDNN's autotuning (benchmark
    mode) and the allocator's growth happen when the daemon starts, not in the artist's first run.
    Defaults: the preview/standard pyramid sizes on a GPU, one small size elsewhere."""
    if sizes is None:
        sizes = [(256, 256), (512, 512), (256, 384), (384, 256), (512, 768), (768, 512)] \
            if model.device.type == "cuda" else [(64, 64)]
    for size in sizes:
        x = torch.zeros((1, 3, *size), device=model.device, requires_grad=True)
        with _autocast(model.device, fast):
            feats = model.features(x, ALL_LAYERS)
        sum(gram(f).sum() for f in feats.values()).backward()
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)


def objective(model: Model, image: np.ndarray, content: np.ndarray, styles: Sequence[np.ndarray],
              options: TransferOptions, regions: Sequence[Region] = ()) -> float:
    """The total loss α L_content + β L_style of ``image`` (at the content's size), for comparing
    results of different runs or implementations under one objective."""
    size = content.shape[:2]
    options = dataclasses.replace(options, size=max(size), scale_mix=None)
    used = {"style_hits": 0, "style_misses": 0, "content_hits": 0, "content_misses": 0}
    inputs = _colour_controlled(to_tensor(content, model.device), [to_tensor(s, model.device) for s in styles],
                                options, pixel_hash(content), [pixel_hash(s) for s in styles])
    region_keys = [(pixel_hash(r.content_mask), pixel_hash(r.style_mask)) for r in regions]
    ct = _content_target(model, inputs, size, options, None, used)
    terms = _style_terms(model, inputs, list(regions), size, options, None, used, region_keys)
    x = model.to_input(resize(to_tensor(image, model.device), size))
    if options.color == "luminance":
        x = model.to_input(color.gray3(color.luminance(model.from_input(x))))
    with torch.no_grad():
        total, _, _, _ = _evaluate(model, x, ct, terms, options)
    return float(total)


def _start_image(inputs: _Inputs, options: TransferOptions, init_image, size, device) -> torch.Tensor:
    """The first level's starting image (RGB in [0,1]): the content, noise, or a given image;
    grey in luminance mode, like everything the network sees there."""
    if init_image is not None:
        start = resize(to_tensor(init_image, device), size)
    elif options.init == "noise":
        g = torch.Generator(device="cpu").manual_seed(options.seed)
        start = torch.rand((1, 3, *size), generator=g).to(device)
    else:
        return resize(inputs.content, size)
    return color.gray3(color.luminance(start)) if options.color == "luminance" else start


def _coverage(regions, size, device) -> Optional[torch.Tensor]:
    """Where the regions put style (soft, in [0,1]); None = everywhere."""
    if not regions:
        return None
    return sum(mask_to_tensor(r.content_mask, size, device) for r in regions).clamp(0, 1)


def _finish(x_rgb: torch.Tensor, inputs: _Inputs, size, options: TransferOptions,
            coverage: Optional[torch.Tensor]) -> torch.Tensor:
    """Colour recombination and compositing: luminance transfer takes the content's chroma back,
    and pixels covered by no region keep the content image."""
    content = resize(inputs.content_rgb, size)
    out = x_rgb
    if options.color == "luminance":
        out = color.combine_luminance(color.luminance(x_rgb), content)
    if coverage is not None:
        out = coverage * out + (1 - coverage) * content
    return out.clamp(0, 1)
