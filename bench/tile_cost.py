"""Per-pixel cost of exact tiled transfer on this device: one tile's pass 1 (forward) and pass 2
(forward + backward) over its window, per owned core pixel, against an untiled forward + backward.
Usage: python bench/tile_cost.py [UNTILED_SIZE] [CORE ...]  (default 512; the core that a 4096²
Adam job gets under a 3 GB budget, 256, 512)."""
import resource
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from daemon.engine import ModelSpec, TransferOptions, load_model  # noqa: E402
from daemon.engine.losses import gram  # noqa: E402
from daemon.engine.tiling import halo_for, plan  # noqa: E402
from daemon.engine.vgg import CONTENT_LAYERS, STYLE_LAYERS  # noqa: E402

LAYERS = CONTENT_LAYERS + STYLE_LAYERS


def step(model, x, grad=True, within=None):
    with torch.set_grad_enabled(grad):
        x = x.detach().requires_grad_(grad)
        total = sum(gram(f).sum() for f in model.features(x, LAYERS, within).values())
        if grad:
            total.backward()


def timed(fn, n=1):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main():
    model = load_model(ModelSpec(device="cpu"))
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    p = plan((4096, 4096), LAYERS, TransferOptions(optimizer="adam"), torch.device("cpu"), 3 * 10 ** 9)
    print(f"4096² Adam, --memory-budget 3GB: core {p.core} px, halo {p.halo} px, {len(p.tiles)} tiles")
    cores = [int(c) for c in sys.argv[2:]] or [p.core, 256, 512]
    x = torch.rand(1, 3, size, size) * 255
    untiled = timed(lambda: step(model, x)) / size ** 2
    print(f"untiled {size}²: {untiled * 1e6:.1f} µs/px")
    halo = halo_for(LAYERS)
    for core in cores:
        w = core + 2 * halo
        xt = torch.rand(1, 3, w, w) * 255
        within = (1024 - halo, 1024 - halo, 4096, 4096)   # a window inside a 4096² image: a middle tile's
        tile = timed(lambda: (step(model, xt, False, within), step(model, xt, True, within))) / core ** 2
        print(f"core {core} (window {w}²): {tile * 1e6:.1f} µs/px = {tile / untiled:.2f}× untiled; "
              f"a 4096² step ≈ {tile * 4096 ** 2 / 60:.0f} min")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
