"""``serve``, ``status`` and ``stop``: run the daemon, ask it how it is, stop it.

``serve`` hands a ``ServeConfig`` to ``daemon.service.server.serve``; ``status`` and ``stop`` talk to
a running daemon through ``shared.client`` like any other client.
"""
from __future__ import annotations

import time
from typing import Optional

from shared.protocol import DEFAULT_LIMITS, Limits

from .common import (ENDPOINT_HELP, EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK, add_model_args, endpoint_of, err,
                     memory_size, positive_int, resolve_weights, seconds)


def add_commands(subparsers) -> None:
    """Register ``serve``, ``status`` and ``stop``."""
    p = subparsers.add_parser("serve", help="run the daemon (keeps VGG-19 warm for stylize and the GIMP plug-in)",
                              description="Run the daemon in the foreground. Loopback only unless --curve-keys.")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    add_model_args(p)
    p.add_argument("--idle-exit", type=seconds, default=0.0, metavar="S",
                   help="exit after S seconds without work (default 0 = never)")
    p.add_argument("--curve-keys", metavar="DIR",
                   help="require CURVE authentication with the keys in DIR (created when missing); needed for "
                        "any endpoint other than loopback")
    p.add_argument("--lease", type=seconds, default=5.0, metavar="S",
                   help="drop the jobs of a client silent for S seconds (default 5; clients beat every second)")
    p.add_argument("--preview-every", type=seconds, default=1.0, metavar="S",
                   help="fewest seconds between two previews of a job (default 1)")
    p.add_argument("--log", metavar="PATH", help="log file (default: the user's state folder, see `status`)")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_LIMITS.max_pixels,
                   help=f"largest image accepted, in pixels (default {DEFAULT_LIMITS.max_pixels})")
    p.add_argument("--max-message-mb", type=positive_int, default=DEFAULT_LIMITS.max_message_bytes >> 20,
                   help=f"largest message accepted, MiB (default {DEFAULT_LIMITS.max_message_bytes >> 20})")
    p.add_argument("--cache-mb", type=positive_int, default=2048,
                   help="memory for cached style targets and content features, MiB (default 2048)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--memory-budget", type=memory_size, default=None, metavar="SIZE",
                        help="memory one job may use on any device, e.g. 2GB (default: the free memory of the "
                             "device, or the machine's available RAM on the CPU); a job over it runs in exact tiles")
    budget.add_argument("--memory-budget-mb", type=positive_int, default=None, metavar="N",
                        help="the same in MiB (older spelling)")
    p.add_argument("--max-waiting", type=positive_int, default=32, help="most jobs waiting (default 32)")
    p.add_argument("--keep-results", type=_keep_size, default=None, metavar="SIZE",
                   help="memory for the last result of recent contents, which `stylize --init last` and the "
                        "plug-in's re-runs start from, e.g. 256MB; 0 = keep none (default 256MB; the least "
                        "recently used go first)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("status", help="is the daemon running? version, device, memory, queue, caches, log")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    p.add_argument("--json", action="store_true", help="print the daemon's status as JSON")
    p.add_argument("--timeout", type=seconds, default=3.0, help="seconds to wait for an answer (default 3)")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("stop", help="stop the daemon (a running job ends with its current image)")
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)
    p.add_argument("--timeout", type=seconds, default=15.0, help="seconds to wait for it to exit (default 15)")
    p.set_defaults(func=cmd_stop)


# ---- serve ---------------------------------------------------------------------------------------
def cmd_serve(args) -> int:
    from ..engine import EngineError
    from ..service.server import ServeConfig, ServeError, serve

    limits = Limits(**{**DEFAULT_LIMITS.to_dict(), "max_pixels": args.max_pixels,
                       "max_message_bytes": args.max_message_mb << 20})
    config = ServeConfig(endpoint=endpoint_of(args, bind=True), device=args.device, weights=resolve_weights(args.weights),
                         pooling=args.pooling, idle_exit=args.idle_exit, curve_keys=args.curve_keys,
                         lease=max(0.5, args.lease), preview_every=args.preview_every, log_path=args.log,
                         limits=limits, cache_bytes=args.cache_mb << 20, max_waiting=args.max_waiting,
                         memory_budget=args.memory_budget or ((args.memory_budget_mb << 20) if args.memory_budget_mb else None))
    if args.keep_results is not None:
        config.keep_results = args.keep_results
    try:
        return serve(config)
    except (ServeError, EngineError) as e:
        err(str(e))
        return EXIT_BAD_INPUT


def _keep_size(text: str) -> int:
    """--keep-results: a memory size (``memory_size``), or 0 to keep no results."""
    number = text.strip().upper().replace(" ", "").rstrip("KMGTIB")
    try:
        if float(number) == 0:
            return 0
    except ValueError:
        pass
    return memory_size(text)


# ---- status --------------------------------------------------------------------------------------
def cmd_status(args) -> int:
    import json

    from shared.client import DaemonClient, DaemonError

    endpoint = endpoint_of(args)
    try:
        with DaemonClient(endpoint, timeout=args.timeout) as c:
            st = c.status()
    except DaemonError as e:
        err(f"no daemon answers at {endpoint} ({e.message})" if e.code in ("no_daemon", "timeout") else e.message)
        return EXIT_ERROR
    print(json.dumps(st, indent=2) if args.json else format_status(st))
    return EXIT_OK


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
    others = q.get("others") or {}
    if run:
        pct = 100.0 * run.get("done", 0) / run["job_total"] if run.get("job_total") else 0.0
        qs = f"running {run['job']} ({pct:.0f}%, {run.get('running_s', 0):.0f} s)"
    else:
        qs = "running another user's job" if others.get("running") else "idle"
    if others.get("waiting"):
        qs += f", {others['waiting']} of other users waiting"
    lines.append(f"queue: {qs}, {len(waiting)} waiting; jobs done {jobs.get('done', 0)}, cancelled "
                 f"{jobs.get('cancelled', 0)}, dropped {jobs.get('dropped', 0)}, failed {jobs.get('failed', 0)}")
    c = st.get("cache") or {}
    lines.append(f"cache: {c.get('style_entries', 0)} style targets, {c.get('content_entries', 0)} content features, "
                 f"{_size(c.get('bytes'))} of {_size(c.get('max_bytes'))}; hits: style {c.get('style_hits', 0)}, "
                 f"content {c.get('content_hits', 0)}; misses: style {c.get('style_misses', 0)}, "
                 f"content {c.get('content_misses', 0)}")
    r = st.get("results")
    if r:
        lines.append(f"kept results: {r.get('entries', 0)} ({_size(r.get('bytes'))} of {_size(r.get('max_bytes'))}); "
                     f"warm starts {r.get('hits', 0)}, none kept {r.get('misses', 0)}")
    lines.append(f"log: {st.get('log')}")
    return "\n".join(lines)


# ---- stop ----------------------------------------------------------------------------------------
def cmd_stop(args) -> int:
    from shared.client import DaemonClient, DaemonError

    endpoint = endpoint_of(args)
    try:
        with DaemonClient(endpoint, timeout=3.0) as c:
            info = c.hello()
            c.stop()
    except DaemonError as e:
        if e.code in ("no_daemon", "timeout"):
            print(f"no daemon answers at {endpoint}: nothing to stop")
            return EXIT_OK
        err(e.message)
        return EXIT_ERROR
    pid = info.get("pid")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not _answers(endpoint):
            print(f"stopped the daemon at {endpoint} (pid {pid})")
            return EXIT_OK
        time.sleep(0.2)
    err(f"the daemon at {endpoint} (pid {pid}) was asked to stop but still answers after {args.timeout:g} s")
    return EXIT_ERROR


def _answers(endpoint: str) -> bool:
    from shared.client import DaemonClient, DaemonError
    try:
        with DaemonClient(endpoint, timeout=0.5) as c:
            c.hello()
        return True
    except DaemonError:
        return False
