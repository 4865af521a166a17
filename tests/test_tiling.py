"""Exact tiled transfer (``engine.tiling``): the same objective, loss and gradient as untiled, so the
same picture, in bounded memory (CPU, real VGG-19 weights, small images with at least 3×3 tiles)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from daemon.engine import Region, TransferOptions, stylize
from daemon.engine import tiling
from daemon.engine.job import Context, Steps
from daemon.engine.targets import colour_controlled, level_objective
from daemon.engine.plan import plan_job
from daemon.engine.transfer import _mix_level, _mix_into_styles
from daemon.engine.vgg import STYLE_LAYERS

from .images import example

ROOT = Path(__file__).resolve().parent.parent
TILE = 32                                   # 80×80 px in 32-px tiles: 3×3 tiles


@pytest.fixture(scope="module")
def images():
    content = example("chelsea.png", 120)[0:80, 20:100]          # 80×80
    return content, example("starry_night.jpg", 80), example("the_scream.jpg", 64)


def _soft_masks(h, w):
    """Two regions meeting in a soft ramp across the middle (a feathered selection)."""
    ramp = np.clip((np.arange(w, dtype=np.float32) - w / 2) / (w / 4) + 0.5, 0, 1)
    right = np.tile(ramp, (h, 1))
    return 1 - right, right


def _loss_and_grad(model, content, styles, options, regions=(), tile=0, mix=False, forward=0):
    """The final level's loss and gradient at a perturbed content image, untiled (tile 0) or tiled.
    ``mix``: the style-mixing level instead (its objective, at its own size). ``forward``: pass 1
    in tiles of that core (as a budget plans it), pass 2 in ``tile``."""
    opts = TransferOptions(size=max(content.shape[:2]), fast=False, tile=tile, **options)
    ctx = Context(model, opts, Steps(0), inputs=colour_controlled(model.device, content, styles, list(regions), opts))
    size = content.shape[:2]
    if mix:
        level, x = _mix_level(ctx, ctx.inputs.styles[0], ctx.inputs.styles[1], 1)
        objective, plan = level.objective, level.plan
    else:
        if opts.scale_mix:
            mix = plan_job(size, dataclasses.replace(opts, mix_steps=1), [st.shape[:2] for st in styles], "cpu").mix
            _mix_into_styles(ctx, mix)
        objective = level_objective(ctx, size)
        plan = ctx.plan(size, objective.layers)
        x = model.to_input(ctx.inputs.content).detach().clone()
    assert plan.tiled == bool(tile)
    if forward:
        plan = dataclasses.replace(plan, forward_core=forward, forward_tiles=tiling.tiles(size, forward, plan.halo))
        assert len(plan.forward) != len(plan.tiles)
    if tile:
        assert len({t.core[0] for t in plan.tiles}) >= 3 and len({t.core[2] for t in plan.tiles}) >= 3
    g = torch.Generator().manual_seed(1)
    x = (x.detach() + 8 * torch.randn(x.shape, generator=g)).requires_grad_(True)
    if plan.tiled:
        total = tiling.value_and_grad(ctx.features_of(objective.layers), objective, x, plan).total
    else:
        total = objective(ctx.features(x, objective.layers)).total
        total.backward()
    return float(total.detach()), x.grad.detach().clone()


def _same(a, b):
    (la, ga), (lb, gb) = a, b
    assert abs(la - lb) / abs(la) < 1e-4
    assert float((ga - gb).norm() / ga.norm()) < 1e-4


@pytest.mark.parametrize("job", ["plain", "two soft regions", "luminance"])
def test_tiled_loss_and_gradient_equal_untiled(model, images, job):
    content, starry, scream = images
    options, regions, styles = {}, (), [starry]
    if job == "two soft regions":
        left, right = _soft_masks(*content.shape[:2])
        regions, styles = (Region(left, 0), Region(right, 1)), [starry, scream]
        options = {"global_guide": True}
    elif job == "luminance":
        options = {"color": "luminance"}
    _same(_loss_and_grad(model, content, styles, options, regions),
          _loss_and_grad(model, content, styles, options, regions, tile=TILE))


def test_pass_1_in_larger_windows_than_pass_2_is_still_exact(model, images):
    """Under a budget, pass 1 (no gradient, a third of the memory per pixel) runs in larger windows
    than pass 2 (``Plan.forward_tiles``): two soft regions with the global guide, so plain and guided
    Grams, guided sums and the guides' normalisations all come from the larger tiles."""
    content, starry, scream = images
    left, right = _soft_masks(*content.shape[:2])
    regions, options = (Region(left, 0), Region(right, 1)), {"global_guide": True}
    _same(_loss_and_grad(model, content, [starry, scream], options, regions),
          _loss_and_grad(model, content, [starry, scream], options, regions, tile=TILE, forward=48))


def test_tiled_scale_mix_equals_untiled(model, images):
    """Both stages of scale mixing: the mix's own objective (shallow layers: small halos, so tiles
    with the halo inside the image on both sides) and the transfer with the mixed style."""
    content, starry, scream = images
    options = {"scale_mix": [0, 1], "style_scale": 1.0}
    _same(_loss_and_grad(model, content, [starry, scream], options, mix=True),
          _loss_and_grad(model, content, [starry, scream], options, tile=16, mix=True))
    _same(_loss_and_grad(model, content, [starry, scream], options),
          _loss_and_grad(model, content, [starry, scream], options, tile=TILE))


def test_a_window_computes_exactly_the_untiled_features_of_its_valid_region(model):
    """Any window of an image (odd origins, edges of the image or inside it, a sliver too narrow for
    the deep layers), run knowing where it lies, gives at every layer the untiled features of the
    region ``valid_regions`` names: no position computed from the padding where the image has pixels."""
    from daemon.engine.vgg import valid_regions
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
    h, w = 181, 157
    x = model.to_input(torch.rand((1, 3, h, w), generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        whole = model.features(x, layers)
        for y0, y1, x0, x1 in [(0, 110, 0, 90), (37, 160, 51, 157), (61, 181, 0, 157), (3, 178, 5, 150), (0, 181, 148, 157)]:
            part = model.features(x[..., y0:y1, x0:x1], layers, within=(y0, x0, h, w))
            regions = valid_regions((y0, x0, h, w), (y1 - y0, x1 - x0))[0]
            for l in layers:
                a, b, c, d = regions[l]
                assert part[l].shape[-2:] == (b - a, d - c), (l, (y0, y1, x0, x1))
                ref = whole[l][..., a:b, c:d]
                assert torch.allclose(part[l], ref, rtol=1e-5, atol=1e-5 * float(whole[l].abs().max())), l
            assert x1 - x0 > 20 or part["relu5_1"].numel() == 0   # the sliver: nothing exact at relu5_1


@pytest.mark.slow
def test_tiled_features_equal_untiled_where_halos_lie_inside_the_image(model):
    """At 288 px in 64-px tiles the middle tiles' windows are cut out of the image on every side, with
    only the receptive field's 70 px around the core: their cores' features are still the untiled
    ones, at every layer up to relu5_1, though each layer computes only the positions it gets exactly
    (its map shrinks by a ring per convolution along the window's inner edges)."""
    x = model.to_input(torch.rand((1, 3, 288, 272), generator=torch.Generator().manual_seed(0)))
    layers = ("relu1_1", "relu3_1", "relu4_2", "relu5_1")
    halo = tiling.halo_for(layers)
    plan = tiling.TilePlan((288, 272), 64, halo, tiling.tiles((288, 272), 64, halo))
    assert halo == 70 and tiling.halo_for(("relu4_2",)) == 38
    middle = [t for t in plan.tiles if t.window[0] > 0 and t.window[1] < 288 and t.window[2] > 0 and t.window[3] < 272]
    assert middle and all(t.window[1] - t.window[0] == 64 + 2 * 70 for t in middle)
    with torch.no_grad():   # at relu5_1 a window inside the image computes its core's positions, no more
        assert model.features(middle[0].input(x), layers, middle[0].within)["relu5_1"].shape[-2:] == (4, 4)
    whole = tiling.features(lambda xi, within=None: model.features(xi, layers, within), x, tiling.TilePlan((288, 272)))
    tiled = tiling.features(lambda xi, within=None: model.features(xi, layers, within), x, plan)
    for l in layers:
        assert torch.allclose(whole[l], tiled[l], rtol=1e-4, atol=1e-3 * float(whole[l].abs().max())), l


def test_a_seeded_run_forced_to_tile_gives_the_untiled_picture(model, images):
    content, starry, _ = images
    opts = dict(size=80, steps=2, fast=False, seed=3)
    whole = stylize(model, content, [starry], TransferOptions(**opts))
    tiled = stylize(model, content, [starry], TransferOptions(**opts, tile=TILE))
    assert [lv["tiled"] for lv in tiled.report.levels] == [True]
    assert tiled.report.levels[0]["tiles"] == 9 and tiled.report.levels[0]["tile"] == TILE
    assert whole.report.levels[0]["tiled"] is False
    assert np.abs(whole.image.astype(int) - tiled.image.astype(int)).max() <= 2


def test_stop_between_tiles_returns_the_image_so_far(model, images):
    content, starry, _ = images
    polls = []
    result = stylize(model, content, [starry], TransferOptions(size=80, steps=5, fast=False, tile=TILE),
                     should_stop=lambda: polls.append(1) or len(polls) > 6)   # polled per step and per tile
    assert result.cancelled and result.image.shape == content.shape and result.report.steps_done == 0


def test_stop_during_a_tiled_finishing_level_keeps_the_full_size_image(model, images):
    """Stop is polled per tile in a finishing level too: the job ends within the step, at full size."""
    content, starry, _ = images
    seen, polls = [], []   # progress (after each step), and the polls after the finishing level's first step

    def stop():
        if any(p.tile is None and p.level == p.levels - 1 for p in seen):   # a finishing step is done
            polls.append(1)
        return len(polls) > 2        # in the middle of the step's tiles
    opts = TransferOptions(size=80, steps=2, working_size=40, finish_steps=5, fast=False, tile=TILE)
    result = stylize(model, content, [starry], opts, callback=seen.append, should_stop=stop)
    assert result.cancelled and result.image.shape == content.shape
    assert result.report.levels[-1]["role"] == "finishing" and result.report.levels[-1]["tiled"]
    assert result.report.steps_done == 3, "stopped inside the finishing level's second step"


def _cli(tmp_path, *args):
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(example("chelsea.png", 320)).save(content)
    Image.fromarray(example("starry_night.jpg", 160)).save(style)
    return subprocess.run([sys.executable, "-m", "daemon", "stylize", "--local", "--device", "cpu",
                           "--content", str(content), "--style", str(style), "--output", str(tmp_path / "o.png"),
                           "--report", str(tmp_path / "r.json"), "--levels", "1", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)   # a hang, not a slow machine


@pytest.mark.slow
def test_a_job_over_the_memory_budget_runs_tiled_at_its_full_size(tmp_path):
    from daemon.engine import BadInput, tiling
    from daemon.engine.vgg import CONTENT_LAYERS, STYLE_LAYERS
    opts = TransferOptions(size=192, steps=1, levels=1, optimizer="adam")

    def tiled_at(mb):   # a budget the level does not fit in one piece but does in 4 or more tiles
        try:
            p = tiling.plan((128, 192), CONTENT_LAYERS + STYLE_LAYERS, opts, torch.device("cpu"), mb * 10 ** 6)
        except BadInput:
            return False
        return p.tiled and len(p.tiles) >= 4
    mb = next(mb for mb in range(50, 2000, 10) if tiled_at(mb))
    r = _cli(tmp_path, "--size", "192", "--steps", "1", "--memory-budget", f"{mb}MB", "--optimizer", "adam")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    level = report["levels"][-1]
    assert level["size"] == [128, 192] and level["tiled"] and level["tiles"] >= 4
    assert Image.open(tmp_path / "o.png").size == (192, 128)


@pytest.mark.parametrize("flags, words", [(["--tile", "8"], "at least 16 pixels"),
                                          (["--memory-budget", "50MB"], "too small")])
def test_an_impossible_tile_or_budget_is_one_clear_line(tmp_path, flags, words):
    r = _cli(tmp_path, "--size", "64", "--steps", "1", *flags)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_a_4096_px_job_fits_3_gb_with_its_state_compacted_and_says_so():
    """Issue 11's CPU target: 4096² under a 3 GB budget. The image-sized state alone (history 20 in
    fp32: ~11 GB) is over it, so the plan keeps the L-BFGS history and the content target in bf16 and
    shortens the history, says so, and its estimate fits; the service plans with the same numbers."""
    from daemon.engine.vgg import CONTENT_LAYERS
    from daemon.service import memory
    cpu, budget = torch.device("cpu"), 3 * 10 ** 9
    opts = TransferOptions(size=4096)
    full_state = 4096 * 4096 * tiling.image_bytes_per_pixel(opts)
    assert full_state > budget
    p = tiling.plan((4096, 4096), CONTENT_LAYERS + STYLE_LAYERS, opts, cpu, budget)
    assert p.tiled and p.compact and 1 <= p.history < 20 and p.core >= tiling.GOOD_CORE
    assert tiling.tiled_bytes((4096, 4096), p.core, p.halo, opts, cpu, p.history, compact=True) <= p.estimate <= budget
    # pass 1 and the targets (no gradient) run in larger windows within the same budget
    assert p.forward_core > p.core and len(p.forward) < len(p.tiles)
    assert tiling.forward_bytes((4096, 4096), p.forward_core, p.halo, opts, cpu, p.history, compact=True) <= budget
    assert f"L-BFGS history 20 -> {p.history}" in p.note and "bf16" in p.note
    level = p.describe()
    assert level["compact"] and level["lbfgs_history"] == p.history and level["note"] == p.note
    assert memory.peak_bytes(4096, 4096, opts, 4096, cpu) == tiling.untiled_bytes((4096, 4096), opts, cpu)
    served = memory.place(4096, 4096, opts, cpu, budget=budget, free=lambda d: 10 ** 12)
    assert served.size == 4096 and f"20 -> {p.history}" in served.message and served.estimate <= budget
    # nothing is compacted where it is not needed
    assert not tiling.plan((1024, 1024), CONTENT_LAYERS + STYLE_LAYERS, opts, cpu, budget).compact


def test_a_compacted_history_and_content_target_reach_the_full_precision_loss(model, images):
    """A real small job: L-BFGS with its history shortened to 6 and kept in bf16, the content target
    in bf16, in 3×3 tiles (what a 4096² job under 3 GB runs), ends within 2 % of the loss of the
    full-precision, untiled run with history 20 (after 30 steps: in the first ten the two histories'
    lengths alone part the runs by 6 %)."""
    from daemon.engine.losses import ContentTerm, Objective
    from daemon.engine.transfer import Level, optimise
    content, starry, _ = images
    opts = TransferOptions(size=80, fast=False)
    ctx = Context(model, opts, Steps(0), inputs=colour_controlled(model.device, content, [starry], [], opts))
    size = content.shape[:2]
    full = level_objective(ctx, size)
    compact = Objective(ContentTerm(full.content.target.to(tiling.COMPACT)), full.style,
                        full.content_weight, full.style_weight)

    def run(objective, plan):
        x = model.to_input(ctx.inputs.content).detach().clone().requires_grad_(True)
        x = optimise(ctx, Level(size, 30, objective, preview=lambda xi: None, plan=plan), x)
        with torch.no_grad():
            return float(full(ctx.features(x, full.layers)).total)
    with torch.no_grad():
        start = float(full(ctx.features(model.to_input(ctx.inputs.content), full.layers)).total)
    whole = run(full, tiling.TilePlan(size))
    tiled = run(compact, tiling.TilePlan(size, TILE, 70, tiling.tiles(size, TILE, 70), history=6, compact=True))
    assert whole < 0.5 * start
    assert abs(tiled - whole) / whole < 0.02
