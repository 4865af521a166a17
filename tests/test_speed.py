"""The fast path keeps quality, and the optimiser step never waits for the device (real weights).

They run on the CPU in CI; ``NEURAL_STYLE_TEST_DEVICE=cuda`` runs the same checks on a GPU
(``bench/gpu-run.sh`` does, before the GPU benchmark). Timings are not asserted here: they are
measured by ``python -m daemon bench`` and recorded in BENCHMARKS.md."""
from __future__ import annotations

import os
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from daemon.engine import ModelSpec, TransferOptions, load_model, objective, stylize
from daemon.engine.optim import LBFGS
from daemon.engine.precision import bf16_available

from .images import example


DEVICE = os.environ.get("NEURAL_STYLE_TEST_DEVICE", "cpu")


@pytest.fixture(scope="module")
def model():
    return load_model(ModelSpec(device=DEVICE))


@pytest.mark.slow
def test_fast_path_reaches_the_fp32_loss_within_2_percent(model):
    """bf16 autocast (the GPU recipe; also this CPU's when it has AVX512-BF16) against plain fp32,
    both results scored by the same fp32 objective."""
    content, style = example("chelsea.png", 96), example("starry_night.jpg", 96)
    opts = dict(size=96, steps=60)
    fast = stylize(model, content, [style], TransferOptions(fast=True, **opts)).image
    exact = stylize(model, content, [style], TransferOptions(fast=False, **opts)).image
    score = TransferOptions(fast=False, **opts)
    l_fast, l_exact = objective(model, fast, content, [style], score), objective(model, exact, content, [style], score)
    print(f"bf16 path available: {bf16_available(model.device)}; fast {l_fast:.5g} vs fp32 {l_exact:.5g}")
    assert l_fast <= 1.02 * l_exact


def test_lbfgs_step_never_synchronises_with_the_host(monkeypatch):
    """Every data-dependent choice in the step is a tensor operation: reading a value back (item,
    float, bool) would stall a GPU pipeline and rule out CUDA graphs."""
    target = torch.linspace(-3, 3, 50, device=DEVICE)
    weights = torch.linspace(1, 10, 50, device=DEVICE)
    x = torch.zeros(50, requires_grad=True, device=DEVICE)
    opt = LBFGS(x, history=5)

    def closure():
        x.grad = None
        loss = ((x - target) ** 2 * weights).sum()
        loss.backward()
        return loss

    opt.step(closure)  # the first step is set-up; it must not sync either

    def forbidden(*a, **k):
        raise AssertionError("host synchronisation inside the optimiser step")

    for name in ("item", "__float__", "__bool__", "__int__", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    if x.device.type == "cuda":       # on a GPU, CUDA itself reports any synchronising operation
        torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(30):
            opt.step(closure)
    finally:
        if x.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    monkeypatch.undo()
    assert float(((x.detach() - target) ** 2).max()) < 1e-3


def _two_loop_direction(pairs, g, history):
    """Reference: Nocedal & Wright Alg. 7.4 over the last ``history`` of ``pairs`` (all pairs so far,
    oldest first), skipping pairs with yᵀs ≤ 1e-10 (they still take a place in the history), with
    H₀ = γI, γ = yᵀs / yᵀy of the newest good pair."""
    good = [(s, y) for s, y in pairs if torch.dot(y, s) > 1e-10]
    gamma = torch.dot(good[-1][1], good[-1][0]) / torch.dot(good[-1][1], good[-1][1]) if good else 1.0
    recent = [(s, y) for s, y in pairs[-history:] if torch.dot(y, s) > 1e-10]
    q, alphas = g.clone(), []
    for s, y in reversed(recent):
        a = torch.dot(s, q) / torch.dot(y, s)
        q -= a * y
        alphas.append(a)
    r = gamma * q
    for (s, y), a in zip(recent, reversed(alphas)):
        r += s * (a - torch.dot(y, r) / torch.dot(y, s))
    return -r


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compact_lbfgs_direction_equals_the_two_loop_recursion(dtype):
    """The compact form (Byrd, Nocedal & Schnabel 1994) is the same inverse Hessian as the textbook
    two-loop recursion: same direction at every step, through the ring buffer wrapping around and
    with pairs of negative curvature (which both skip)."""
    g0 = torch.Generator().manual_seed(3)
    n, m = 300, 5
    opt = LBFGS(torch.zeros(n, dtype=dtype), history=m)
    pairs = []
    for i in range(13):
        s = torch.randn(n, generator=g0, dtype=torch.float64)
        y = 0.5 * s + 0.3 * torch.randn(n, generator=g0, dtype=torch.float64)
        if i in (3, 9):
            y = -y                      # negative curvature: must contribute nothing
        g = torch.randn(n, generator=g0, dtype=torch.float64)
        pairs.append((s, y))
        got = opt._remember_and_direction(s.to(dtype), y.to(dtype), g.to(dtype)).double()
        ref = _two_loop_direction(pairs, g, m)
        err = ((got - ref).norm() / ref.norm()).item()
        assert err < (1e-12 if dtype == torch.float64 else 1e-4), (i, err)


def test_short_history_is_enough(model):
    """L-BFGS with the default 20 remembered steps does as well as 100, within 5 % (the authors keep all)."""
    content, style = example("chelsea.png", 48), example("starry_night.jpg", 48)
    score = TransferOptions(size=48, fast=False)
    losses = {}
    for h in (20, 100):
        img = stylize(model, content, [style], TransferOptions(size=48, steps=40, lbfgs_history=h)).image
        losses[h] = objective(model, img, content, [style], score)
    print(losses)
    assert losses[20] <= 1.05 * losses[100]


def test_channels_last_layout_gives_the_same_features(model):
    """The GPU path runs the network in channels_last; on the CPU the same layout must agree."""
    from daemon.engine.transfer import to_tensor
    from daemon.engine.vgg import STYLE_LAYERS

    x = model.to_input(to_tensor(example("chelsea.png", 64), model.device))
    was = model.channels_last
    try:
        model.channels_last = False
        plain = model.features(x, STYLE_LAYERS)
        model.channels_last = True
        cl = model.features(x, STYLE_LAYERS)
    finally:
        model.channels_last = was
    for layer in STYLE_LAYERS:
        assert torch.allclose(plain[layer], cl[layer], rtol=1e-4, atol=1e-3), layer


class _OpLog(TorchDispatchMode):
    """Records each aten op with its first tensor argument and its output while ``on``."""

    def __init__(self):
        super().__init__()
        self.on, self.ops = False, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.on:
            first = next((a for a in args if isinstance(a, torch.Tensor)), None)
            self.ops.append((str(func.overloadpacket), first, out))
        return out


@pytest.mark.parametrize("fast", [False, True])
def test_a_step_runs_channels_last_end_to_end_and_never_recasts_the_weights(model, fast):
    """Two costs that hid in the CPU step (BENCHMARKS.md): an image made from an H×W×3 array is
    a "channels_last" tensor with a batch stride of 3, which oneDNN ran in NCHW through the whole
    network (slow pooling, +20 % per step); and autocast re-cast the frozen fp32 weights at every
    step. Inside an optimisation step every convolution must be channels_last when the model says
    so, and no 4-D weight may be copied."""
    log = _OpLog()
    seen = []

    def callback(p):
        seen.append(p.step)
        log.on = p.step == 2          # record step 3 only: targets and first casts are done by then

    was = model.channels_last
    model.channels_last = True
    try:
        with log:
            stylize(model, example("chelsea.png", 48), [example("starry_night.jpg", 48)],
                    TransferOptions(size=48, steps=3, fast=fast), callback=callback)
    finally:
        model.channels_last = was
    convs = [(a, o) for name, a, o in log.ops if name == "aten.convolution"]
    assert seen == [1, 2, 3] and len(convs) == 13          # conv1_1 … conv5_1, once each
    for _, out in convs:
        assert out.is_contiguous(memory_format=torch.channels_last), out.stride()
    weight_shapes = {tuple(w.shape) for w, _ in model.weights.values()}
    recast = [a.shape for name, a, _ in log.ops if name in ("aten._to_copy", "aten.copy_")
              and a is not None and tuple(a.shape) in weight_shapes]
    assert recast == []


def test_warm_up_runs_the_network_once_forward_and_backward_per_size(model):
    """The daemon's warm-up must do at each size what a step does (all 13 convolutions through
    relu5_1, forward and backward), once, so that autotuning and the allocator see every size."""
    from daemon.engine import warm_up

    log = _OpLog()
    log.on = True
    sizes = [(32, 48), (48, 32)]
    with log:
        warm_up(model, sizes=sizes)
    names = [name for name, _, _ in log.ops]
    first_convs = [tuple(a.shape[-2:]) for name, a, _ in log.ops if name == "aten.convolution"][::13]
    assert names.count("aten.convolution") == 13 * len(sizes)
    assert names.count("aten.convolution_backward") == 13 * len(sizes)
    assert first_convs == sizes


def test_gram_is_exact_fp32_with_a_correct_gradient_on_both_layouts():
    from daemon.engine.losses import gram

    x = torch.randn(1, 8, 5, 7, dtype=torch.float64, requires_grad=True)
    ref = x.detach().reshape(8, 35) @ x.detach().reshape(8, 35).t() / 35
    assert torch.allclose(gram(x), ref) and torch.autograd.gradcheck(gram, (x,))
    xc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    assert torch.allclose(gram(xc), ref) and torch.autograd.gradcheck(gram, (xc,))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # never a bf16 Gram, even under autocast
        assert gram(torch.randn(1, 4, 3, 3).bfloat16()).dtype == torch.float32
    # bf16 features: the Gram is their exact fp32 Gram, and the gradient (bf16, like the features)
    # agrees with the fp32 one to bf16 precision
    f16 = torch.randn(1, 16, 9, 11).bfloat16().requires_grad_(True)
    f32 = f16.detach().float().requires_grad_(True)
    weights = torch.randn(16, 16)
    (gram(f16) * weights).sum().backward()
    (gram(f32) * weights).sum().backward()
    assert torch.equal(gram(f16), gram(f32)) and f16.grad.dtype == torch.bfloat16
    assert torch.allclose(f16.grad.float(), f32.grad, rtol=2e-2, atol=2e-2 * f32.grad.abs().max().item())


@pytest.mark.slow
def test_bench_command_measures_both_engines_and_writes_json(tmp_path):
    """The yardstick itself runs end to end (tiny sizes: its numbers here mean nothing)."""
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--device", "cpu", "--sizes", "48", "--steps", "2",
                           "--warmup", "1", "--repeats", "1", "--preset-sizes", "48", "--presets", "preview",
                           "--through-daemon", "--parity-size", "32", "--parity-steps", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    row = r["sizes"][0]
    assert row["ours"]["ms_per_step"] > 0 and row["pastiche"]["ms_per_step"] > 0 and row["speedup"] > 0
    assert r["presets"]["preview@48"]["seconds"] > 0
    assert r["presets_through_daemon"]["preview@48"]["seconds"] > 0 < r["presets_through_daemon"]["preview@48"]["again_seconds"]
    assert r["parity"]["ratio"] > 0 and r["device"].startswith("cpu") and "bench" in r["command"]
