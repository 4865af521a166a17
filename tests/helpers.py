"""What the tests of real processes share: starting and ending a daemon, wire images, waiting."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from shared.client import DaemonClient, DaemonError, ImageData

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HANG = 120   # seconds: only a guard against a hang, never reached when the code works


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra):
    """This environment, with the repository on PYTHONPATH."""
    e = dict(os.environ, **extra)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def start_daemon(tmp: Path, *extra: str, port: int = None, endpoint: str = None, config: dict = None,
                 until=lambda info: info["ready"]):
    """A real `serve` process: through the command line, or with ``config`` (ServeConfig fields the
    command line does not have) through ``serve`` itself. Returns (process, endpoint, log) once
    ``until(hello)`` holds."""
    port = port or free_port()
    endpoint = endpoint or f"tcp://127.0.0.1:{port}"
    log = tmp / f"daemon-{port}.log"
    if config is None:
        cmd = [PY, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", "cpu", "--log", str(log), *extra]
    else:
        cfg = {"endpoint": endpoint, "device": "cpu", "log_path": str(log), **config}
        cmd = [PY, "-c", "import sys; from daemon.service.server import ServeConfig, serve; "
                         "sys.exit(serve(ServeConfig(**eval(sys.argv[1]))))", repr(cfg)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited: {proc.stdout.read().decode()}")
        try:
            with DaemonClient(endpoint, timeout=1.0, transport="pyzmq") as c:
                if until(c.hello()):
                    return proc, endpoint, log
        except DaemonError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"daemon did not answer within {HANG} s")


def kill(proc):
    """End a daemon (or any process): SIGCONT for one that was paused, SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


def rgba(rgb, alpha=None) -> ImageData:
    h, w = rgb.shape[:2]
    a = np.full((h, w, 1), 255, np.uint8) if alpha is None else alpha[..., None]
    return ImageData(w, h, np.concatenate([rgb, a], axis=2).tobytes())


def to_array(img: ImageData) -> np.ndarray:
    return np.frombuffer(img.data, np.uint8).reshape(img.height, img.width, 4)


def wait_for(pred, timeout=20.0, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    return pred()


def serve(tmp: Path, endpoint: str, lease: float = 3.0) -> subprocess.Popen:
    """A daemon at ``endpoint`` with a short lease (a client that stops sending heartbeats loses its
    jobs after ``lease`` seconds), once it answers hello as ready; its output goes nowhere."""
    proc = subprocess.Popen([PY, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", "cpu",
                             "--lease", str(lease), "--preview-every", "0.2", "--idle-exit", "300",
                             "--log", str(tmp / "daemon.log")], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the daemon exited: {(tmp / 'daemon.log').read_text()[-2000:]}"
        try:
            with DaemonClient(endpoint, timeout=1.0) as c:
                if c.hello()["ready"]:
                    return proc
        except DaemonError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the daemon did not answer")


def end(proc: subprocess.Popen) -> None:
    """Kill a process at once (SIGCONT first, should it be paused) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait(30)


def in_process(capsys, *args):
    """``python -m daemon ARGS`` in this process (``daemon.cli.main``): what it returns or exits with,
    and what it wrote, as a finished process would have them."""
    from types import SimpleNamespace

    from daemon.cli import main
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as e:   # argparse's refusals
        code = e.code
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)
