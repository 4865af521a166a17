"""The transfer itself: Gatys et al. 2016 with the 2017 paper's spatial, colour and scale control.

    x* = argmin_x  α L_content(x, c) + β Σ_terms w_t L_style,t(x)

optimised over the image x (in the network's input space) with L-BFGS or Adam, level by level over a
coarse-to-fine pyramid. As in pystiche, "optimise one level" (``optimise``: one objective, one size,
n steps) is apart from "loop over the levels" (``_run_levels``: each level's objective from
``targets.level_objective``, its start from the previous level upsampled). Colour control transforms
the inputs before and the output after (``targets.colour_controlled``, ``_finish``); spatial control
turns regions into guided style terms (``spatial``, ``guides``); scale control mixes two styles into
one (``mix_styles``) and sets the pyramid (``scale``).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from . import allocator, color, precision, tiling
from .cache import TargetCache
from .errors import BadInput, OutOfMemory
from .guides import coverage
from .images import check_image, check_mask, resize, to_tensor, to_uint8
from .job import Context, Steps
from .losses import Objective, gram
from .optim import make_optimizer
from .options import Progress, Region, Report, TransferOptions, TransferResult
from .finishing import FINISH_METRIC, finishing_objective
from .plan import JobPlan, LevelPlan, plan_job
from .scale import fit_long_edge, mix_cut_layer, style_size
from .spatial import GramTerm
from .targets import colour_controlled, level_objective, statistics_of
from .vgg import CONTENT_LAYERS, STYLE_LAYERS, Model

__all__ = ["stylize", "mix_styles", "objective", "warm_up", "optimise", "Level",
           "to_tensor", "to_uint8", "resize"]   # the image helpers stay importable from here

ALL_LAYERS = CONTENT_LAYERS + STYLE_LAYERS


# ---- one level -------------------------------------------------------------------------------
@dataclass
class Level:
    """One optimisation: an objective at one size, for ``steps`` steps, and how progress shows it."""

    size: Tuple[int, int]
    steps: int
    objective: Objective
    preview: Callable[[torch.Tensor], np.ndarray]   # model-input image -> uint8 RGB for the callback
    index: int = 0                                  # pyramid level, and how many there are
    count: int = 1
    stage: str = "transfer"                         # or "mix"
    plan: Optional[tiling.TilePlan] = None              # whole (None or untiled) or in tiles
    metric: bool = True                             # L-BFGS in the pyramid metric (``optim``)


def optimise(ctx: Context, level: Level, x: torch.Tensor) -> torch.Tensor:
    """Run ``level.steps`` optimiser steps on x (model input space, requires grad). Returns x.
    A tiled level's closure sets x.grad from the two tiled passes (``tiling.value_and_grad``); the
    optimiser sees one whole image either way."""
    options, steps, plan = ctx.options, ctx.steps, level.plan
    torch.manual_seed(options.seed)
    history = plan.history if plan is not None and plan.history else options.lbfgs_history
    opt = make_optimizer(options.optimizer, x, history, options.learning_rate, ctx.model.input_scale,
                         storage=tiling.COMPACT if plan is not None and plan.compact else None,
                         bounds=ctx.model.input_bounds(), metric=level.metric)
    layers = level.objective.layers
    last = {}
    tiles = {"done": 0, "step": 1}

    def between_tiles() -> bool:
        """Polled before every tile: Stop within a tile's time, and progress that moves within a step."""
        tiles["done"] += 1
        if steps.callback is not None:
            steps.callback(Progress(step=tiles["step"], total=level.steps, done=steps.done, job_total=steps.total,
                                    image=lambda: level.preview(x.detach()), level=level.index,
                                    levels=level.count, stage=level.stage, size=tuple(level.size),
                                    tile=(tiles["done"], len(plan.forward) + len(plan.tiles))))
        return steps.stop_requested()

    def closure():
        x.grad = None
        if plan is not None and plan.tiled:
            tiles["done"] = 0
            total, c, s, _ = tiling.value_and_grad(ctx.features_of(layers), level.objective, x, plan,
                                                   between_tiles)
        else:
            total, c, s, _ = level.objective(ctx.features(x, layers))
            total.backward()
        last.update(total=total.detach(), content=c.detach(), style=s.detach())
        return total

    for step in range(1, level.steps + 1):
        tiles["step"] = step
        if steps.stop_requested():
            break
        try:
            opt.step(closure)
        except tiling.Stopped:   # asked to stop between tiles: the step is dropped, x is the last step's
            break
        steps.done += 1
        if steps.callback is not None:
            snapshot = dict(last)
            steps.callback(Progress(step=step, total=level.steps, done=steps.done, job_total=steps.total,
                                    loss_values=lambda s=snapshot: {k: float(v) for k, v in s.items()},
                                    image=lambda: level.preview(x.detach()), level=level.index,
                                    levels=level.count, stage=level.stage, size=tuple(level.size)))
    return x


# ---- style mixing --------------------------------------------------------------------------------
def _mix(ctx: Context, coarse: torch.Tensor, fine: torch.Tensor, steps: int,
         cut: Optional[str] = None) -> torch.Tensor:
    """Scale mixing: start from ``coarse`` (at the mix's size) and match ``fine``'s Grams on
    relu1_1 … cut only (``scale.mix_cut_layer``), with no content term."""
    level, x = _mix_level(ctx, coarse, fine, steps, cut)
    x = optimise(ctx, level, x)
    return ctx.model.from_input(x.detach()).clamp(0, 1)


def _mix_level(ctx: Context, coarse: torch.Tensor, fine: torch.Tensor, steps: int,
               cut: Optional[str] = None) -> Tuple[Level, torch.Tensor]:
    """The style mix as a level, and its starting image (model input, requiring grad)."""
    model, size = ctx.model, tuple(coarse.shape[-2:])
    fine = resize(fine, style_size(tuple(fine.shape[-2:]), size, 1.0))
    cut = cut or mix_cut_layer(*size)
    layers = tuple(l for l in STYLE_LAYERS if l <= cut)
    targets = statistics_of(ctx, GramTerm, None, model.to_input(fine), layers)
    objective = Objective(None, [GramTerm({l: targets[l] for l in layers})], content_weight=0.0, style_weight=1.0)
    x = model.to_input(coarse).detach().clone().requires_grad_(True)
    level = Level(size, steps, objective, preview=lambda xi: to_uint8(model.from_input(xi)), stage="mix",
                  plan=ctx.plan(size, objective.layers))
    return level, x


def mix_styles(model: Model, coarse: np.ndarray, fine: np.ndarray, size: int = 512, steps: int = 200,
               seed: int = 0, cut: Optional[str] = None, optimizer: str = "lbfgs",
               callback=None, should_stop=None) -> np.ndarray:
    """A new style image: the coarse structure of ``coarse`` with the fine texture of ``fine``."""
    check_image("the coarse style image", coarse)
    check_image("the fine style image", fine)
    opts = TransferOptions(size=size, steps=steps, seed=seed, optimizer=optimizer)
    opts.validate(2)
    size_hw = fit_long_edge(coarse.shape[0], coarse.shape[1], size)
    ctx = Context(model, opts, Steps(steps, callback, should_stop))
    out = _mix(ctx, resize(to_tensor(coarse, model.device), size_hw), to_tensor(fine, model.device), steps, cut)
    return to_uint8(out)


def _mix_into_styles(ctx: Context, mix: LevelPlan) -> dict:
    """``scale_mix = [a, b]``: both style images become the mix of a's coarse and b's fine structure,
    at the plan's mix size (the working level's pixels times ``style_scale``, at most a's own).
    Returns the report's "mix"."""
    a, b = ctx.options.scale_mix
    inputs, t0 = ctx.inputs, time.perf_counter()
    mixed = _mix(ctx, resize(inputs.styles[a], mix.size), inputs.styles[b], mix.steps, mix.depth)
    mixed_key = f"mix:{inputs.style_keys[a]}:{inputs.style_keys[b]}:{mix.size}:{mix.steps}:{mix.depth}:{ctx.options.seed}"
    for i in (a, b):
        inputs.styles[i], inputs.style_keys[i] = mixed, mixed_key
    return {**mix.describe(), "cut": mix.depth, "seconds": round(time.perf_counter() - t0, 3)}


# ---- the levels --------------------------------------------------------------------------------
def _tiles_return_memory(ctx: Context, level: LevelPlan):
    """A tiled level on the CPU returns each tile's memory to the system (``allocator``); the others
    keep the C library's own heap, which maps and unmaps nothing on every step."""
    return allocator.returned_after_each_tile(level.tiles.tiled and ctx.model.device.type == "cpu")


def _level_objective(ctx: Context, level: LevelPlan) -> Objective:
    """A level's objective: the full one (``targets.level_objective``), or at a finishing level the
    fine style layers (``finishing``)."""
    if level.role != "finishing":
        return level_objective(ctx, level.size)
    return finishing_objective(ctx, level.size)


def _run_levels(ctx: Context, plan: JobPlan, init_image: Optional[np.ndarray],
                report_levels: list) -> Tuple[torch.Tensor, Objective]:
    """Coarse to fine over the plan's levels: each starts from the previous one's result, upsampled,
    with its own objective; stops after the level where the job was cancelled. Returns the image and
    the last level's objective."""
    model, x, objective = ctx.model, None, None
    levels = plan.transfer_levels
    for index, lp in enumerate(levels):
        t0 = time.perf_counter()
        if index == 0:
            x = model.to_input(_start_image(ctx, init_image, lp.size)).detach().clone()
        else:
            x = F.interpolate(x.detach(), size=lp.size, mode="bilinear", align_corners=False)
        with _tiles_return_memory(ctx, lp):
            objective = _level_objective(ctx, lp)
            t1 = time.perf_counter()   # the targets are made: the rest is the steps
            x.requires_grad_(True)
            level = Level(lp.size, lp.steps, objective, _preview(ctx, lp.size), index, len(levels),
                          plan=lp.tiles, metric=lp.role != "finishing" or FINISH_METRIC)
            done = ctx.steps.done
            x = optimise(ctx, level, x)
        t2, done = time.perf_counter(), ctx.steps.done - done
        report_levels.append({**lp.describe(), "seconds": round(t2 - t0, 3),
                              "targets_seconds": round(t1 - t0, 3),
                              "seconds_per_step": round((t2 - t1) / done, 3) if done else None})
        if ctx.steps.cancelled:
            break
    return x, objective


def _final_losses(ctx: Context, x: torch.Tensor, objective: Objective) -> dict:
    """The report's "losses": content, style and total at the end (and each region's style loss)."""
    layers = objective.layers
    stats = tiling.statistics(ctx.features_of(layers), x.detach(), objective.statistics,
                              ctx.plan(x.shape[-2:], layers))
    with torch.no_grad():
        total, c, s, parts = objective.losses(stats, x.device)
    losses = {"content": float(c), "style": float(s), "total": float(total)}
    if ctx.inputs.regions:
        losses["regions"] = [float(p) for p, t in zip(parts, objective.style) if t.label.startswith("region")]
    return losses


# ---- the transfer ------------------------------------------------------------------------------
def _validate(content, styles, options, regions, init_image):
    check_image("the content image", content)
    options.validate(len(styles), content.shape[:2])
    for i, s in enumerate(styles):
        check_image(f"style image {i}", s)
    if init_image is not None:
        check_image("the initial image", init_image)
    for r, region in enumerate(regions):
        if not isinstance(region.style, int) or not 0 <= region.style < len(styles):
            raise BadInput(f"region {r} names style {region.style!r}, but there are {len(styles)} style "
                           f"image(s) (indices are 0-based)")
        check_mask(f"region {r}'s mask", region.content_mask)
        if region.style_mask is not None:
            check_mask(f"region {r}'s style mask", region.style_mask)


def stylize(model: Model, content: np.ndarray, styles: Sequence[np.ndarray], options: TransferOptions,
            regions: Sequence[Region] = (), init_image: Optional[np.ndarray] = None,
            cache: Optional[TargetCache] = None,
            callback: Optional[Callable[[Progress], None]] = None,
            should_stop: Optional[Callable[[], bool]] = None,
            memory_budget: Optional[int] = None, plan: Optional[JobPlan] = None) -> TransferResult:
    """Render ``content`` in the style of ``styles`` (see the module docstring) as ``plan`` says
    (``plan.plan_job``; made here when not given). ``memory_budget`` (bytes): a level that would need
    more runs in tiles that fit (``tiling``), with the same result; a budget too small for even the
    smallest tiles is a BadInput before any work."""
    regions, styles = list(regions), list(styles)
    _validate(content, styles, options, regions, init_image)
    t0 = time.perf_counter()
    if plan is None:
        plan = plan_job(content.shape[:2], options, [s.shape[:2] for s in styles], model.device, memory_budget,
                        len(regions), "content" if init_image is None else "image")
    ctx = Context(model, options, Steps(plan.total_steps, callback, should_stop), cache=cache,
                  memory_budget=memory_budget)
    report = Report(options=options.to_dict(), model=model.describe(), device=str(model.device),
                    regions=len(regions), plan=plan.describe())
    final_size = plan.final_size
    try:
        ctx.inputs = colour_controlled(model.device, content, styles, regions, options)
        if plan.mix is not None:
            with _tiles_return_memory(ctx, plan.mix):
                report.mix = _mix_into_styles(ctx, plan.mix)
        report.start = _start_kind(ctx, init_image)
        x, objective = _run_levels(ctx, plan, init_image, report.levels)
        if not ctx.steps.cancelled:   # stopped: the image now, not one more pass over a large one
            with _tiles_return_memory(ctx, plan.transfer_levels[-1]):
                report.losses = _final_losses(ctx, x, objective)
        x_rgb = resize(model.from_input(x.detach()), final_size)  # cancelled at a coarse level: still full size
        image = to_uint8(_finish(ctx, x_rgb, final_size, _coverage(ctx, final_size)))
    except torch.cuda.OutOfMemoryError as e:  # type: ignore[attr-defined]
        raise OutOfMemory(f"the {model.device} device ran out of memory at {final_size[1]}×"
                          f"{final_size[0]} pixels; lower the size or the number of pyramid levels, "
                          f"or use the CPU") from e
    report.cache = ctx.used
    report.cancelled = ctx.steps.cancelled
    report.steps_done = ctx.steps.done
    report.seconds = round(time.perf_counter() - t0, 3)
    return TransferResult(image=image, cancelled=ctx.steps.cancelled, report=report)


def warm_up(model: Model, sizes=None, fast: bool = True, layers=ALL_LAYERS) -> None:
    """One forward + backward through the network per size, so that cuDNN's autotuning (benchmark
    mode) and the allocator's growth happen when the daemon starts, not in the artist's first run.
    Defaults: the preview/standard pyramid sizes on a GPU, one small size elsewhere."""
    if sizes is None:
        sizes = [(256, 256), (512, 512), (256, 384), (384, 256), (512, 768), (768, 512)] \
            if model.device.type == "cuda" else [(64, 64)]
    for size in sizes:
        x = torch.zeros((1, 3, *size), device=model.device, requires_grad=True)
        with precision.autocast(model.device, fast):
            feats = model.features(x, layers)
        sum(gram(f).sum() for f in feats.values()).backward()
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)


def objective(model: Model, image: np.ndarray, content: np.ndarray, styles: Sequence[np.ndarray],
              options: TransferOptions, regions: Sequence[Region] = ()) -> float:
    """The total loss α L_content + β L_style of ``image`` (at the content's size), for comparing
    results of different runs or implementations under one objective."""
    size = content.shape[:2]
    options = dataclasses.replace(options, size=max(size), scale_mix=None)
    ctx = Context(model, options, Steps(0),
                  inputs=colour_controlled(model.device, content, styles, list(regions), options))
    score = level_objective(ctx, size)
    x = model.to_input(resize(to_tensor(image, model.device), size))
    if options.color == "luminance":
        x = model.to_input(color.gray3(color.luminance(model.from_input(x))))
    with torch.no_grad():
        return float(score(ctx.features(x, score.layers)).total)


# ---- start and finish ----------------------------------------------------------------------------
def _start_image(ctx: Context, init_image: Optional[np.ndarray], size) -> torch.Tensor:
    """The first level's starting image (RGB in [0,1]), as ``_start_kind`` says; grey in luminance
    mode, like everything the network sees there."""
    options, device, kind = ctx.options, ctx.model.device, _start_kind(ctx, init_image)
    if kind == "image":
        start = resize(to_tensor(init_image, device), size)
    elif kind == "noise":
        g = torch.Generator(device="cpu").manual_seed(options.seed)
        start = torch.rand((1, 3, *size), generator=g).to(device)
    else:
        return resize(ctx.inputs.content, size)
    return color.gray3(color.luminance(start)) if options.color == "luminance" else start


def _start_kind(ctx: Context, init_image: Optional[np.ndarray]) -> str:
    """Where the first level starts (the report's "start"), one rule for every job, with or without
    regions, in every colour mode: "image" (one was given), "noise" (asked for), else the content
    itself, as in the papers. (A start in the style's colours once served full-colour jobs without
    regions; at alpha = 1 it ended within 2 % of the content start's losses and gave the same job
    another colour cast than the same job with regions: BENCHMARKS.md, "The paper's look".)"""
    if init_image is not None:
        return "image"
    return "noise" if ctx.options.init == "noise" else "content"


def _coverage(ctx: Context, size) -> Optional[torch.Tensor]:
    """Where the regions put style (soft, in [0,1]); None = everywhere."""
    return coverage(ctx.inputs.regions, size, ctx.model.device)


def _finish(ctx: Context, x_rgb: torch.Tensor, size, coverage: Optional[torch.Tensor]) -> torch.Tensor:
    """Colour recombination and compositing: luminance transfer takes the content's chroma back,
    and pixels covered by no region keep the content image."""
    content = resize(ctx.inputs.content_rgb, size)
    out = x_rgb
    if ctx.options.color == "luminance":
        out = color.combine_luminance(color.luminance(x_rgb), content)
    if coverage is not None:
        out = coverage * out + (1 - coverage) * content
    return out.clamp(0, 1)


def _preview(ctx: Context, size) -> Callable[[torch.Tensor], np.ndarray]:
    """What the progress callback shows at a level: the image as it will be finished."""
    coverage = _coverage(ctx, size)
    return lambda x: to_uint8(_finish(ctx, ctx.model.from_input(x), size, coverage))
