"""The dialog's live preview (gimp_plugin/neural-style/live_preview.py) against a real daemon process:
a change of a setting gives a new preview, a burst of changes renders once, an outdated job is
cancelled, a daemon that is not there yet (or restarts) is waited for with a visible message, and an
error the artist must fix is shown, not retried. No GIMP needed: the module uses shared/ only.
"""
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shared import client as shared_client
from shared.client import ImageData
from daemon.engine import TransferOptions
from daemon.engine.plan import warm_steps
from daemon.engine.presets import PRESETS
from .helpers import end, free_port, serve
from .images import example

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "gimp_plugin" / "neural-style"))
import link  # noqa: E402
import live_preview  # noqa: E402

HANG = 120
WARM = True    # a re-render starts from this preview's own last picture (init "last")


def rgba(a):
    h, w = a.shape[:2]
    return ImageData(w, h, np.concatenate([a, np.full((h, w, 1), 255, np.uint8)], axis=2).tobytes())


CONTENT = rgba(example("chelsea.png", 64))
STYLE = rgba(example("starry_night.jpg", 48))


def submission(**options):
    opts = {"size": 48}
    opts.update(options)
    return link.Submission(content=CONTENT, styles=[STYLE], options=opts)


def collect(live, until, what):
    """Events until ``until(events)`` is true; fails after HANG seconds."""
    got, deadline = [], time.monotonic() + HANG
    while time.monotonic() < deadline:
        got += live.events()
        if until(got):
            return got
        time.sleep(0.02)
    raise AssertionError(f"no {what} after {HANG} s; events: {[e.get('text', e['type']) for e in got]}")


def make(endpoint, steps=6, **kw):
    return live_preview.LivePreview(shared_client, endpoint, warm=WARM, steps=steps, **kw)


def settled(evs):
    return any(e.get("settled") for e in evs)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = serve(tmp, endpoint)
    yield endpoint
    end(proc)


def test_a_changed_setting_gives_a_new_preview(daemon):
    live = make(daemon, debounce=0.05)
    try:
        live.request(submission(style_weight=1.0))
        first = collect(live, settled, "first preview")
        images = [e for e in first if e["type"] == "image"]
        assert images and images[-1]["final"] and images[-1]["image"].width == 48
        assert any("step" in e.get("text", "") for e in first if e["type"] == "status")
        before = live.latest.data
        live.request(submission(style_weight=30.0))
        second = collect(live, settled, "updated preview")
        assert [e for e in second if e["type"] == "image"], "no image after the change"
        assert live.latest.data != before, "the preview did not change with the style weight"
    finally:
        live.close()


def test_a_burst_of_changes_renders_once_and_an_outdated_job_is_cancelled(daemon):
    live = make(daemon, debounce=0.3)
    try:
        for w in (1.0, 2.0, 3.0, 4.0):          # a slider dragged: one render, of the last value
            live.request(submission(style_weight=w))
        evs = collect(live, settled, "the burst's preview")
        assert len({e["job"] for e in evs if e.get("job")}) == 1
        live.steps = 400
        live.request(submission(style_weight=4.5))   # a long job...
        evs = collect(live, lambda ev: any(e["type"] == "image" for e in ev), "the long job's first image")
        live.steps = 6
        live.request(submission(style_weight=5.0))   # ...made outdated at once
        evs += collect(live, settled, "the newer preview")
        assert any(e["type"] == "image" and e["outdated"] for e in evs), "the outdated job was not cancelled"
        assert len({e["job"] for e in evs if e.get("job")}) == 2
    finally:
        live.close()


def test_it_waits_for_a_daemon_that_is_not_there_yet_and_says_so(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    live = make(endpoint, debounce=0.05, retry=0.5)
    proc = None
    try:
        live.request(submission())
        evs = collect(live, lambda ev: any(e.get("retrying") for e in ev), "a retry message")
        assert "tries again" in [e for e in evs if e.get("retrying")][0]["text"]
        proc = serve(tmp_path, endpoint)
        collect(live, settled, "a preview once the daemon runs")
    finally:
        live.close()
        if proc is not None:
            end(proc)


def test_an_error_the_artist_must_fix_is_shown_not_retried(daemon):
    live = make(daemon, debounce=0.05, retry=0.2)
    try:
        live.request(submission(style_weight=-1.0))
        evs = collect(live, lambda ev: any(e["type"] == "error" for e in ev), "an error")
        err = [e for e in evs if e["type"] == "error"][0]
        assert err["code"] in ("bad_input", "bad_field") and "style weight" in err["text"]
        time.sleep(1.0)
        assert not [e for e in live.events() if e.get("retrying")]
        live.request(submission())               # the artist fixes it: the preview comes
        collect(live, settled, "a preview after the fix")
    finally:
        live.close()


def test_a_re_render_starts_from_its_own_picture_and_a_new_preview_from_the_photo(daemon):
    """A re-render of the same content is a warm start from this preview's picture (the plan's warm
    rule: fewer steps than the first render); a new dialog's preview of content the daemon already
    kept a result for still starts from the photo, with all of the preset's steps (anew is anew)."""
    fresh = rgba(example("coffee.png", 64))
    cold = PRESETS["preview"]["steps"]
    warm = warm_steps(TransferOptions(steps=cold))
    assert warm < cold
    for dialog in range(2):
        live = make(daemon, steps=None, debounce=0.05)
        try:
            live.request(replace(submission(style_weight=1.0, size=64), content=fresh))
            first = [e for e in collect(live, settled, "the first preview") if e["type"] == "image"]
            live.request(replace(submission(style_weight=3.0, size=64), content=fresh))
            again = [e for e in collect(live, settled, "the re-render") if e["type"] == "image"]
            # the first render: the preview preset, at a size this small one level of its one-level steps
            assert {(e["levels"] or 1, e["total"]) for e in first if e["total"]} == {(1, cold)}, dialog
            assert {(e["levels"] or 1, e["total"]) for e in again if e["total"]} == {(1, warm)}, dialog
        finally:
            live.close()


def test_close_ends_the_worker_and_cancels_its_job(daemon):
    live = make(daemon, debounce=0.05, steps=2000)
    live.request(submission())
    collect(live, lambda ev: any(e["type"] == "image" for e in ev), "a first image")
    t = time.monotonic()
    live.close(timeout=30)
    assert not live._thread.is_alive()
    with shared_client.DaemonClient(daemon, timeout=5) as c:     # the daemon is free again
        deadline = time.monotonic() + HANG
        while c.status()["queue"]["running"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.status()["queue"]["running"] is None, c.status()
