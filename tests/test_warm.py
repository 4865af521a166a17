"""Warm re-runs (issue 13): ``init: "last"`` starts from the daemon's last result for the same content.

Real ``python -m daemon serve`` processes on 127.0.0.1, CPU, tiny images, few steps. A job with
``steps: 0`` returns its starting image as it is, which shows what a warm start started from.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import zmq
from PIL import Image

from daemon.engine import TransferOptions
from daemon.engine.plan import warm_steps
from shared.client import DaemonClient, DaemonError, MaskData
from shared.protocol import DEFAULT_LIMITS, decode, encode
from .images import example
from .helpers import PY, ROOT, env, kill, rgba, start_daemon, to_array

CONTENT = example("chelsea.png", 48)          # 48x32
STYLE = example("starry_night.jpg", 40)
H, W = CONTENT.shape[:2]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    proc, endpoint, _log = start_daemon(tmp_path_factory.mktemp("warm"), "--idle-exit", "300")
    yield endpoint
    kill(proc)


def unique_content(seed: int) -> np.ndarray:
    """The example photo with a few pixels changed: a content no other test has sent."""
    c = CONTENT.copy()
    c[0, :8] = np.random.default_rng(seed).integers(0, 256, (8, 3), dtype=np.uint8)
    return c


def job(endpoint, content, options, init=None, regions=None):
    """(result event, progress messages) of one job."""
    with DaemonClient(endpoint, timeout=10) as c:
        jid = c.submit(content=rgba(content), styles=[rgba(STYLE)], options=dict({"levels": 1}, **options),
                       init=init, regions=regions)
        events = list(c.events(jid, timeout=120))
    res = events[-1]
    assert res["type"] == "result", res
    return res, [e["message"] for e in events if e["type"] == "progress" and e.get("message")]


def image(res) -> np.ndarray:
    return to_array(res["image"])[..., :3].astype(int)


def resized(rgb, w, h) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((w, h), Image.LANCZOS)).astype(int)


def half_mask(left: bool) -> MaskData:
    m = np.zeros((H, W), np.uint8)
    if left:
        m[:, : W // 2] = 255
    else:
        m[:, W // 2:] = 255
    return MaskData(W, H, m.tobytes())


def test_a_warm_run_with_a_quarter_of_the_steps_is_as_good_as_a_cold_one(daemon):
    content = unique_content(1)
    steps = 60
    job(daemon, content, {"size": 0, "steps": steps})                               # the artist's first try
    warm, said = job(daemon, content, {"size": 0, "steps": steps, "style_weight": 3.0}, init="last")
    cold, _ = job(daemon, content, {"size": 0, "steps": steps, "style_weight": 3.0})
    assert warm["report"]["init"] == "last" and "init" not in cold["report"]
    assert any("last result" in m for m in said), said
    # the plan's warm rule, not the client, says how many steps: a quarter of them
    assert warm["report"]["steps_done"] == warm_steps(TransferOptions(steps=steps)) == steps // 4
    assert warm["report"]["plan"]["start"] == "warm" and cold["report"]["plan"]["start"] == "content"
    # the same objective (the new weight, the same size), a quarter of the steps: within 5 %
    w, c = warm["report"]["losses"]["total"], cold["report"]["losses"]["total"]
    assert w <= 1.05 * c, (w, c)


def test_init_last_with_no_earlier_result_starts_from_the_content_and_says_so(daemon):
    content = unique_content(2)
    # histogram colour mode starts from the content itself (full colour would recolour it first)
    res, said = job(daemon, content, {"size": 0, "steps": 0, "color": "histogram"}, init="last")
    assert res["report"]["init"] == "content" and res["report"]["plan"]["start"] == "content"
    assert any("no earlier result" in m for m in said), said
    assert np.abs(image(res) - content.astype(int)).mean() < 2      # no step: the content itself
    # one wire spelling: "last" as an option is refused, and says where it goes
    with DaemonClient(daemon, timeout=10) as c:
        jid = c.submit(content=rgba(unique_content(3)), styles=[rgba(STYLE)], options={"size": 0, "init": "last"})
        res = list(c.events(jid, timeout=60))[-1]
    assert res["type"] == "error" and res["code"] == "bad_input" and "field of submit" in res["message"]


def test_a_warm_start_at_another_size_starts_from_the_last_result_resampled(daemon):
    content = unique_content(4)
    first, _ = job(daemon, content, {"size": 32, "steps": 8})
    last = image(first)
    assert last.shape[:2] == (21, 32)
    res, said = job(daemon, content, {"size": 64, "steps": 0}, init="last")
    assert res["report"]["init"] == "last" and res["report"]["worked_at"]["size"] == 64
    out = image(res)
    assert out.shape[:2] == (43, 64)
    photo = resized(content, 64, 43)
    from_last = np.abs(out - resized(last.astype(np.uint8), 64, 43)).mean()
    assert from_last < 6 and from_last < np.abs(out - photo).mean() / 3, from_last


def test_a_warm_start_with_new_regions_takes_the_last_result_only_where_they_put_style(daemon):
    content = unique_content(5)
    first, _ = job(daemon, content, {"size": 0, "steps": 8})                     # styled everywhere
    last = image(first)
    region = [{"content_mask": half_mask(left=True), "style": 0, "style_mask": None, "invert": False}]
    res, _ = job(daemon, content, {"size": 0, "steps": 0}, init="last", regions=region)
    out, photo = image(res), content.astype(int)
    assert res["report"]["init"] == "last"
    assert np.abs(out - last)[:, : W // 2 - 2].mean() < 3                      # the region: the last result
    assert np.abs(out - photo)[:, W // 2 + 2:].mean() < 2                      # outside it: the photo
    # and with steps, the new region's job runs from there
    res, _ = job(daemon, content, {"size": 0, "steps": 4}, init="last",
                 regions=[{"content_mask": half_mask(left=False), "style": 0, "style_mask": None, "invert": False}])
    assert res["report"]["init"] == "last" and res["report"]["steps_done"] == 4
    assert np.abs(image(res) - photo)[:, : W // 2 - 2].mean() < 2


def luma(rgb) -> np.ndarray:
    return np.asarray(rgb, float) @ [0.299, 0.587, 0.114]


def test_a_change_to_luminance_only_starts_from_the_last_strokes_in_the_photos_tones(daemon):
    """Full colour -> luminance only: the start keeps the last result's strokes, its luminance moved
    to the photo's mean and spread (the painting's tones are what a short warm run could not undo)."""
    content = unique_content(9)
    first, _ = job(daemon, content, {"size": 0, "steps": 12, "style_weight": 30.0})
    last, photo = luma(image(first)), luma(content)
    res, _ = job(daemon, content, {"size": 0, "steps": 0, "color": "luminance"}, init="last")
    assert res["report"]["init"] == "last"
    start = luma(image(res))                         # no step: the start, with the photo's colours
    assert abs(start.mean() - photo.mean()) < 2 and abs(start.std() / photo.std() - 1) < 0.05
    assert abs(last.mean() - photo.mean()) > 2 or abs(last.std() / photo.std() - 1) > 0.05   # it did move
    strokes = np.corrcoef(start.ravel(), last.ravel())[0, 1]
    assert strokes > 0.98 and strokes > np.corrcoef(start.ravel(), photo.ravel())[0, 1], strokes


def test_a_cancelled_jobs_image_is_kept_for_the_next_run(daemon):
    content = unique_content(6)
    with DaemonClient(daemon, timeout=10) as c:
        jid = c.submit(content=rgba(content), styles=[rgba(STYLE)], options={"size": 0, "steps": 5000, "levels": 1})
        for ev in c.events(jid, timeout=120):
            if ev["type"] == "progress" and (ev.get("done") or 0) >= 3:
                c.cancel(jid)
            if ev["type"] == "result":
                stopped = ev
                break
    assert stopped["cancelled"]
    res, said = job(daemon, content, {"size": 0, "steps": 0}, init="last")
    assert res["report"]["init"] == "last" and any("cancelled" in m for m in said), said
    assert np.abs(image(res) - image(stopped)).mean() < 2


def test_kept_results_are_bounded_least_recently_used_first(tmp_path):
    per_result = 48 * 32 * 3 + 512        # a 48×32 result and its record (results.Kept.nbytes)
    proc, endpoint, _ = start_daemon(tmp_path, "--keep-results", str(2 * per_result + 100), "--idle-exit", "300")
    try:
        a, b, c = (unique_content(10 + i) for i in range(3))
        for content in (a, b, c):
            job(endpoint, content, {"size": 0, "steps": 1})
        said = lambda content: job(endpoint, content, {"size": 0, "steps": 0}, init="last")[0]["report"]["init"]  # noqa: E731
        assert said(a) == "content"     # the oldest went first
        assert said(b) == said(c) == "last"
        big = unique_content(13)
        job(endpoint, big, {"size": 96, "steps": 1})                  # 96×64: larger than the whole bound
        assert said(big) == "content"   # not kept ...
        assert said(b) == said(c) == "last"                          # ... and nothing dropped for it
        with DaemonClient(endpoint, timeout=5) as cl:
            r = cl.status()["results"]
        assert r["entries"] == 2 and r["bytes"] <= r["max_bytes"] == 2 * per_result + 100
        assert r["evicted"] == 1 and r["not_kept"] == 1
    finally:
        kill(proc)
    # 0 keeps nothing
    proc, endpoint, _ = start_daemon(tmp_path, "--keep-results", "0", "--idle-exit", "300")
    try:
        job(endpoint, a, {"size": 0, "steps": 1})
        assert job(endpoint, a, {"size": 0, "steps": 0}, init="last")[0]["report"]["init"] == "content"
    finally:
        kill(proc)


def test_a_bad_init_is_refused_in_one_sentence(daemon):
    # the submit field: "last", a frame, or nothing (the daemon's own answer, sent raw)
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(daemon)
    try:
        s.send_multipart(encode("submit", {"id": 7, "content": rgba(CONTENT), "styles": [rgba(STYLE)],
                                           "init": "latest", "options": {}}))
        assert s.poll(10000)
        reply = decode(s.recv_multipart(), DEFAULT_LIMITS, sender="daemon")
    finally:
        s.close()
    assert reply.type == "error" and reply.fields["code"] == "bad_field" and reply.fields["re"] == 7
    msg = reply.fields["message"]
    assert "'init'" in msg and '"last"' in msg and "latest" in msg and msg.count(". ") == 0
    # the client checks it before sending
    with DaemonClient(daemon, timeout=10) as c:
        with pytest.raises(DaemonError) as e:
            c.submit(content=rgba(CONTENT), styles=[rgba(STYLE)], init="latest")
        assert e.value.code == "bad_field"
    # the option: the engine's choices
    with DaemonClient(daemon, timeout=10) as c:
        jid = c.submit(content=rgba(CONTENT), styles=[rgba(STYLE)], options={"init": "latest"})
        res = list(c.events(jid, timeout=60))[-1]
    assert res["type"] == "error" and res["code"] == "bad_input"
    assert res["message"] == "init must be one of content, noise (got 'latest')"


def test_the_command_line_warm_starts_through_the_daemon_and_says_so_locally(daemon, tmp_path):
    import json

    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(unique_content(20)).save(content)
    Image.fromarray(STYLE).save(style)

    def stylize(*extra):
        report = tmp_path / "r.json"
        proc = subprocess.run([PY, "-m", "daemon", "stylize", "--content", str(content), "--style", str(style),
                               "--output", str(tmp_path / "o.png"), "--size", "32", "--levels", "1",
                               "--report", str(report), *extra], cwd=ROOT, env=env(), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc, json.loads(report.read_text())

    _, r = stylize("--steps", "3", "--endpoint", daemon, "--init", "last")
    assert r["init"] == "content"
    proc, r = stylize("--steps", "2", "--endpoint", daemon, "--init", "last")
    assert r["init"] == "last" and "last result" in proc.stderr
    proc, r = stylize("--steps", "1", "--local", "--init", "last")
    assert "--init last" in proc.stderr and "starts from the content" in proc.stderr
    assert r["init"] == "content" and r["options"]["init"] == "content"


def test_a_run_anew_after_a_bad_result_equals_a_run_on_a_fresh_daemon(daemon, tmp_path):
    """Anew means anew: a job that does not ask for "last" never starts from a kept result, so after a
    bad result for the same content (a huge style weight) it gives exactly what a fresh daemon gives
    (seeded, CPU)."""
    content = unique_content(30)
    settings = {"size": 0, "steps": 6, "seed": 3}
    job(daemon, content, dict(settings, style_weight=1e4))                  # the bad result, kept
    after_bad, said = job(daemon, content, settings)
    assert "init" not in after_bad["report"] and not any("last result" in m for m in said), said
    proc, fresh, _ = start_daemon(tmp_path, "--idle-exit", "300")
    try:
        on_fresh, _ = job(fresh, content, settings)
    finally:
        kill(proc)
    assert np.array_equal(image(after_bad), image(on_fresh))
