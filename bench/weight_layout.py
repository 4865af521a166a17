"""Seconds per step of a one-level job with the VGG weights in NCHW against NHWC (the activations are
NHWC on the CPU either way), alternating, on this machine, with its CPU flags and the CPU steal time.
Usage: python bench/weight_layout.py [SIZE [STEPS [ROUNDS]]]  (default 256 20 5)."""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from daemon.bench import Steal, _images, machine, machine_line  # noqa: E402
from daemon.engine import ModelSpec, TransferOptions, load_model, stylize, warm_up  # noqa: E402


def main() -> None:
    size, steps, rounds = (list(map(int, sys.argv[1:4])) + [256, 20, 5][len(sys.argv[1:4]):])[:3]
    model = load_model(ModelSpec(device="cpu"))
    print(machine_line(machine(model.device)), f"threads {torch.get_num_threads()}", flush=True)
    warm_up(model)
    content, style = _images(size)
    nhwc = dict(model.weights)
    nchw = {n: (w.contiguous(), b) for n, (w, b) in nhwc.items()}

    def seconds_per_step(weights) -> float:
        model.weights = weights
        res = stylize(model, content, [style], TransferOptions(size=size, levels=1, steps=steps))
        return res.report["levels"][0]["seconds_per_step"]

    for _ in range(rounds):
        steal = Steal()
        a, b = seconds_per_step(nchw), seconds_per_step(nhwc)
        print(f"{content.shape[1]}x{content.shape[0]}: NCHW weights {a:.3f} s/step, NHWC weights {b:.3f} "
              f"s/step ({b / a:.2f}x); CPU steal {100 * (steal.share() or 0):.0f} %", flush=True)


if __name__ == "__main__":
    main()
