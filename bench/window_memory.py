"""Peak and kept resident memory of one window's forward + backward through VGG-19 on the CPU, per
window pixel (issue 11: what ``engine.tiling``'s window estimate and ``engine.allocator`` rest on).
Usage: python bench/window_memory.py [--returned] [--forward] SIZE ...   (e.g. 288 448 288 416 640)
--returned: inside ``engine.allocator.returned_after_each_tile``, as a tiled job runs.
--forward: a forward without gradient (pass 1, the targets: ``tiling.CPU_FORWARD_ACTIVATION``)."""
import contextlib
import sys

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])
from daemon.engine import ModelSpec, allocator, load_model  # noqa: E402
from daemon.engine.losses import gram  # noqa: E402
from daemon.engine.transfer import ALL_LAYERS  # noqa: E402


def status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def main(argv):
    returned, forward = "--returned" in argv, "--forward" in argv
    sizes = [int(a) for a in argv if not a.startswith("--")] or [288, 448, 288, 416, 640]
    model = load_model(ModelSpec(device="cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, tiles' memory returned: {returned}, "
          f"{'forward only' if forward else 'forward + backward'}")
    with allocator.returned_after_each_tile(True) if returned else contextlib.nullcontext():
        for w in sizes:
            base = status("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")                                   # VmHWM := VmRSS
            x = torch.zeros((1, 3, w, w), requires_grad=not forward)
            if forward:
                with torch.no_grad():
                    grams = [gram(f) for f in model.features(x, ALL_LAYERS).values()]
                del grams
            else:
                sum(gram(f).sum() for f in model.features(x, ALL_LAYERS).values()).backward()
            del x
            peak = status("VmHWM") - base
            print(f"window {w}²: peak {peak / w / w:.0f} B per window pixel ({peak / 2**20:.0f} MiB), "
                  f"kept after it {(status('VmRSS') - base) / 2**20:.0f} MiB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
