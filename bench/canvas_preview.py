"""What the canvas preview costs (issue 14): the same small job through the plug-in in gimp-console
(NONINTERACTIVE, quality preview), with the ``preview`` argument on and off, alternating, after one
warm-up run; wall time of each ``plug-in-neural-style`` call, against a daemon of its own.

    NEURAL_STYLE_GIMP_PREFIX=/var/cache/neural-style-ci/bin/chroot-run \
        python bench/canvas_preview.py --size 256 --steps 20 --repeats 2
"""
import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_gimp as tg  # noqa: E402  (its GIMP helpers: the isolated profile, the batch script)
from shared.client import DaemonClient, DaemonError  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="long edge of the image (px)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2, help="runs with the preview on (and as many off)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="canvas-preview-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = "tcp://127.0.0.1:%d" % s.getsockname()[1]
    daemon = subprocess.Popen([sys.executable, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", "cpu",
                               "--log", str(tmp / "daemon.log")], cwd=str(ROOT),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                with DaemonClient(endpoint, timeout=2.0) as c:
                    c.hello()
                break
            except DaemonError:
                time.sleep(0.3)
        height = round(a.size * 170 / 256)
        script = tg.batch_script(tmp, "case_bench_preview.py", content=str(tg.CONTENT), style=str(tg.STYLE),
                                 width=a.size, height=height, steps=a.steps, size=0, repeats=a.repeats)
        cmd = tg.prefix() + ["gimp-console-3.0", "-idf", "--batch-interpreter=python-fu-eval", "-b", "-", "--quit"]
        with open(script) as stdin:
            proc = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, errors="replace",
                                  env=tg.gimp_env(tmp, endpoint))
        out = tg.result_of(proc)
    finally:
        try:
            with DaemonClient(endpoint, timeout=5.0) as c:
                c.stop()
            daemon.wait(timeout=30)
        except Exception:
            daemon.kill()
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    print("machine: %s, %s CPUs (%s); load: %s" % (model, len(__import__("os").sched_getaffinity(0)),
                                                   platform.machine(), open("/proc/loadavg").read().strip()))
    print("%dx%d px, quality preview, %d steps" % (a.size, height, a.steps))
    for r in out["runs"]:
        print("%-8s preview %-3s %6.1f s  %s" % ("warm-up" if r["warmup"] else "", "on" if r["preview"] else "off",
                                               r["seconds"], "" if r["ok"] else r["error"]))
    for p in (False, True):
        t = [r["seconds"] for r in out["runs"] if r["preview"] == p and not r["warmup"]]
        print("preview %-3s mean %.1f s" % ("on" if p else "off", sum(t) / len(t)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
