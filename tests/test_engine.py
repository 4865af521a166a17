"""The engine's controls, each tested by what a user would see (CPU, real VGG-19 weights, tiny images)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from daemon.engine import (BadInput, EmptyRegion, ModelSpec, Region, TransferOptions, load_model,
                           mix_styles, objective, stylize)
from daemon.engine import color
from daemon.engine.guides import propagate_guide
from daemon.engine.losses import gram
from daemon.engine.scale import mix_cut_layer, pyramid_sizes
from daemon.engine.transfer import to_tensor
from daemon.engine.vgg import STYLE_LAYERS

from .images import example, half_masks


def _yiq(img: np.ndarray) -> np.ndarray:
    return color.rgb_to_yiq(to_tensor(img, "cpu").double())[0].numpy()


def _layer_grams(model, img: np.ndarray, layers=STYLE_LAYERS):
    with torch.no_grad():
        feats = model.features(model.to_input(to_tensor(img, "cpu")), layers)
    return {l: gram(f) for l, f in feats.items()}


def _gram_distance(model, a: np.ndarray, b: np.ndarray, layer: str) -> float:
    ga, gb = _layer_grams(model, a, [layer])[layer], _layer_grams(model, b, [layer])[layer]
    return float(torch.mean((ga - gb) ** 2) / torch.mean(gb ** 2))


# ---- colour control --------------------------------------------------------------------------
def test_luminance_only_output_keeps_the_contents_chroma(model):
    content = example("chelsea.png", 64)
    style = example("starry_night.jpg", 64)
    out = stylize(model, content, [style], TransferOptions(size=64, steps=8, color="luminance")).image
    assert out.shape == content.shape
    c, o = _yiq(content), _yiq(out)
    # chroma (I, Q) is the content's up to 8-bit rounding; luminance did change
    assert np.abs(o[1:] - c[1:]).mean() < 0.004
    assert np.abs(o[1:] - c[1:]).max() < 0.03
    assert np.abs(o[0] - c[0]).mean() > 0.01


@pytest.mark.parametrize("method", ["chol", "pca", "ot"])
def test_histogram_matched_style_has_the_contents_colour_mean_and_covariance(method):
    """The linear map has exactly the content's mean and covariance; the style the network sees is that
    map brought into the RGB cube: unchanged where it was inside, elsewhere moved toward its own
    luminance (the same hue, paler), never clipped channel by channel."""
    content = to_tensor(example("coffee.png", 64), "cpu")
    style = to_tensor(example("starry_night.jpg", 64), "cpu")
    a, b = color.histogram_transform(style, content, method)
    linear = (a @ style.reshape(3, -1).double() + b).reshape(style.shape)
    matched = color.match_histogram(style, content, method).double()

    def stats(t):
        x = t.reshape(3, -1).double()
        return x.mean(1), torch.cov(x, correction=0)

    (mc, cc), (ml, cl), (ms, cs) = stats(content), stats(linear), stats(style)
    assert torch.allclose(ml, mc, atol=1e-4)
    assert torch.allclose(cl, cc, atol=1e-4)
    assert not torch.allclose(ms, mc, atol=1e-2)  # it did have to move
    assert matched.min() >= 0 and matched.max() <= 1
    inside = ((linear >= 0) & (linear <= 1)).all(dim=1, keepdim=True).expand_as(linear)
    assert torch.allclose(matched[inside], linear[inside], atol=1e-5)
    y = color.luminance(linear).clamp(0, 1)
    moved = ~inside[0, 0]                  # H×W: the pixels the map put outside the cube
    assert moved.any() or method != "pca"  # the default map does leave the cube on this pair
    d_linear, d_matched = (linear - y)[0][:, moved], (matched - y)[0][:, moved]      # 3×K, from the luminance
    t = d_matched.norm(dim=0) / d_linear.norm(dim=0).clamp_min(1e-12)
    assert (t <= 1 + 1e-6).all() and torch.allclose(d_matched, d_linear * t, atol=1e-5)   # the same hue, paler


def test_histogram_mode_keeps_to_the_contents_colours_without_neon_lights(model):
    """Histogram mode on a photo of a narrow palette (a cup of coffee) with The Starry Night, whose
    bright lights a linear colour map throws out of the RGB cube: few of the result's pixels take
    colours the photo has (almost) none of: 0.35 of them when the network was shown the map unclamped
    (neon yellow-green), about 0.22 now."""
    content, style = example("coffee.png", 96), example("starry_night.jpg", 96)
    out = stylize(model, content, [style], TransferOptions(size=96, steps=40, levels=1, color="histogram",
                                                            fast=False)).image

    def bins(img):
        q = img.reshape(-1, 3).astype(int) // 16
        return q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    share = np.bincount(bins(content), minlength=4096) / (content.size // 3)
    assert (share[bins(out)] < 1e-4).mean() < 0.28


def test_histogram_colour_mode_runs_and_moves_towards_the_contents_palette(model):
    content = example("chelsea.png", 48)
    style = example("starry_night.jpg", 48)
    full = stylize(model, content, [style], TransferOptions(size=48, steps=15, style_weight=10)).image
    hist = stylize(model, content, [style], TransferOptions(size=48, steps=15, style_weight=10, color="histogram")).image
    c_mean = content.reshape(-1, 3).mean(0)
    assert np.abs(hist.reshape(-1, 3).mean(0) - c_mean).sum() < np.abs(full.reshape(-1, 3).mean(0) - c_mean).sum()


def test_every_job_starts_from_the_content_with_or_without_regions(model):
    """One start rule: with no steps run, a full-colour result is the content itself, with regions or
    without, in every colour mode; noise and a given image are the other starts."""
    content = example("chelsea.png", 48)
    style = example("starry_night.jpg", 48)

    def start(regions=(), **kw):
        return stylize(model, content, [style], TransferOptions(size=48, steps=0, levels=1, **kw), regions)

    left, _ = half_masks(48, 48)
    for run in (start(), start(color="histogram"), start([Region(content_mask=left, style=0)])):
        assert run.report.start == "content"
        assert np.abs(run.image.astype(int) - content).max() <= 1
    assert start(init="noise").report.start == "noise"


# ---- spatial control ---------------------------------------------------------------------------
def test_the_default_gives_the_papers_look_and_the_milder_weight_stays_reachable(model):
    """The default alpha (the authors' 1) is measurably more stylized than the old alpha = 30 at equal
    steps: the style loss, relative to the photo's own, at least 2x lower; a larger content weight
    still keeps more of the photo (the content loss lower)."""
    from daemon.engine import objective
    size, steps = 128, 80        # below ~128 px the style term dominates either way: no difference to see
    content, style = example("chelsea.png", size), example("starry_night.jpg", size)

    def losses(image):
        style_loss = objective(model, image, content, [style], TransferOptions(size=size, content_weight=0, fast=False))
        content_loss = objective(model, image, content, [style], TransferOptions(size=size, style_weight=0, fast=False))
        return style_loss, content_loss
    photo_style, _ = losses(content)
    default = losses(stylize(model, content, [style], TransferOptions(size=size, steps=steps, levels=1,
                                                                      fast=False)).image)
    mild = losses(stylize(model, content, [style], TransferOptions(size=size, steps=steps, levels=1, fast=False,
                                                                   content_weight=30)).image)
    assert TransferOptions().content_weight == 1.0
    assert default[0] / photo_style * 2 <= mild[0] / photo_style, (default, mild, photo_style)
    assert mild[1] < default[1]


def test_guide_propagation_inside_is_within_simple_is_within_all():
    yy, xx = np.mgrid[0:96, 0:128]
    mask = (((yy - 40) ** 2 / 30 ** 2 + (xx - 60) ** 2 / 45 ** 2) < 1).astype(np.float32)
    g = torch.from_numpy(mask)
    inside = propagate_guide(g, STYLE_LAYERS, "inside")
    simple = propagate_guide(g, STYLE_LAYERS, "simple")
    every = propagate_guide(g, STYLE_LAYERS, "all")
    for layer in STYLE_LAYERS:
        assert inside[layer].shape == simple[layer].shape == every[layer].shape
        assert torch.all(inside[layer] <= simple[layer] + 1e-6), layer
        assert torch.all(simple[layer] <= every[layer] + 1e-6), layer
    # the erosion grows with depth: deeper layers keep a smaller share of the region
    share = [float(inside[l].mean() / simple[l].mean()) for l in STYLE_LAYERS]
    assert share == sorted(share, reverse=True) and share[-1] < share[0]
    # grow / shrink by k
    grown = propagate_guide(g, ["relu3_1"], "simple", grow=2)["relu3_1"]
    shrunk = propagate_guide(g, ["relu3_1"], "simple", grow=-2)["relu3_1"]
    assert torch.all(shrunk <= simple["relu3_1"]) and torch.all(simple["relu3_1"] <= grown)
    assert grown.sum() > simple["relu3_1"].sum() > shrunk.sum()


def test_two_regions_each_take_their_own_style(model):
    content = example("chelsea.png", 96)
    h, w = content.shape[:2]
    left, right = half_masks(h, w)
    styles = [example("brick.png", 96), example("starry_night.jpg", 96)]
    regions = [Region(left, style=0), Region(right, style=1)]
    out = stylize(model, content, styles, TransferOptions(size=96, steps=40, style_weight=10),
                  regions=regions).image
    half = w // 2
    out_left, out_right = out[:, : half - 8], out[:, half + 8:]
    for layer in ("relu1_1", "relu2_1", "relu3_1"):
        assert _gram_distance(model, out_left, styles[0], layer) < _gram_distance(model, out_left, styles[1], layer), layer
        assert _gram_distance(model, out_right, styles[1], layer) < _gram_distance(model, out_right, styles[0], layer), layer


def test_pixels_outside_every_region_keep_the_content(model):
    content = example("chelsea.png", 64)
    h, w = content.shape[:2]
    left, _ = half_masks(h, w)
    res = stylize(model, content, [example("starry_night.jpg", 64)], TransferOptions(size=64, steps=5),
                  regions=[Region(left, style=0)])
    assert np.array_equal(res.image[:, w // 2 + 1:], content[:, w // 2 + 1:])
    assert not np.array_equal(res.image[:, : w // 2 - 1], content[:, : w // 2 - 1])
    assert len(res.report.losses["regions"]) == 1


@pytest.mark.parametrize("guidance,propagation", [("sums", "simple"), ("gram", "inside"), ("gram", "all")])
def test_other_guidance_and_propagation_modes_run(model, guidance, propagation):
    content = example("chelsea.png", 48)
    h, w = content.shape[:2]
    left, right = half_masks(h, w)
    style = example("starry_night.jpg", 48)
    # a soft (feathered) mask, and a style mask choosing the top of the style image
    soft = np.clip(left + 0.5 * (np.arange(w)[None, :] == w // 2), 0, 1).astype(np.float32)
    style_mask = np.zeros(style.shape[:2], np.float32)
    style_mask[: style.shape[0] // 2] = 1
    res = stylize(model, content, [style, example("brick.png", 48)],
                  TransferOptions(size=48, steps=4, guidance=guidance, propagation=propagation, guide_grow=1,
                                  global_guide=True),
                  regions=[Region(soft, style=0, style_mask=style_mask), Region(right, style=1)])
    assert res.image.shape == content.shape and len(res.report.losses["regions"]) == 2


def test_an_empty_region_is_a_clear_error(model):
    content = example("chelsea.png", 32)
    with pytest.raises(EmptyRegion, match="region 0's mask selects nothing"):
        stylize(model, content, [content], TransferOptions(size=32, steps=1),
                regions=[Region(np.zeros((10, 10), np.float32), style=0)])
    with pytest.raises(BadInput, match="names style 3"):
        stylize(model, content, [content], TransferOptions(size=32, steps=1),
                regions=[Region(np.ones((10, 10), np.float32), style=3)])


# ---- scale control -----------------------------------------------------------------------------
def test_style_mixing_takes_fine_texture_from_one_and_coarse_structure_from_the_other(model):
    # two grey textures, so that colour does not dominate the Gram statistics
    coarse = example("brick.png", 128)
    fine = example("grass.png", 128)
    assert mix_cut_layer(*coarse.shape[:2]) == "relu2_1"  # never finer: relu1_1 alone carries no strokes
    # at 128 px relu2_1's window is a large share of the image: cut at relu1_1 to see the split
    mixed = mix_styles(model, coarse, fine, size=128, steps=30, cut="relu1_1")
    assert mixed.shape == coarse.shape

    def d(a, b, layer):  # symmetric relative Gram distance
        ga, gb = _layer_grams(model, a, [layer])[layer], _layer_grams(model, b, [layer])[layer]
        return float(((ga - gb) ** 2).sum() / (ga.norm() * gb.norm()))

    # low layers follow the fine style ...
    for layer in ("relu1_1", "relu2_1"):
        assert d(mixed, fine, layer) < d(mixed, coarse, layer), layer
    # ... high layers stay with the coarse one
    for layer in ("relu3_1", "relu4_1", "relu5_1"):
        assert d(mixed, coarse, layer) < d(mixed, fine, layer), layer


def test_mix_cut_moves_deeper_with_resolution():
    """The authors' rule by size: relu2_1 at 512 px (also for a 4:3 image, and below), relu4_1 at 1024."""
    assert mix_cut_layer(512, 512) == mix_cut_layer(384, 512) == mix_cut_layer(336, 448) == "relu2_1"
    assert mix_cut_layer(1024, 1024) == mix_cut_layer(768, 1024) == "relu4_1"
    assert mix_cut_layer(4096, 4096) == "relu4_1"


def test_the_mix_cut_option_sets_which_layers_carry_the_fine_style(model):
    """--mix-cut: cut at relu3_1, the fine style also sets relu3_1's statistics; cut at relu1_1, it
    does not (they stay nearer the coarse style's); the plan runs the mix to the cut asked."""
    from daemon.engine.plan import plan_job
    coarse, fine = example("brick.png", 128), example("grass.png", 128)

    def d(a, b, layer):
        ga, gb = _layer_grams(model, a, [layer])[layer], _layer_grams(model, b, [layer])[layer]
        return float(((ga - gb) ** 2).sum() / (ga.norm() * gb.norm()))
    shallow = mix_styles(model, coarse, fine, size=128, steps=30, cut="relu1_1")
    deep = mix_styles(model, coarse, fine, size=128, steps=30, cut="relu3_1")
    assert d(deep, fine, "relu3_1") < d(shallow, fine, "relu3_1")
    assert d(deep, fine, "relu2_1") < d(shallow, fine, "relu2_1")
    opts = TransferOptions(size=128, steps=1, scale_mix=[0, 1], mix_cut="relu3_1")
    assert plan_job((128, 128), opts, [(128, 128), (128, 128)], "cpu").mix.depth == "relu3_1"
    with pytest.raises(BadInput, match="mix cut"):
        TransferOptions(size=128, mix_cut="relu5_2").validate(2)


def test_scale_mix_option_runs_inside_a_transfer(model):
    res = stylize(model, example("chelsea.png", 48), [example("starry_night.jpg", 48), example("brick.png", 48)],
                  TransferOptions(size=48, steps=3, mix_steps=3, scale_mix=[0, 1]))
    assert res.report.mix["steps"] == 3 and res.report.steps_done == 6


def test_coarse_to_fine_gives_the_requested_size(model):
    content = example("chelsea.png", 100)   # 100×67
    seen = []
    res = stylize(model, content, [example("starry_night.jpg", 64)],
                  TransferOptions(size=80, steps=2, coarse_steps=3, levels=3),
                  callback=lambda p: seen.append((p.level, p.size)))
    assert content.shape == (67, 100, 3)
    assert res.image.shape == (54, 80, 3)
    # 14×20 is too small for VGG's four poolings: that level is dropped
    assert [tuple(lv["size"]) for lv in res.report.levels] == pyramid_sizes(67, 100, 80, 3) == [(27, 40), (54, 80)]
    assert seen[-1] == (1, (54, 80))
    # each level's time splits into making its targets and its steps (issue 11's seconds per step)
    for lv in res.report.levels:
        assert 0 < lv["targets_seconds"] < lv["seconds"] and lv["seconds_per_step"] > 0
        assert lv["targets_seconds"] + lv["steps"] * lv["seconds_per_step"] == pytest.approx(lv["seconds"], abs=0.01)
    assert pyramid_sizes(67, 100, 400, 3) == [(67, 100), (134, 200), (268, 400)]


# ---- optimiser, determinism, cancel, progress ------------------------------------------------
def test_same_seed_same_output_and_another_seed_differs(model):
    content, style = example("chelsea.png", 48), example("starry_night.jpg", 48)
    opts = dict(size=48, steps=4, init="noise")
    a = stylize(model, content, [style], TransferOptions(seed=7, **opts)).image
    b = stylize(model, content, [style], TransferOptions(seed=7, **opts)).image
    c = stylize(model, content, [style], TransferOptions(seed=8, **opts)).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_lbfgs_and_adam_lower_the_loss(model):
    content, style = example("chelsea.png", 48), example("starry_night.jpg", 48)
    for optimizer in ("lbfgs", "adam"):
        seen = []
        stylize(model, content, [style], TransferOptions(size=48, steps=15, optimizer=optimizer, learning_rate=5),
                callback=lambda p: seen.append(p.losses["total"]))
        assert len(seen) == 15 and min(seen[-3:]) < 0.5 * seen[0], optimizer


def test_cancel_returns_the_current_image_at_full_size(model):
    content = example("chelsea.png", 64)
    calls = []
    res = stylize(model, content, [example("starry_night.jpg", 64)], TransferOptions(size=64, steps=50, levels=2),
                  callback=lambda p: calls.append(p.done), should_stop=lambda: len(calls) >= 3)
    assert res.cancelled and res.report.steps_done == 3
    assert res.image.shape == content.shape and not np.array_equal(res.image, content)


def test_progress_reports_steps_losses_and_a_preview_image(model):
    seen = []
    stylize(model, example("chelsea.png", 48), [example("starry_night.jpg", 48)],
            TransferOptions(size=48, steps=3), callback=seen.append)
    assert [p.step for p in seen] == [1, 2, 3] and seen[-1].done == seen[-1].job_total == 3
    assert set(seen[0].losses) == {"content", "style", "total"}
    img = seen[-1].image()
    assert img.dtype == np.uint8 and img.shape == (32, 48, 3)


def test_an_unknown_optimiser_is_refused_not_replaced():
    from daemon.engine.optim import LBFGS, Adam, make_optimizer

    x = torch.zeros(4, requires_grad=True)
    assert isinstance(make_optimizer("lbfgs", x, 5, 1.0, 255.0), LBFGS)
    assert isinstance(make_optimizer("adam", x, 5, 1.0, 255.0), Adam)
    with pytest.raises(BadInput, match="optimizer must be one of lbfgs, adam"):
        make_optimizer("sgd", x, 5, 1.0, 255.0)


@pytest.mark.parametrize("kind", ["lbfgs", "lbfgs-compact", "adam"])
def test_every_optimiser_keeps_the_image_in_the_box(kind):
    """A minimum outside the box [lo, hi]: each step is projected, and the image ends at the box's
    nearest point (the clamped minimum), not outside it."""
    from daemon.engine.optim import LBFGS, Adam

    target = torch.linspace(-3.0, 3.0, 64).view(1, 1, 8, 8).repeat(1, 3, 1, 1)
    lo, hi = torch.tensor([-1.0, -0.5, 0.0]).view(1, 3, 1, 1), torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    x = torch.zeros_like(target, requires_grad=True)
    opt = (Adam(x, lr=0.05 * 255, input_scale=1.0, bounds=(lo, hi)) if kind == "adam" else
           LBFGS(x, history=5, storage=torch.bfloat16 if kind == "lbfgs-compact" else None, bounds=(lo, hi)))

    def closure():
        x.grad = None
        loss = 0.5 * ((x - target) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(300 if kind == "adam" else 40):
        opt.step(closure)
        assert bool(((x >= lo) & (x <= hi)).all())
    assert torch.allclose(x.detach(), torch.maximum(torch.minimum(target, hi), lo), atol=2e-2)


def test_the_delivered_image_scores_the_loss_the_optimiser_reached(model):
    """The optimiser keeps the image a picture (values in [0, 1]), so the delivered image, clamped and
    rounded to 8 bits, has the loss the job reports, not a higher one (unconstrained, values leave
    the range and the clamp at the end undid part of the work)."""
    content, style = example("chelsea.png", 64), example("starry_night.jpg", 64)
    options = TransferOptions(size=64, steps=40, levels=1)
    result = stylize(model, content, [style], options)
    delivered = objective(model, result.image, content, [style], options)
    assert delivered == pytest.approx(result.report.losses["total"], rel=0.01)


def test_several_styles_blend_with_weights(model):
    content = example("chelsea.png", 48)
    s0, s1 = example("starry_night.jpg", 48), example("brick.png", 48)
    only0 = stylize(model, content, [s0, s1], TransferOptions(size=48, steps=10, style_weight=10, style_blend=[1, 0])).image
    only1 = stylize(model, content, [s0, s1], TransferOptions(size=48, steps=10, style_weight=10, style_blend=[0, 1])).image
    assert _gram_distance(model, only0, s0, "relu2_1") < _gram_distance(model, only1, s0, "relu2_1")
    assert _gram_distance(model, only1, s1, "relu2_1") < _gram_distance(model, only0, s1, "relu2_1")


# ---- network ---------------------------------------------------------------------------------
def test_the_network_stops_at_the_deepest_layer_asked_for(model):
    x = model.to_input(to_tensor(example("chelsea.png", 32), "cpu"))
    feats = model.features(x, ["relu2_1"])
    assert list(feats) == ["relu2_1"] and feats["relu2_1"].shape[1] == 128


def test_weights_from_a_state_dict_file_match_the_original(model, tmp_path):
    state = {}
    for name, (w, b) in model.weights.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = w, b
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    other = load_model(ModelSpec(weights=str(path), device="cpu", pooling="max"))
    x = model.to_input(to_tensor(example("chelsea.png", 32), "cpu"))
    assert torch.allclose(other.features(x, ["relu1_1"])["relu1_1"], model.features(x, ["relu1_1"])["relu1_1"])
    assert other.pooling == "max"


def test_input_convention_round_trips(model):
    rgb = to_tensor(example("chelsea.png", 32), "cpu")
    assert torch.allclose(model.from_input(model.to_input(rgb)), rgb, atol=1e-5)


def test_the_pyramid_metric_is_symmetric_positive_definite_and_favours_large_scales():
    """L-BFGS's H₀ = γM must be symmetric positive definite for the quasi-Newton update to stay one;
    a smooth gradient is amplified more than pixel noise (the point of the metric)."""
    from daemon.engine.optim import pyramid_levels, pyramid_metric

    # the coarsest level is about 16 px whatever the size: 256 px down to 16, 512 px down to 16
    assert [pyramid_levels(*hw) for hw in [(170, 256), (341, 512), (16, 16), (31, 20), (32, 20), (4096, 4096)]] == \
        [5, 6, 1, 1, 2, 9]
    shape = (1, 3, 37, 50)
    metric = pyramid_metric(shape)
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(3 * 37 * 50, generator=g, dtype=torch.float64) for _ in range(2))
    assert float(a @ metric(b)) == pytest.approx(float(b @ metric(a)), rel=1e-9)
    assert float(a @ metric(a)) > float(a @ a)                  # M = I + (positive semidefinite terms)
    smooth = torch.ones(3 * 37 * 50, dtype=torch.float64)
    gain = lambda v: float(v @ metric(v)) / float(v @ v)   # noqa: E731
    assert gain(smooth) > 2 * gain(a)
