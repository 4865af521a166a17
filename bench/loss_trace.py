"""How fast one level's loss still falls: one-level jobs from the content at each size, the relative
decrease of the loss over the last 10 steps at chosen steps (what a stopping rule on the relative
loss decrease would read). Usage: python bench/loss_trace.py [STEPS [SIZE ...]] (default 300 64 128 256;
the content is the bench's 512-px one resized, so each size is a coarse level of a 512-px job)."""
import sys

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from daemon.bench import _images, machine, machine_line  # noqa: E402
from daemon.engine import ModelSpec, TransferOptions, load_model, stylize, warm_up  # noqa: E402


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    sizes = [int(s) for s in sys.argv[2:]] or [64, 128, 256]
    model = load_model(ModelSpec(device="cpu"))
    print(machine_line(machine(model.device)), flush=True)
    warm_up(model)
    content, style = _images(512)
    for size in sizes:
        losses = []
        stylize(model, content, [style], TransferOptions(size=size, levels=1, steps=steps),
                callback=lambda p: losses.append(p.loss_values()["total"]))
        at = [s for s in (30, 60, 100, 150, 200, 250, 300, 400, 500) if s <= steps]
        falls = ", ".join(f"{s}: {100 * (losses[s - 11] - losses[s - 1]) / losses[s - 11]:.2f} %" for s in at)
        print(f"{size} px: loss fall over the last 10 steps at step {falls}", flush=True)


if __name__ == "__main__":
    main()
