"""A client never waits forever for a job the daemon no longer holds.

Real `python -m daemon serve` processes on 127.0.0.1 (CPU, tiny images, a short lease) and real
client processes: one paused with SIGSTOP longer than the lease, then resumed; one waiting while its
daemon is killed with SIGKILL and a new daemon starts on the same endpoint. Each must end its wait
with DaemonError("job_lost") and a sentence (the command line: exit status 1 and that line).
"""
import signal
import subprocess
import time

import pytest
from PIL import Image

from shared.client import DaemonClient
from .helpers import HANG, PY, ROOT, end, env, free_port, serve
from .images import example

LEASE = 3.0   # the client sends a heartbeat about every second: a healthy one is never dropped
TRANSPORTS = ["pyzmq", "zmtp"]

# A client that submits one long job and waits for it; prints "running" once the job runs and
# "error CODE: MESSAGE" (exit 1) on a DaemonError.
CLIENT = r"""
import sys
import numpy as np
from shared.client import DaemonClient, DaemonError, ImageData
from tests.images import example

endpoint, transport = sys.argv[1:3]
def rgba(a):
    h, w = a.shape[:2]
    return ImageData(w, h, np.concatenate([a, np.full((h, w, 1), 255, np.uint8)], axis=2).tobytes())
try:
    with DaemonClient(endpoint, timeout=30.0, transport=transport) as c:
        c.hello()
        job = c.submit(rgba(example("chelsea.png", 48)), [rgba(example("starry_night.jpg", 40))],
                       options={"size": 32, "steps": 5000, "levels": 1})
        said = False
        for ev in c.events(job):
            if ev["type"] == "progress" and ev.get("done") and not said:
                print("running", flush=True)
                said = True
            if ev["type"] in ("result", "error"):
                print("ended", ev["type"], flush=True)
                sys.exit(3)
except DaemonError as e:
    print(f"error {e.code}: {e.message}", flush=True)
    sys.exit(1)
"""


def wait_until(pred, what: str, every: float = 0.1):
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(every)
    raise AssertionError(f"still waiting for {what} after {HANG} s")


def client(endpoint: str, transport: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-c", CLIENT, endpoint, transport], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen):
    """The process's exit status and output, once it exits by itself (killed after HANG seconds)."""
    try:
        out, err = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        end(proc)
        raise AssertionError(f"the client still waits {HANG} s later: it would wait forever")
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lost")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = serve(tmp, endpoint)
    yield endpoint
    end(proc)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_client_paused_past_the_lease_ends_its_wait_with_job_lost(daemon, transport):
    c = client(daemon, transport)
    try:
        assert c.stdout.readline().strip() == "running", c.stderr.read()
        c.send_signal(signal.SIGSTOP)
        time.sleep(LEASE + 3)             # the pause itself: the daemon drops the job after LEASE
        c.send_signal(signal.SIGCONT)
        rc, out, err = finish(c)
    finally:
        end(c)
    assert rc == 1, (out, err)
    assert out.startswith("error job_lost: "), out
    assert "no longer holds job" in out and "silent for" in out and "lease" in out and "run it again" in out, out
    with DaemonClient(daemon, timeout=5.0) as d:   # and the daemon still answers
        assert d.hello()["ready"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stylize_ends_with_one_line_when_its_daemon_is_killed_and_another_starts(tmp_path, transport):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    first = serve(tmp_path, endpoint)
    second = None
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(example("chelsea.png", 48)).save(content)
    Image.fromarray(example("starry_night.jpg", 40)).save(style)
    previews = tmp_path / "previews"
    cli = subprocess.Popen([PY, "-m", "daemon", "stylize", "--endpoint", endpoint, "--content", str(content),
                            "--style", str(style), "--output", str(tmp_path / "out.png"), "--size", "32",
                            "--steps", "5000", "--levels", "1", "--preview-dir", str(previews)],
                           cwd=ROOT, env=env(NEURAL_STYLE_TRANSPORT=transport),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: previews.is_dir() and any(previews.iterdir()) or cli.poll() is not None,
                   "the job to run (a preview written)")
        assert cli.poll() is None, cli.communicate()
        first.kill()                      # SIGKILL mid-job
        first.wait(30)
        second = serve(tmp_path, endpoint)
        rc, out, err = finish(cli)
    finally:
        end(cli)
        end(first)
        if second is not None:
            end(second)
    assert rc == 1, (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and lines, err
    assert "restarted" in lines[-1] and "the job is lost, run it again" in lines[-1], err
    assert not (tmp_path / "out.png").exists()
