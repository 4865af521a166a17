"""The daemon's side of the command line: ``serve``, ``status``, ``stop`` and remote ``stylize``.

``daemon/cli.py`` calls ``add_commands(subparsers)`` (each command sets ``func(args) -> int``) and,
for ``stylize`` without ``--local``, ``run_remote_stylize(job, args)``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Optional

from shared.protocol import DEFAULT_LIMITS, Limits, default_endpoint

EXIT_ERROR, EXIT_BAD_INPUT, EXIT_CANCELLED = 1, 2, 130
BAD_INPUT_CODES = {"bad_input", "empty_region", "bad_field", "bad_frames", "too_large", "not_finite"}
ENDPOINT_HELP = "daemon endpoint (default $NEURAL_STYLE_ENDPOINT or tcp://127.0.0.1:5557)"


# ---- parsers ---------------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds >= 0")
    return v


def _positive_int(text: str) -> int:
    from ..cli import int_at_least

    return int_at_least(1)(text)


def add_commands(subparsers) -> None:
    """Register ``serve``, ``status`` and ``stop`` on the CLI's subparsers."""
    p = subparsers.add_parser("serve", help="run the daemon (keeps VGG-19 warm for stylize and the GIMP plug-in)",
                              description="Run the daemon in the foreground. Loopback only unless --curve-keys.")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    from ..cli import add_model_args

    add_model_args(p)
    p.add_argument("--idle-exit", type=_seconds, default=0.0, metavar="S",
                   help="exit after S seconds without work (default 0 = never)")
    p.add_argument("--curve-keys", metavar="DIR",
                   help="require CURVE authentication with the keys in DIR (created when missing); needed for "
                        "any endpoint other than loopback")
    p.add_argument("--lease", type=_seconds, default=5.0, metavar="S",
                   help="drop the jobs of a client silent for S seconds (default 5; clients beat every second)")
    p.add_argument("--preview-every", type=_seconds, default=1.0, metavar="S",
                   help="fewest seconds between two previews of a job (default 1)")
    p.add_argument("--log", metavar="PATH", help="log file (default: the user's state folder, see `status`)")
    p.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_LIMITS.max_pixels,
                   help=f"largest image accepted, in pixels (default {DEFAULT_LIMITS.max_pixels})")
    p.add_argument("--max-message-mb", type=_positive_int, default=DEFAULT_LIMITS.max_message_bytes >> 20,
                   help=f"largest message accepted, MiB (default {DEFAULT_LIMITS.max_message_bytes >> 20})")
    p.add_argument("--cache-mb", type=_positive_int, default=2048,
                   help="memory for cached style targets and content features, MiB (default 2048)")
    p.add_argument("--memory-budget-mb", type=_positive_int, default=None,
                   help="memory a job may use, MiB (default: the GPU's free memory; no limit on the CPU)")
    p.add_argument("--max-waiting", type=_positive_int, default=32, help="most jobs waiting (default 32)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("status", help="is the daemon running? version, device, memory, queue, caches, log")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    p.add_argument("--json", action="store_true", help="print the daemon's status as JSON")
    p.add_argument("--timeout", type=_seconds, default=3.0, help="seconds to wait for an answer (default 3)")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("stop", help="stop the daemon (a running job ends with its current image)")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    p.add_argument("--timeout", type=_seconds, default=15.0, help="seconds to wait for it to exit (default 15)")
    p.set_defaults(func=cmd_stop)


def _err(text: str) -> None:
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


# ---- serve / status / stop -------------------------------------------------------------------------
def cmd_serve(args) -> int:
    from ..engine import EngineError
    from .server import ServeConfig, ServeError, serve

    limits = Limits(**{**DEFAULT_LIMITS.to_dict(), "max_pixels": args.max_pixels,
                       "max_message_bytes": args.max_message_mb << 20})
    config = ServeConfig(endpoint=args.endpoint or default_endpoint(), device=args.device, weights=args.weights,
                         pooling=args.pooling, idle_exit=args.idle_exit, curve_keys=args.curve_keys,
                         lease=max(0.5, args.lease), preview_every=args.preview_every, log_path=args.log,
                         limits=limits, cache_bytes=args.cache_mb << 20, max_waiting=args.max_waiting,
                         memory_budget=(args.memory_budget_mb << 20) if args.memory_budget_mb else None)
    try:
        return serve(config)
    except (ServeError, EngineError) as e:
        _err(str(e))
        return EXIT_BAD_INPUT


def _size(n: Optional[float]) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return "?"


def _duration(s: float) -> str:
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {(s % 3600) // 60}m"


def format_status(st: dict) -> str:
    lines = [f"neural-style daemon {st.get('daemon_version')} (protocol {st.get('protocol')}) at {st.get('endpoint')}, "
             f"pid {st.get('pid')}, up {_duration(st.get('uptime_s', 0))}"]
    dev = st.get("device", "?") + (f" ({st['device_name']})" if st.get("device_name") else "")
    state = st.get("state")
    lines.append(f"device: {dev}, model {state}" + (f": {st['error']}" if st.get("error") else ""))
    m = st.get("memory") or {}
    mem = f"memory: process {_size(m.get('process_rss'))}"
    if "device_total" in m:
        mem += (f"; {st.get('device')} {_size(m.get('device_allocated'))} allocated, {_size(m.get('device_reserved'))} "
                f"reserved, {_size(m.get('device_free'))} free of {_size(m.get('device_total'))}")
    lines.append(mem)
    q = st.get("queue") or {}
    run = q.get("running")
    waiting = q.get("waiting") or []
    jobs = st.get("jobs") or {}
    if run:
        pct = 100.0 * run.get("done", 0) / run["job_total"] if run.get("job_total") else 0.0
        qs = f"running {run['job']} ({pct:.0f}%, {run.get('running_s', 0):.0f} s)"
    else:
        qs = "idle"
    lines.append(f"queue: {qs}, {len(waiting)} waiting; jobs done {jobs.get('done', 0)}, cancelled "
                 f"{jobs.get('cancelled', 0)}, dropped {jobs.get('dropped', 0)}, failed {jobs.get('failed', 0)}")
    c = st.get("cache") or {}
    lines.append(f"cache: {c.get('style_entries', 0)} style targets, {c.get('content_entries', 0)} content features, "
                 f"{_size(c.get('bytes'))} of {_size(c.get('max_bytes'))}; hits: style {c.get('style_hits', 0)}, "
                 f"content {c.get('content_hits', 0)}; misses: style {c.get('style_misses', 0)}, "
                 f"content {c.get('content_misses', 0)}")
    lines.append(f"log: {st.get('log')}")
    return "\n".join(lines)


def cmd_status(args) -> int:
    import json

    from shared.client import DaemonClient, DaemonError

    endpoint = args.endpoint or default_endpoint()
    try:
        with DaemonClient(endpoint, timeout=args.timeout) as c:
            st = c.status()
    except DaemonError as e:
        _err(f"no daemon answers at {endpoint} ({e.message})" if e.code in ("no_daemon", "timeout") else e.message)
        return EXIT_ERROR
    print(json.dumps(st, indent=2) if args.json else format_status(st))
    return 0


def cmd_stop(args) -> int:
    from shared.client import DaemonClient, DaemonError

    endpoint = args.endpoint or default_endpoint()
    try:
        with DaemonClient(endpoint, timeout=3.0) as c:
            info = c.hello()
            c.stop()
    except DaemonError as e:
        if e.code in ("no_daemon", "timeout"):
            print(f"no daemon answers at {endpoint}: nothing to stop")
            return 0
        _err(e.message)
        return EXIT_ERROR
    pid = info.get("pid")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not _answers(endpoint):
            print(f"stopped the daemon at {endpoint} (pid {pid})")
            return 0
        time.sleep(0.2)
    _err(f"the daemon at {endpoint} (pid {pid}) was asked to stop but still answers after {args.timeout:g} s")
    return EXIT_ERROR


def _answers(endpoint: str) -> bool:
    from shared.client import DaemonClient, DaemonError
    try:
        with DaemonClient(endpoint, timeout=0.5) as c:
            c.hello()
        return True
    except DaemonError:
        return False


# ---- stylize through the daemon ---------------------------------------------------------------------
def _rgba(rgb, alpha=None):
    import numpy as np

    from shared.protocol import ImageData
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[..., :3] = rgb
    out[..., 3] = 255 if alpha is None else alpha
    return ImageData(w, h, out.tobytes())


def _mask(m, hw):
    """A float mask of any size -> an 8-bit MaskData of size hw (the protocol wants equal sizes)."""
    import numpy as np
    from PIL import Image

    from shared.protocol import MaskData
    a = np.clip(np.round(np.asarray(m, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.shape[:2] != tuple(hw):
        a = np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), Image.BILINEAR))
    return MaskData(hw[1], hw[0], np.ascontiguousarray(a).tobytes())


def _to_arrays(img):
    import numpy as np
    a = np.frombuffer(img.data, dtype=np.uint8).reshape(img.height, img.width, 4)
    return np.ascontiguousarray(a[..., :3]), a[..., 3].copy()


def build_submit(job) -> dict:
    """The lead's Job (engine arrays) -> DaemonClient.submit keyword arguments."""
    from PIL import Image
    import numpy as np

    h, w = job.content.shape[:2]
    regions = []
    for r in job.regions or []:
        style = job.styles[r.style]
        regions.append({"content_mask": _mask(r.content_mask, (h, w)), "style": int(r.style),
                        "style_mask": None if r.style_mask is None else _mask(r.style_mask, style.shape[:2]),
                        "invert": False})
    init = None
    if job.init_image is not None:
        im = job.init_image
        if im.shape[:2] != (h, w):
            im = np.asarray(Image.fromarray(im).resize((w, h), Image.LANCZOS))
        init = _rgba(im)
    return dict(content=_rgba(job.content, job.content_alpha), styles=[_rgba(s) for s in job.styles],
                regions=regions, options=job.options.to_dict(), init=init, preview=bool(job.preview_dir))


def run_remote_stylize(job, args) -> int:
    """``stylize`` through the daemon at args.endpoint, starting it (detached) when none answers."""
    from shared.client import DaemonClient, DaemonError, ensure_daemon

    from .. import __version__
    from ..cli import ProgressBar, write_image, write_report

    endpoint = getattr(args, "endpoint", None) or default_endpoint()
    extra = []
    for opt, default in (("device", "auto"), ("weights", "original"), ("pooling", "avg")):
        v = getattr(args, opt, default)
        if v is not None and v != default:
            extra += [f"--{opt}", str(v)]
    t0 = time.perf_counter()
    try:
        info = ensure_daemon(endpoint, sys.executable, timeout=180.0, extra_args=extra)
    except DaemonError as e:
        _err(e.message)
        return EXIT_ERROR
    want = getattr(args, "device", "auto")
    if want not in (None, "auto") and str(info.get("device")) != want:
        sys.stderr.write(f"note: the daemon at {endpoint} runs on {info.get('device')}; --device {want} applies "
                         f"when it starts (`python -m daemon stop` first, or use --local)\n")
    bar = ProgressBar()
    result = None
    if job.preview_dir:
        os.makedirs(job.preview_dir, exist_ok=True)
    try:
        with DaemonClient(endpoint, timeout=30.0) as c:
            c.hello("neural-style cli")
            job_id = c.submit(label=os.path.basename(job.output), **build_submit(job))
            cancelling = False
            while result is None:
                try:
                    for ev in c.events(job_id):
                        result = _on_event(ev, job, bar, write_image)
                        if result is not None:
                            break
                    else:
                        break
                except KeyboardInterrupt:
                    if cancelling:
                        raise
                    cancelling = True
                    bar.close()
                    sys.stderr.write("cancelling (Ctrl-C again to abandon the job)...\n")
                    c.cancel(job_id)
    except DaemonError as e:
        bar.close()
        _err(e.message)
        return EXIT_BAD_INPUT if e.code in BAD_INPUT_CODES else EXIT_ERROR
    bar.close()
    if result is None:
        _err(f"the daemon at {endpoint} ended the job without a result; see its log (`python -m daemon status`)")
        return EXIT_ERROR
    if result.get("type") == "error":
        _err(result.get("message", "the daemon failed"))
        return EXIT_BAD_INPUT if result.get("code") in BAD_INPUT_CODES else EXIT_ERROR
    rgb, _alpha = _to_arrays(result["image"])
    write_image(job.output, rgb, job.content_alpha)
    report = dict(result.get("report") or {})
    wall = time.perf_counter() - t0
    report.update(output=os.path.abspath(job.output), wall_seconds=round(wall, 3), inputs=getattr(job, "names", {}),
                  mode="daemon", endpoint=endpoint, version=__version__)
    if job.report:
        write_report(job.report, report)
    cache = report.get("cache") or {}
    reused = " (style targets reused from the daemon's cache)" if cache.get("style_hits") and \
        not cache.get("style_misses") else ""
    cancelled = bool(result.get("cancelled"))
    print(f"wrote {job.output} ({rgb.shape[1]}×{rgb.shape[0]}) in {wall:.1f} s{reused}"
          + (" (cancelled: partial result)" if cancelled else ""))
    return EXIT_CANCELLED if cancelled else 0


def _on_event(ev: dict, job, bar, write_image) -> Optional[dict]:
    """Show one event; returns it when it ends the job (result or error)."""
    t = ev.get("type")
    if t in ("result", "error"):
        return ev
    if t == "accepted" and ev.get("position"):
        sys.stderr.write(f"queued: {ev['position']} job(s) ahead\n")
    elif t == "progress":
        if ev.get("message"):
            if bar.tty:
                sys.stderr.write("\n")
            sys.stderr.write(f"{ev['message']}\n")
        if ev.get("job_total"):
            stage = "mixing styles" if ev.get("stage") == "mix" else \
                f"level {int(ev.get('level') or 0) + 1}/{ev.get('levels') or 1}"
            loss = (ev.get("losses") or {}).get("total")
            text = f"{stage} step {ev.get('step')}/{ev.get('total')}" + (f" loss {loss:.3g}" if loss is not None else "")
            bar.update(ev.get("done") or 0, ev["job_total"], text)
    elif t == "preview" and job.preview_dir:
        rgb, _ = _to_arrays(ev["image"])
        write_image(os.path.join(job.preview_dir, f"preview_{int(ev.get('done') or 0):05d}.png"), rgb)
    return None
