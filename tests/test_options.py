"""Every option has a range a real job can use; anything else is refused with one sentence
(BadInput, ``bad_input`` on the wire) before anything is allocated, never a freeze or ``internal``."""
import numpy as np
import pytest

from daemon.engine import TransferOptions
from daemon.engine.errors import BadInput
from daemon.engine.options import (LEVELS_ALWAYS_ALLOWED, LEVELS_MAX, RANGES, SIZE_MAX, STYLE_PIXELS_MAX,
                                   usable_levels)
from daemon.engine.presets import PRESETS
from daemon.engine.scale import pyramid_sizes
from daemon.service.convert import options_from_dict
from shared.client import DaemonClient
from .helpers import kill, rgba, start_daemon

INTS = {"size", "steps", "levels", "coarse_steps", "mix_steps", "warm_steps", "lbfgs_history", "seed", "guide_grow"}
OPEN_LOW = {"style_scale", "learning_rate"}
HW = (1000, 1000)  # a square content: at the largest size it takes every level up to LEVELS_MAX


def refused(fragment: str = "", n_styles: int = 1, content_hw=None, **kw) -> str:
    with pytest.raises(BadInput) as e:
        TransferOptions(**kw).validate(n_styles, content_hw)
    msg = str(e.value)
    assert fragment in msg and "\n" not in msg and len(msg) < 300, msg
    return msg


def accepted(n_styles: int = 1, content_hw=None, **kw) -> None:
    TransferOptions(**kw).validate(n_styles, content_hw)


# ---- ranges -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_takes_its_ends_and_refuses_just_beyond(name):
    lo, hi = RANGES[name]
    extra = {"size": 16} if name == "style_scale" else {}   # style scale 16 only fits a small output
    if name in OPEN_LOW:
        accepted(**extra, **{name: 1e-9})                  # the low end is open: anything above 0
        refused(**extra, **{name: 0})
    else:
        accepted(**extra, **{name: lo})
    accepted(**extra, **{name: hi})
    below = lo - 1 if name in INTS else lo - 1e-3
    above = hi + 1 if name in INTS else hi * (1 + 1e-9)
    for bad in (below, above):
        msg = refused(**extra, **{name: bad})
        assert str(hi) in msg or f"{hi:g}" in msg, msg     # the sentence gives the range


@pytest.mark.parametrize("kw, fragment", [
    (dict(levels=10 ** 19), f"levels must be a whole number from 1 to {LEVELS_MAX}"),
    (dict(levels=200000), "levels"),
    (dict(size=10 ** 15), f"size must be a whole number from 16 to {SIZE_MAX}"),
    (dict(lbfgs_history=10 ** 9), "L-BFGS history"),
    (dict(style_scale=1e308), "style scale"),
    (dict(seed=10 ** 19), "seed must be a whole number from 0 to 9223372036854775807"),
    (dict(seed=-1), "seed"),
    (dict(steps=10 ** 6), "steps must be a whole number from 0 to 100000"),
    (dict(coarse_steps=10 ** 6), "coarse steps"),
    (dict(mix_steps=10 ** 6), "mix steps"),
    (dict(guide_grow=10 ** 9), "guide grow"),
    (dict(learning_rate=1e300), "learning rate"),
    (dict(content_weight=1e300), "content weight"),
    (dict(style_weight=10 ** 400), "style weight"),          # an int too large for a float: no OverflowError
    (dict(size=10 ** 5000), "size"),                         # too many digits even to print: still one sentence
])
def test_the_values_that_froze_or_crashed_the_daemon_are_refused_in_one_sentence(kw, fragment):
    refused(fragment, **kw)


def test_style_scale_is_bounded_by_the_style_pixels_it_makes():
    accepted(size=4096, style_scale=16)
    msg = refused("style scale", size=SIZE_MAX, style_scale=2)
    assert "at most 1" in msg
    assert SIZE_MAX * SIZE_MAX * 1 <= STYLE_PIXELS_MAX


# ---- types ----------------------------------------------------------------------------------------
WRONG = ["5", True, None, [1], [[1]], {"a": 1}, float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("name", sorted(RANGES))
@pytest.mark.parametrize("value", WRONG, ids=repr)
def test_a_number_option_given_anything_but_a_number_is_refused(name, value):
    if value is None and name in ("coarse_steps", "mix_steps", "warm_steps"):
        accepted(**{name: value})              # None = "same as steps" (warm: the plan's rule)
        return
    refused(name.replace("_", " ").replace("lbfgs", "L-BFGS"), **{name: value})


@pytest.mark.parametrize("name", INTS)
def test_a_whole_number_option_refuses_fractions(name):
    refused(**{name: 1.5})


@pytest.mark.parametrize("kw, fragment", [
    (dict(style_blend=1), "style blend must be a list"),
    (dict(style_blend="1,2"), "style blend must be a list"),
    (dict(style_blend=[]), "style blend must be a list"),
    (dict(style_blend=[1, "a"]), "style blend weight"),
    (dict(style_blend=[1, None]), "style blend weight"),
    (dict(style_blend=[1, [2]]), "style blend weight"),
    (dict(style_blend=[1, float("nan")]), "style blend weight"),
    (dict(style_blend=[1, 10 ** 400]), "style blend weight"),
    (dict(style_blend=[0, 0]), "add up to zero"),
    (dict(style_blend=[1, 1, 1]), "3 weights for 2 style"),
    (dict(scale_mix=5), "scale mix takes two"),
    (dict(scale_mix="01"), "scale mix takes two"),
    (dict(scale_mix=[0]), "scale mix takes two"),
    (dict(scale_mix=[0, 1.5]), "whole numbers"),
    (dict(scale_mix=[True, False]), "whole numbers"),
    (dict(scale_mix=[0, 2]), "out of range"),
    (dict(scale_mix=[0, 10 ** 19]), "out of range"),
    (dict(scale_mix=[-1, 0]), "whole numbers"),
    (dict(color=["full"]), "color must be one of"),
    (dict(color=None), "color must be one of"),
    (dict(optimizer=1), "optimizer must be one of"),
    (dict(init={"a": 1}), "init must be one of"),
    (dict(global_guide=1), "global guide must be true or false"),
    (dict(global_guide="yes"), "global guide"),
    (dict(fast=None), "fast must be true or false"),
])
def test_lists_choices_and_flags_of_the_wrong_kind_are_refused(kw, fragment):
    refused(fragment, n_styles=2, **kw)


def test_long_values_stay_short_in_the_sentence():
    msg = refused("color", color="x" * 10000)
    assert len(msg) < 200


# ---- levels and the content's size ---------------------------------------------------------------------
@pytest.mark.parametrize("h, w, size", [(16, 16, 16), (32, 48, 48), (67, 100, 80), (600, 800, 512),
                                        (600, 800, SIZE_MAX), (20, 1000, 1000), (1, 1, 16)])
def test_usable_levels_are_the_levels_the_pyramid_keeps(h, w, size):
    n = usable_levels(h, w, size)
    if n == 0:
        with pytest.raises(BadInput):
            pyramid_sizes(h, w, size, 1)
    else:
        assert len(pyramid_sizes(h, w, size, LEVELS_MAX)) == n
    assert n <= LEVELS_MAX


def test_levels_beyond_what_the_image_allows_are_refused_with_the_most_it_allows():
    accepted(content_hw=HW, size=SIZE_MAX, levels=LEVELS_MAX)
    msg = refused("pyramid levels", content_hw=(341, 512), size=512, levels=6)
    assert "at most 5 levels" in msg
    refused("levels", content_hw=(341, 512), size=512, levels=LEVELS_MAX + 1)


def test_a_few_levels_too_many_are_dropped_as_before_not_refused():
    """The presets' levels (at most LEVELS_ALWAYS_ALLOWED) on a small output: the pyramid drops the
    levels that would fall below 16 px, as it always did."""
    assert max(p["levels"] for p in PRESETS.values()) <= LEVELS_ALWAYS_ALLOWED
    accepted(content_hw=(67, 100), size=80, levels=3)
    assert len(pyramid_sizes(67, 100, 80, 3)) == 2
    refused("use at most 1 level", content_hw=(16, 16), size=16, levels=LEVELS_ALWAYS_ALLOWED + 1)


def test_an_output_too_thin_for_vgg_is_refused():
    refused("raise the size", content_hw=(10, 1000), size=512)


# ---- the wire's options --------------------------------------------------------------------------------
@pytest.mark.parametrize("d, fragment", [
    ({"size": 64, "steps": 1, "levels": 10 ** 19}, "levels"),
    ({"size": 10 ** 15}, "size"),
    ({"size": 1e300}, "size"),
    ({"size": float("nan")}, "size"),
    ({"size": True}, "size"),
    ({"size": False}, "size"),               # not "0 = the content's size"
    ({"lbfgs_history": 10 ** 9}, "L-BFGS history"),
    ({"style_blend": 1}, "style blend"),
    ({"scale_mix": 5}, "scale mix"),
    ({"style_scale": 1e308}, "style scale"),
    ({"seed": 12345678901234567890}, "seed"),
    ({"steps": "5"}, "steps"),
    ({"levels": 5, "size": 32}, "pyramid levels"),
    ({"quality": ["high"]}, "quality must be a preset name"),
    ({"quality": "standard", "size": 10 ** 400}, "size"),     # a preset for a size no float can hold
    ({"quality": "preview", "size": float("nan")}, "size"),
    ({"quality": "high", "size": "512"}, "size"),
    ({"quality": "ultra"}, "quality must be one of"),
    ({"bogus": 1}, "unknown option"),
    ({"fast": 1}, "fast"),
])
def test_wire_options_that_cannot_work_are_bad_input(d, fragment):
    with pytest.raises(BadInput) as e:
        options_from_dict(d, (32, 48))
    assert fragment in str(e.value), str(e.value)


@pytest.mark.parametrize("d", [[1, 2], "size=5", None, 5])
def test_options_that_are_not_an_object_are_bad_input(d):
    with pytest.raises(BadInput, match="options must be an object"):
        options_from_dict(d, (32, 48))


def test_wire_whole_numbers_may_come_as_floats_and_presets_shrink_to_small_images():
    o = options_from_dict({"size": 32.0, "steps": 3.0, "seed": 7.0, "scale_mix": [1.0, 0.0]}, (32, 48))
    assert (o.size, o.steps, o.seed, o.scale_mix) == (32, 3, 7, [1, 0])
    assert all(type(v) is int for v in (o.size, o.steps, o.seed, *o.scale_mix))
    assert options_from_dict({"quality": "high", "size": 32}, (32, 48)).levels == 1    # 21 px short side
    from daemon.engine.plan import plan_job
    roles = lambda size: [l.role for l in plan_job(  # noqa: E731
        (768, 1024), options_from_dict({"quality": "high", "size": size}, (768, 1024)), [(768, 1024)], "cpu").levels]
    assert roles(1024) == roles(512) + ["finishing"], "above the working size: the same pyramid, then finishing"
    assert options_from_dict({"size": 0}, (32, 48)).size == 48


@pytest.mark.parametrize("quality, size, levels, steps, coarse", [
    ("preview", 256, 1, 60, None), ("standard", 256, 1, 150, None), ("high", 256, 1, 500, None),
    ("standard", 511, 1, 150, None), ("preview", 512, 1, 60, None), ("standard", 512.0, 1, 150, None),
    ("high", 512, 1, 500, None), ("high", 1023, 1, 500, None), ("high", 1024, 1, 500, None),
])
def test_presets_run_no_level_under_256_px_and_one_level_runs_its_own_steps(quality, size, levels, steps, coarse):
    """Every preset runs the authors' one level at the working size (a coarse level softens the
    strokes: BENCHMARKS.md, "The paper's look"), of its own steps; preview < standard < high; levels
    given by the caller are the caller's."""
    assert PRESETS["preview"]["steps"] < PRESETS["standard"]["steps"] < PRESETS["high"]["steps"]
    o = options_from_dict({"quality": quality, "size": size}, (341, 512))
    assert (o.levels, o.steps, o.coarse_steps) == (levels, steps, coarse)
    from daemon.engine.plan import plan_job
    full = [l for l in plan_job((341, 512), o, [(341, 512)], "cpu").levels if l.role != "finishing"]
    assert len(full) == levels and min(max(l.size) for l in full) >= min(256, o.size)
    # given levels and steps are the caller's: the preset never overrides them
    assert options_from_dict({"quality": quality, "size": size, "levels": 2, "steps": 7}, (341, 512)).steps == 7
    assert options_from_dict({"quality": quality, "size": size, "levels": 2}, (341, 512)).levels == 2
    # a content with no room for the preset's pyramid (a strip 20 px high) runs one level, of its own steps
    strip = options_from_dict({"quality": quality, "size": size}, (20, int(size)))
    assert (strip.levels, strip.steps) == (1, PRESETS[quality]["steps"])


def test_size_zero_on_a_content_larger_than_the_largest_size_is_bad_input():
    with pytest.raises(BadInput, match="own long edge"):
        options_from_dict({"size": 0}, (100, SIZE_MAX + 1))


# ---- through a real daemon -------------------------------------------------------------------------------
def test_the_daemon_answers_the_values_that_froze_it_with_bad_input_and_keeps_answering(tmp_path):
    proc, endpoint, _log = start_daemon(tmp_path, "--idle-exit", "120")
    content = rgba(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    style = rgba(np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    try:
        with DaemonClient(endpoint, timeout=10) as c, DaemonClient(endpoint, timeout=1.0) as watcher:
            for options, fragment in (({"size": 64, "steps": 1, "levels": 10 ** 19}, "levels"),
                                      ({"size": 10 ** 15, "steps": 1}, "size"),
                                      ({"size": 16, "steps": 1, "lbfgs_history": 10 ** 9}, "L-BFGS history")):
                job = c.submit(content=content, styles=[style], options=options)
                end = [e for e in c.events(job, timeout=30) if e["type"] in ("result", "error")][-1]
                assert end["type"] == "error" and end["code"] == "bad_input", end
                assert fragment in end["message"], end
                assert watcher.status()["state"] == "ready"       # answered within the 1 s timeout
            job = c.submit(content=content, styles=[style], options={"size": 16, "steps": 1})
            end = list(c.events(job, timeout=60))[-1]
            assert end["type"] == "result", end
    finally:
        kill(proc)
