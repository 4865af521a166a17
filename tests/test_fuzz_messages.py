"""A fuzzer of the live daemon at the level of whole messages, as a hostile audit sends them.

Several clients at once (each its own session, as several GIMP windows or users are), each sending
generated requests over its own connection: ``submit`` with contents, styles, regions and masks,
style masks and init frames of right and wrong sizes and indices; ``estimate`` with odd sizes and
targets; ``cancel`` of job ids that belong to another client; ``status``; and frame-level damage
(a frame dropped, added or cut short, a descriptor that lies, a message over the size limit).
What a user relies on, checked on every answer:
- every request ends in a result or an error whose code is documented and is never ``internal`` or
  ``engine_error``, in one short sentence;
- a request with nothing wrong runs to a result, and damage at the frame level is refused by the
  protocol check (a protocol code) before any work;
- no client sees another's work: cancelling another client's job is ``unknown_job``, ``status`` lists
  only the sender's own jobs, and ``init: "last"`` never starts from another client's result;
- ``status`` from a watcher answers within 1 s all along, and the daemon's memory stays bounded.
"""
from __future__ import annotations

import json
import random
import threading
import uuid

import numpy as np
import pytest
import zmq

from daemon.engine.errors import BadInput
from daemon.service.convert import options_from_dict
from shared.protocol import ERROR_CODES, ImageData, MaskData, decode, encode
from .helpers import HANG, kill, rgba, start_daemon
from .test_fuzz import StatusWatch, rss_bytes

PROTOCOL_CODES = {"bad_message", "bad_version", "bad_type", "bad_field", "bad_frames", "too_large", "not_finite"}
NEVER = {"internal", "engine_error"}
MAX_MESSAGE_MB = 1          # the daemon's message limit in this test: over it is cheap to send
RSS_GROWTH_MAX = 1 << 30


class Client:
    """One connection and one session, speaking raw frames (so that they can be damaged)."""

    def __init__(self, endpoint: str):
        self.session = uuid.uuid4().hex
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.jobs: list = []           # ids of this client's jobs
        self.ran_shared = False        # whether it has a kept result for the photo every client styles

    def send(self, frames):
        self.sock.send_multipart(frames)

    def next(self):
        assert self.sock.poll(HANG * 1000), "the daemon stopped answering"
        return decode(self.sock.recv_multipart(), sender="daemon")

    def ask(self, frames):
        """The end of one request: ("result", fields), ("error", code, message) or (type, fields)."""
        self.send(frames)
        while True:
            m = self.next()
            if m.type == "accepted":
                self.jobs.append(m.get("job"))
                continue
            if m.type in ("progress", "preview"):
                continue
            if m.type == "error":
                return ("error", m.get("code"), m.get("message") or "")
            return (m.type, m.fields)

    def close(self):
        self.sock.close()


def image(rng: random.Random, h: int, w: int) -> ImageData:
    return rgba(np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (h, w, 3), dtype=np.uint8))


def mask(h: int, w: int, inside: bool = True) -> MaskData:
    m = np.zeros((h, w), np.uint8)
    if inside:
        m[: max(1, h // 2)] = 255
    return MaskData(w, h, m.tobytes())


def other(rng: random.Random, n: int) -> int:
    return n + rng.choice([-1, 1, 3] if n > 1 else [1, 3])


def submit_case(rng: random.Random, session: str, shared_content: ImageData):
    """(fields, True when nothing is wrong with them, False when something is, None when the
    engine's own size rules decide)."""
    ok = True
    content = shared_content if rng.random() < 0.3 else None
    h, w = (content.height, content.width) if content else (rng.choice([16, 20, 24]), rng.choice([16, 24, 32]))
    if content is None and rng.random() < 0.1:
        h, w, ok = rng.choice([1, 3, 8]), rng.choice([1, 5, 40]), None      # tiny: the size rules decide
    content = content or image(rng, h, w)
    n_styles = rng.choice([1, 1, 2, 3])
    style_hw = [(rng.choice([12, 16, 20]), rng.choice([12, 16, 20])) for _ in range(n_styles)]
    styles = [image(rng, *hw) for hw in style_hw]
    if rng.random() < 0.05:
        styles, ok = [], False
    regions = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        r = {"content_mask": mask(h, w), "style": rng.randrange(n_styles), "style_mask": None,
             "invert": rng.random() < 0.3}
        roll = rng.random()
        if roll < 0.08:
            r["content_mask"], ok = mask(other(rng, h), w), False
        elif roll < 0.16:
            r["style"], ok = rng.choice([-1, n_styles, 10 ** 6, "0", None, 1.5]), False
        elif roll < 0.24 and n_styles:
            sh, sw = style_hw[r["style"]] if isinstance(r["style"], int) and 0 <= r["style"] < n_styles else (1, 1)
            r["style_mask"] = mask(sh, sw) if rng.random() < 0.5 else mask(other(rng, sh), sw)
            if r["style_mask"].height != sh:
                ok = False
        elif roll < 0.30:
            r["content_mask"] = mask(h, w, inside=False)        # selects nothing (inverted: everything)
            if not r["invert"]:
                ok = False
        regions.append(r)
    init = None
    roll = rng.random()
    if roll < 0.2:
        init = "last"
    elif roll < 0.3:
        init = image(rng, h, w)
    elif roll < 0.35:
        init, ok = image(rng, other(rng, h), w), False
    elif roll < 0.38:
        init, ok = rng.choice(["first", 7, {"a": 1}]), False
    options = {"size": 32, "steps": rng.choice([0, 1]), "levels": 1}     # sides of 16 px or more
    fields = {"id": rng.randrange(1000), "session": session, "content": content, "styles": styles,
              "regions": regions, "init": init, "options": options, "preview": rng.random() < 0.2,
              "preview_every": 0.1}
    return fields, ok


def estimate_case(rng: random.Random, session: str):
    w, h, target = rng.choice([16, 512, 4000, 16384]), rng.choice([16, 300, 2048]), rng.choice([None, 1, 60, 1e6])
    if rng.random() < 0.3:
        w, h, target = rng.choice([(0, 16, None), (-5, 16, 60), (10 ** 9, 16, 60), ("64", 16, 60), (16, 1.5, 60),
                                   (16, 16, 0), (16, 16, -1), (16, 16, 1e9), (16, 16, "x")])
    fields = {"id": 1, "session": session, "width": w, "height": h,
              "options": {"size": rng.choice([0, 16, 512, 2048]), "levels": rng.choice([1, 2, 4])}}
    if target is not None:
        fields["target_s"] = target
    return fields


def submit_accepts(fields: dict) -> bool:
    """Whether a submit of this content size and these options passes the options check."""
    try:
        options_from_dict(fields["options"], (fields["height"], fields["width"]))
        return True
    except BadInput:
        return False


def damage(rng: random.Random, frames: list) -> list:
    """The same message with its frames broken in one way a careless or hostile client might."""
    frames = [bytes(f) for f in frames]
    header = json.loads(frames[0])
    kind = rng.choice(["drop", "extra", "cut", "lie", "garbage", "oversize", "version", "type"])
    if kind == "drop" and len(frames) > 1:
        return frames[:-1]
    if kind == "extra":
        return frames + [b"\0" * 16]
    if kind == "cut" and len(frames) > 1:
        i = rng.randrange(1, len(frames))
        return frames[:i] + [frames[i][:-1]] + frames[i + 1:]
    if kind == "lie" and header.get("frames"):
        d = header["frames"][0]
        d["width"], d["height"] = d["height"] + 1, d["width"]
        return [json.dumps(header).encode()] + frames[1:]
    if kind == "oversize":
        return frames + [b"\0" * (MAX_MESSAGE_MB << 20)]
    if kind == "version":
        header["v"] = rng.choice([0, 2, "1", None])
        return [json.dumps(header).encode()] + frames[1:]
    if kind == "type":
        header["type"] = rng.choice(["result", "submit ", "SUBMIT", 7])
        return [json.dumps(header).encode()] + frames[1:]
    return [rng.choice([b"", b"\xff\xfe", b"[]", b"{", b"null"])] + frames[1:]


def check_answer(got, case: str):
    if got[0] == "error":
        code, message = got[1], got[2]
        assert code in ERROR_CODES and code not in NEVER, (case, got)
        assert message and "\n" not in message and len(message) < 400, (case, got)


def run_client(endpoint: str, seed: int, n: int, everyone: list, shared_content: ImageData, seen: dict,
               failures: list):
    rng = random.Random(seed)
    me = Client(endpoint)
    everyone.append(me)
    i = -1
    try:
        for i in range(n):
            roll = rng.random()
            if roll < 0.55:
                fields, ok = submit_case(rng, me.session, shared_content)
                frames = encode("submit", fields)
                broken = rng.random() < 0.25
                if broken:
                    frames = damage(rng, frames)
                got = me.ask(frames)
                check_answer(got, f"submit {i}")
                if broken:
                    assert got[0] == "error" and got[1] in PROTOCOL_CODES, (i, got)
                elif ok:
                    assert got[0] == "result", (i, fields["regions"], fields["init"], got)
                    if fields["init"] == "last":   # only ever this client's own kept result
                        mine = fields["content"] is shared_content and me.ran_shared
                        assert got[1]["report"]["init"] == ("last" if mine else "content"), got
                    if fields["content"] is shared_content and got[1]["report"]["steps_done"]:
                        me.ran_shared = True
                elif ok is False:
                    assert got[0] == "error", (i, fields["regions"], fields["init"], got)
                kind = "submit" + (" damaged" if broken else "")
            elif roll < 0.75:
                fields = estimate_case(rng, me.session)
                got = me.ask(encode("estimate", fields))
                check_answer(got, f"estimate {i}")
                assert got[0] in ("estimate", "error"), got
                if got[0] == "estimate" or got[1] == "bad_input":   # as submit would: the same options check
                    assert (got[0] == "estimate") == submit_accepts(fields), (fields["options"], fields["width"], fields["height"], got)
                kind = "estimate"
            elif roll < 0.9:
                others = [j for c in everyone if c is not me for j in c.jobs]
                job = rng.choice(others) if others and rng.random() < 0.8 else "j-" + uuid.uuid4().hex[:8]
                got = me.ask(encode("cancel", {"id": 2, "session": me.session, "job": job}))
                assert got[0] == "error" and got[1] == "unknown_job", (job, got)
                kind = "cancel another's"
            else:
                got = me.ask(encode("status", {"id": 3, "session": me.session}))
                assert got[0] == "status", got
                q = got[1]["queue"]
                listed = {j["job"] for j in q["waiting"] + ([q["running"]] if q["running"] else [])}
                assert listed <= set(me.jobs), (listed, me.jobs)
                kind = "status"
            key = f"{kind}: {got[0] if got[0] != 'error' else got[1]}"
            seen[key] = seen.get(key, 0) + 1
    except Exception as e:      # noqa: BLE001 - reported by the test's thread, with its case
        failures.append(f"client {seed}, request {i}: {e!r}")
    finally:
        me.close()


def fuzz_messages(tmp_path, seed: int, clients: int, n: int):
    proc, endpoint, _log = start_daemon(tmp_path, "--idle-exit", "600", "--cache-mb", "64",
                                        "--max-message-mb", str(MAX_MESSAGE_MB), "--max-waiting", "64")
    try:
        baseline = rss_bytes(proc.pid)
        watch = StatusWatch(endpoint, proc.pid)
        watch.start()
        shared_content = image(random.Random(seed), 24, 32)     # several clients style the same photo
        everyone, seen, failures = [], {}, []
        threads = [threading.Thread(target=run_client, daemon=True,
                                    args=(endpoint, seed * 100 + k, n, everyone, shared_content, seen, failures))
                   for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG * n)
        watch.stop_flag.set()
        watch.join(5)
        assert not failures, failures
        assert not watch.failures and watch.answers > 0, watch.failures
        peak = max(watch.peak_rss, rss_bytes(proc.pid))
        assert peak - baseline < RSS_GROWTH_MAX, (baseline, peak)
        for kind in ("submit: result", "submit damaged: ", "estimate: estimate", "cancel another's: unknown_job"):
            assert any(k.startswith(kind) for k in seen), (kind, seen)
        print(f"message fuzz seed {seed}: {clients} clients x {n} requests: {dict(sorted(seen.items()))}; "
              f"status answered {watch.answers} times; RSS {baseline >> 20} -> peak {peak >> 20} MB")
    finally:
        kill(proc)


def test_generated_messages_from_several_clients_never_crash_mix_up_or_freeze_the_daemon(tmp_path):
    fuzz_messages(tmp_path, seed=20, clients=4, n=40)


@pytest.mark.slow
def test_generated_messages_from_several_clients_many(tmp_path):
    fuzz_messages(tmp_path, seed=21, clients=8, n=200)
