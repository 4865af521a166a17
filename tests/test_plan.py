"""The job plan (``engine.plan``) and what a user sees of it: results at the requested size through
finishing levels, the style at no more than its own pixels, and a plan that is what the engine runs."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from daemon.engine import TransferOptions, apply_preset, stylize
from daemon.engine.finishing import FINISH_CUT
from daemon.engine.plan import plan_job, warm_steps
from daemon.engine.scale import style_size

from .images import example


def _detail(img: np.ndarray) -> float:
    """Mean |Laplacian| of the luminance: how much pixel-scale detail an image holds."""
    y = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.abs(lap).mean())


def test_presets_climb_to_the_requested_size_through_finishing_levels():
    """Above the working size the pyramid goes on to the requested size in finishing levels that
    double each time and read only the fine layers; at or below it nothing changes."""
    opts = apply_preset(TransferOptions(size=4000), "standard")
    plan = plan_job((3000, 4000), opts, [(811, 1024)], "cpu")
    roles = [l.role for l in plan.levels]
    assert roles[-4:] == ["working", "finishing", "finishing", "finishing"]
    assert plan.final_size == (3000, 4000)
    assert [max(l.size) for l in plan.levels][-4:] == [500, 1000, 2000, 4000]
    finishing = [l.steps for l in plan.levels if l.role == "finishing"]
    assert finishing == sorted(finishing, reverse=True) and finishing[-1] < finishing[0], "fewer steps as pixels grow"
    assert all(l.depth <= FINISH_CUT for l in plan.levels if l.role == "finishing")
    assert all(l.depth == "relu5_1" for l in plan.levels if l.role != "finishing")
    small = plan_job((300, 400), apply_preset(TransferOptions(size=400), "standard"),
                     [(811, 1024)], "cpu")
    assert [l.role for l in small.levels][-1] == "working" and small.final_size == (300, 400)


def test_the_style_never_grows_above_its_own_pixels():
    """At every level the style image takes the level's pixels × style scale, at most its own."""
    h, w = style_size((811, 1024), (384, 512), 1.0)                         # smaller: the level's pixels
    assert abs(h * w - 384 * 512) < 0.01 * 384 * 512 and abs(w / h - 1024 / 811) < 0.01
    assert style_size((811, 1024), (3000, 4000), 1.0) == (811, 1024)       # larger: its own pixels
    assert style_size((811, 1024), (3000, 4000), 0.01) < (811, 1024)       # style scale still counts
    opts = apply_preset(TransferOptions(size=2048), "preview")
    plan = plan_job((1536, 2048), opts, [(240, 384)], "cpu")
    assert all(s[0] * s[1] <= 240 * 384 for l in plan.levels for s in l.style_sizes)


def test_a_finishing_level_returns_the_requested_size_and_adds_fine_detail(model):
    """A job whose levels cross the working size returns the requested size; its finishing level
    starts from the level below (with no steps the result is that level, upsampled), and its steps
    add pixel-scale detail to it."""
    content, style = example("chelsea.png", 128), example("starry_night.jpg", 128)
    opts = TransferOptions(size=128, steps=10, working_size=64, finish_steps=0, color="histogram")
    plan = plan_job(content.shape[:2], opts, [style.shape[:2]], "cpu")
    assert [l.role for l in plan.levels] == ["working", "finishing"]
    upsampled = stylize(model, content, [style], opts)
    assert upsampled.image.shape[:2] == content.shape[:2] == plan.final_size
    below = stylize(model, content, [style], dataclasses.replace(opts, size=64, working_size=0))
    by_pil = np.asarray(Image.fromarray(below.image).resize(content.shape[1::-1], Image.BILINEAR))
    assert np.abs(upsampled.image.astype(int) - by_pil).mean() < 6, "starts from the level below, upsampled"
    finished = stylize(model, content, [style], dataclasses.replace(opts, finish_steps=8))
    assert finished.image.shape == upsampled.image.shape
    assert _detail(finished.image) > 1.1 * _detail(upsampled.image)


def test_the_plan_is_what_the_engine_runs(model):
    """The report's levels are the plan's (size, steps, role), and the steps done are its total."""
    content, style = example("chelsea.png", 96), example("starry_night.jpg", 64)
    opts = TransferOptions(size=96, steps=3, levels=2, coarse_steps=2, working_size=48, finish_steps=2)
    plan = plan_job(content.shape[:2], opts, [style.shape[:2]], "cpu")
    result = stylize(model, content, [style], opts)
    ran = [(tuple(l["size"]), l["steps"], l["role"]) for l in result.report.levels]
    assert ran == [(l.size, l.steps, l.role) for l in plan.levels]
    assert result.report.steps_done == plan.total_steps == 2 + 3 + 2
    assert result.report.plan == plan.describe()


def test_a_start_from_a_picture_skips_the_coarse_levels_and_only_a_warm_one_cuts_the_steps():
    """The start rule, once, in the plan: a kept result (warm) and a given image both skip the coarse
    levels; a warm start runs a quarter of the working level's steps (at least 15), a given image
    (a result continued) all the steps asked; the option warm_steps overrides the rule."""
    opts = TransferOptions(size=1024, levels=2, steps=30, coarse_steps=60, working_size=512, finish_steps=30)
    cold = plan_job((768, 1024), opts, [(768, 1024)], "cpu")
    image = plan_job((768, 1024), opts, [(768, 1024)], "cpu", start="image")
    working = lambda p: next(l for l in p.levels if l.role == "working")  # noqa: E731
    assert working(image).steps == working(cold).steps == opts.steps
    assert [l.role for l in image.levels] == [l.role for l in cold.levels if l.role != "coarse"]
    assert warm_steps(TransferOptions(steps=100)) == 25 and warm_steps(TransferOptions(steps=22)) == 15
    assert warm_steps(TransferOptions(steps=8)) == 8 and warm_steps(TransferOptions(steps=100, warm_steps=3)) == 3
    assert working(plan_job((768, 1024), opts, [(768, 1024)], "cpu", start="warm")).steps == warm_steps(opts)
    with pytest.raises(ValueError):
        plan_job((768, 1024), opts, [(768, 1024)], "cpu", start="last")
    warm = plan_job((768, 1024), opts, [(768, 1024)], "cpu", start="warm")
    assert [l.role for l in warm.levels] == [l.role for l in cold.levels if l.role != "coarse"]
