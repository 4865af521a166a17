"""How fast the dialog's live preview answers a change of a setting (issue 13).

Drives the plug-in's own preview worker (gimp_plugin/neural-style/live_preview.py) against a real
daemon, as the dialog does: a first preview of the content, then one change of a setting at a time
(style weight ×3, colour mode, style strength back, quality), and for each the seconds from the change
to the first updated preview image and to the settled preview (the job's result).

    python bench/live_preview.py --size 256 [--endpoint tcp://127.0.0.1:5557] [--json out.json]

Without --endpoint it starts its own daemon on a free port (CPU unless --device). Prints the machine's
CPU flags or GPU name first: the figures hold for that machine only.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "gimp_plugin" / "neural-style"))
from shared import client as shared_client  # noqa: E402
from shared.client import DaemonClient, DaemonError, ImageData  # noqa: E402
import daemon_link  # noqa: E402
import live_preview  # noqa: E402


def rgba(path, long_edge):
    im = Image.open(path).convert("RGB")
    im.thumbnail((long_edge, long_edge), Image.LANCZOS)
    a = np.asarray(im)
    h, w = a.shape[:2]
    return ImageData(w, h, np.concatenate([a, np.full((h, w, 1), 255, np.uint8)], axis=2).tobytes())


def start_daemon(device):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", device,
                             "--idle-exit", "600"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with DaemonClient(endpoint, timeout=1.0) as c:
                if c.hello()["ready"]:
                    time.sleep(2.0)          # the speed warm-up runs just after 'ready'
                    return proc, endpoint
        except DaemonError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the daemon did not start")


def follow(live, timeout=600):
    """(seconds to the first image, seconds to the settled preview, its step count) of one change."""
    first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in live.events():
            if e["type"] == "image" and first is None and not e.get("outdated"):
                first = e["since_request_s"]
            if e["type"] == "error":
                raise SystemExit(f"preview error: {e['text']}")
            if e.get("settled"):
                return first, e["since_request_s"]
        time.sleep(0.005)
    raise SystemExit("no settled preview")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--content", default=str(ROOT / "examples" / "chelsea.png"))
    ap.add_argument("--style", default=str(ROOT / "examples" / "starry_night.jpg"))
    ap.add_argument("--size", type=int, default=256, help="the preview's long edge (default 256)")
    ap.add_argument("--quality", default="preview")
    ap.add_argument("--endpoint")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, help="the preview's steps (default: the dialog's own, 60 for a first "
                    "render and 15 for a re-render of the same content); the first update does not depend on it, "
                    "the settled time does")
    ap.add_argument("--debounce", type=float, default=live_preview.DEBOUNCE_S)
    ap.add_argument("--cold", action="store_true", help="start every re-render from the content (no init last)")
    ap.add_argument("--json")
    args = ap.parse_args()

    from daemon.bench import machine, machine_line
    import torch
    m = machine(torch.device(args.device))
    print(machine_line(m), flush=True)
    proc = None
    endpoint = args.endpoint
    if endpoint is None:
        proc, endpoint = start_daemon(args.device)
    content, style = rgba(args.content, args.size), rgba(args.style, 512)
    base = {"quality": args.quality, "style_weight": 1.0, "color": "full"}
    changes = [("first preview", {}), ("style weight x3", {"style_weight": 3.0}),
               ("colour: luminance", {"color": "luminance"}), ("style weight back", {"style_weight": 1.0}),
               ("colour: full", {"color": "full"})]
    live = live_preview.LivePreview(shared_client, endpoint, long_edge=args.size, warm=not args.cold,
                                    steps=args.steps, debounce=args.debounce)
    rows = []
    try:
        opts = dict(base)
        for name, change in changes:
            opts.update(change)
            live.request(daemon_link.Submission(content=content, styles=[style], options=dict(opts)))
            first, done = follow(live)
            rows.append({"change": name, "first_update_s": round(first, 3), "settled_s": round(done, 3)})
            print(f"{name:22s} first update {first:6.2f} s   settled {done:6.2f} s", flush=True)
    finally:
        live.close()
        if proc is not None:
            proc.kill()
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": m, "size": args.size, "quality": args.quality,
                                               "warm": not args.cold, "steps": args.steps,
                                               "debounce": args.debounce, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
