"""A fuzzer of the live daemon: generated option values sent to a real `python -m daemon serve`.

Each case is a small valid request (16×16 content, at most 32 px, at most a step per level) with one to three of
its options replaced by a generated value: valid, at a boundary, out of range, of the wrong type, or
an option added or dropped. What a user relies on, checked on every answer:
- the daemon answers every case with a result or a refusal a person can act on (``bad_input``,
  ``too_large``, or a protocol code such as ``bad_field``), never ``internal``;
- what the options check accepts runs to a result, and what it refuses is refused;
- ``status`` from a second client answers within 1 s all along (nothing freezes the daemon);
- the daemon's resident memory stays under a bound.
The default variant runs 120 cases (about half a minute on 2 idle CPU cores: the valid ones run VGG-19
for real); the slow one 600.
"""
import random
import threading

import numpy as np
import pytest

from daemon.engine.errors import BadInput
from daemon.engine.options import RANGES, SEED_MAX
from daemon.service.convert import options_from_dict
from shared.client import DaemonClient, DaemonError
from .helpers import kill, rgba, start_daemon

CONTENT_HW = (16, 16)
REFUSALS = {"bad_input", "too_large", "bad_field", "not_finite", "bad_frames"}
RSS_GROWTH_MAX = 1 << 30        # bytes the daemon may grow by over the whole run (it starts near 0.5 GB)

# Values a real job can use that stay cheap at 16-64 px (a valid steps = 100000 would run for hours).
CHEAP = {
    "size": [16, 17, 24, 32, 0, 16.0],
    "steps": [0, 1, 1.0],
    "levels": [1, 2, 3, 1.0],
    "coarse_steps": [None, 0, 1],
    "mix_steps": [None, 0, 1],
    "content_weight": [0, 0.0, 1e-9, 30, 1e6],
    "style_weight": [0, 1, 2.5, 1e6],
    "style_blend": [None, [1], [0, 1], [1, 1], [2.5, 0.5]],
    "style_scale": [1e-6, 0.25, 1, 2],
    "color": ["full", "luminance", "histogram"],
    "histogram_method": ["chol", "pca", "ot"],
    "guidance": ["gram", "sums"],
    "propagation": ["simple", "inside", "all"],
    "guide_grow": [-32, -1, 0, 1, 32],
    "global_guide": [True, False],
    "scale_mix": [None, [0, 1], [1, 0], [0, 0]],
    "init": ["content", "noise"],
    "seed": [0, 1, 12345, SEED_MAX, 7.0],
    "optimizer": ["lbfgs", "adam"],
    "lbfgs_history": [1, 5, 20, 1000],
    "learning_rate": [1e-9, 1, 255],
    "fast": [True, False],
    "quality": ["preview", "standard", "high"],
}
HUGE = [10 ** 15, 10 ** 19, 2 ** 63, 2 ** 64, 10 ** 300, -10 ** 19, 1e15, 1e308, -1e308, 5e-324, -0.0]
WRONG_TYPE = ["5", "", "x" * 200, True, False, None, [1], [1, 2, 3], [None], ["a", "b"], [True, False],
              [1.5], [], 0.5, -1, 1.5, [10 ** 19, 0], [1e308, 1e308], {"a": 1}, [[1]], float("nan"),
              float("inf")]
NAMES = sorted(CHEAP)


def out_of_range(name: str) -> list:
    if name in RANGES:
        lo, hi = RANGES[name]
        step = 1 if isinstance(lo, int) and isinstance(hi, int) else 1e-6 * max(1.0, abs(hi))
        return [lo - step, hi + step, hi * 2, lo - 1000, -hi]
    if name in ("color", "histogram_method", "guidance", "propagation", "init", "optimizer", "quality"):
        return ["FULL", "none", "ultra", " full", "lbfgs\n"]
    if name == "style_blend":
        return [[0, 0], [-1, 2], [1, 2, 3], [1e300, 1e300], [1e7]]
    if name == "scale_mix":
        return [[0, 2], [-1, 0], [0], [0, 1, 1], [2, 2]]
    return [2, "yes"]


def generate(rng: random.Random) -> dict:
    """One case: a cheap valid request, then 0-3 of its options replaced, added or dropped."""
    n_styles = rng.choice([1, 2])
    opts = {"size": rng.choice([16, 16, 16, 24, 32]), "steps": rng.choice([0, 1, 1]), "levels": rng.choice([1, 1, 2]),
            "coarse_steps": 1, "mix_steps": 1}
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        name = rng.choice(NAMES + ["bogus_option"])
        kind = rng.random()
        if name == "bogus_option":
            opts[rng.choice(["bogus", "Size", "STEPS", "levels "])] = rng.choice(CHEAP["steps"])
        elif kind < 0.35:
            opts[name] = rng.choice(CHEAP[name])
        elif kind < 0.55:
            opts[name] = rng.choice(out_of_range(name))
        elif kind < 0.70:
            opts[name] = rng.choice(HUGE)
        elif kind < 0.95:
            opts[name] = rng.choice(WRONG_TYPE)
        elif name not in ("size", "steps", "coarse_steps", "mix_steps", "quality"):   # their defaults are slow
            opts.pop(name, None)
    return {"n_styles": n_styles, "options": opts}


def expected_ok(case: dict) -> bool:
    """Whether the options check (the same code the daemon runs) accepts the case."""
    try:
        options_from_dict(case["options"], CONTENT_HW).validate(case["n_styles"])
        return True
    except BadInput:
        return False


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


class StatusWatch(threading.Thread):
    """Asks for status from a second client all along; records any that took over 1 s or failed."""

    def __init__(self, endpoint: str, pid: int):
        super().__init__(daemon=True)
        self.endpoint, self.pid = endpoint, pid
        self.stop_flag = threading.Event()
        self.failures: list = []
        self.answers = 0
        self.peak_rss = 0

    def run(self):
        with DaemonClient(self.endpoint, timeout=1.0) as c:
            while not self.stop_flag.is_set():
                try:
                    c.status()
                    self.answers += 1
                except DaemonError as e:
                    self.failures.append(f"status: {e.code}: {e}")
                    return
                self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
                self.stop_flag.wait(0.25)


def answer(client: DaemonClient, case: dict, content, styles) -> tuple:
    """('result', report) or ('error', code, message) for one case."""
    try:
        job = client.submit(content=content, styles=styles[:case["n_styles"]], options=case["options"])
    except DaemonError as e:           # refused by the client's own check or when accepting
        return ("error", e.code, str(e))
    for ev in client.events(job, timeout=60):
        if ev["type"] == "result":
            return ("result", ev["report"])
        if ev["type"] == "error":
            return ("error", ev.get("code"), ev.get("message"))
    return ("error", "no_end", "the events stopped without a result or an error")


def fuzz(tmp_path, seed: int, n: int):
    rng = random.Random(seed)
    cases = [generate(rng) for _ in range(n)]
    img = np.random.default_rng(seed)
    content = rgba(img.integers(0, 256, CONTENT_HW + (3,), dtype=np.uint8))
    styles = [rgba(img.integers(0, 256, (16, 16, 3), dtype=np.uint8)),
              rgba(img.integers(0, 256, (20, 12, 3), dtype=np.uint8))]
    proc, endpoint, _log = start_daemon(tmp_path, "--idle-exit", "600", "--cache-mb", "64")
    try:
        with DaemonClient(endpoint, timeout=10) as c:
            first = answer(c, {"n_styles": 1, "options": {"size": 16, "steps": 1}}, content, styles)
            assert first[0] == "result", first
            baseline = rss_bytes(proc.pid)
            watch = StatusWatch(endpoint, proc.pid)
            watch.start()
            seen = {"result": 0}
            for i, case in enumerate(cases):
                got = answer(c, case, content, styles)
                assert not watch.failures, (watch.failures, i, case)
                if got[0] == "result":
                    seen["result"] += 1
                    assert expected_ok(case), ("ran although the options check refuses it", case, got)
                else:
                    code, message = got[1], got[2]
                    seen[code] = seen.get(code, 0) + 1
                    assert code in REFUSALS, (case, got)
                    assert message and "\n" not in message and len(message) < 400, (case, got)
                    if code == "bad_input":
                        assert not expected_ok(case), ("refused although the options check accepts it", case, got)
            watch.stop_flag.set()
            watch.join(5)
        assert not watch.failures, watch.failures
        assert watch.answers > 0
        peak = max(watch.peak_rss, rss_bytes(proc.pid))
        assert peak - baseline < RSS_GROWTH_MAX, (baseline, peak)
        # both kinds of answer were exercised, and the daemon still works
        assert seen["result"] > n // 10 and seen.get("bad_input", 0) > n // 10, seen
        with DaemonClient(endpoint, timeout=10) as c:
            assert answer(c, {"n_styles": 1, "options": {"size": 16, "steps": 1}}, content, styles)[0] == "result"
        print(f"fuzz seed {seed}: {n} cases, answers {seen}, status answered {watch.answers} times, "
              f"RSS {baseline >> 20} -> peak {peak >> 20} MB")
    finally:
        kill(proc)


def test_generated_options_never_crash_or_freeze_the_daemon(tmp_path):
    fuzz(tmp_path, seed=10, n=120)


@pytest.mark.slow
def test_generated_options_never_crash_or_freeze_the_daemon_many(tmp_path):
    fuzz(tmp_path, seed=11, n=600)
