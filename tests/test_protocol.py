"""The wire protocol (shared/protocol.py) and the standard-library ZMTP client (shared/zmtp.py).

The decoder is what stands between any bytes on the network and the daemon: whatever it is given,
it must answer with a clean ProtocolError (a stable code + one sentence), never another exception.
"""
import json
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.protocol import (DEFAULT_LIMITS, ERROR_CODES, PROTOCOL_VERSION, EndpointError, ImageData, Limits,
                             MaskData, ProtocolError, decode, encode, error_frames, is_loopback_endpoint,
                             validate_endpoint)


def img(w, h, seed=0):
    return ImageData(w, h, bytes((i * 7 + seed) % 256 for i in range(w * h * 4)))


def mask(w, h, value=255):
    return MaskData(w, h, bytes([value]) * (w * h))


def submit_frames(**over):
    fields = {"id": 7, "content": img(8, 6), "styles": [img(5, 4, 1), img(3, 3, 2)],
              "regions": [{"content_mask": mask(8, 6), "style": 1, "style_mask": mask(3, 3, 128), "invert": True}],
              "init": img(8, 6, 3), "options": {"quality": "standard", "size": 0, "style_weight": 2.5,
                                                "style_blend": [1, 2], "color": "luminance"},
              "preview": True}
    fields.update(over)
    return encode("submit", fields)


def header(frames):
    return json.loads(frames[0])


def with_header(frames, **changes):
    h = header(frames)
    h.update(changes)
    return [json.dumps(h).encode()] + list(frames[1:])


def code_of(frames, sender="client", limits=DEFAULT_LIMITS):
    with pytest.raises(ProtocolError) as e:
        decode(frames, limits, sender=sender)
    assert e.value.code in ERROR_CODES
    assert str(e.value) and "\n" not in str(e.value)
    return e.value.code


# ---- round trips ------------------------------------------------------------------------------------
def test_submit_round_trip_gives_back_the_same_images_masks_and_options():
    frames = submit_frames()
    assert len(frames) == 1 + 1 + 2 + 2 + 1      # header, content, 2 styles, 2 masks, init
    m = decode(frames, sender="client")
    assert m.type == "submit" and m.get("id") == 7
    assert m.get("content") == img(8, 6)
    assert m.get("styles") == [img(5, 4, 1), img(3, 3, 2)]
    r = m.get("regions")[0]
    assert r["content_mask"] == mask(8, 6) and r["style"] == 1 and r["invert"] is True
    assert r["style_mask"] == mask(3, 3, 128)
    assert m.get("init") == img(8, 6, 3)
    assert m.get("options") == {"quality": "standard", "size": 0, "style_weight": 2.5, "style_blend": [1, 2],
                                "color": "luminance"}
    assert m.get("preview") is True


def test_submit_without_regions_means_the_whole_image():
    m = decode(encode("submit", {"content": img(4, 4), "styles": [img(4, 4)]}), sender="client")
    assert m.get("regions") == [] and m.get("init") is None and m.get("options") == {}


@pytest.mark.parametrize("type_,fields", [
    ("hello", {"protocol": 1, "daemon_version": "0.1.0", "device": "cpu", "limits": DEFAULT_LIMITS.to_dict()}),
    ("accepted", {"job": "a-1", "position": 2, "re": 3}),
    ("progress", {"job": "a-1", "step": 3, "total": 10, "level": 0, "levels": 2, "losses": {"total": 1.5e9},
                  "eta_s": 4.2, "message": "working at 400 px"}),
    ("preview", {"job": "a-1", "image": None}),
    ("result", {"job": "a-1", "image": None, "cancelled": True, "report": {"cache": {"style_hits": 1}}}),
    ("error", {"code": "bad_input", "message": "size must be at least 16 pixels", "job": "a-1"}),
    ("cancel", {"job": "a-1", "found": True}),
    ("heartbeat", {"jobs": ["a-1"]}),
    ("status", {"queue": {"running": None, "waiting": []}}),
    ("stop", {"stopping": True}),
])
def test_every_daemon_message_round_trips(type_, fields):
    if "image" in fields:
        fields = dict(fields, image=img(6, 5))
    m = decode(encode(type_, fields), sender="daemon")
    assert m.type == type_
    for k, v in fields.items():
        assert m.get(k) == v


@pytest.mark.parametrize("type_,fields", [
    ("hello", {"client": "gimp"}), ("cancel", {"job": "x-2"}), ("heartbeat", {}), ("status", {"id": "s1"}),
    ("stop", {})])
def test_every_client_request_round_trips(type_, fields):
    m = decode(encode(type_, fields), sender="client")
    assert m.type == type_ and all(m.get(k) == v for k, v in fields.items())


def test_error_frames_and_codes_are_documented():
    m = decode(error_frames("too_large", "too big", job="j", re=4), sender="daemon")
    assert (m.get("code"), m.get("message"), m.get("job"), m.get("re")) == ("too_large", "too big", "j", 4)
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "protocol.md"), encoding="utf-8").read()
    for code in ERROR_CODES:
        assert f"`{code}`" in doc, f"error code {code} is not in docs/protocol.md"


def test_encode_refuses_non_finite_numbers():
    with pytest.raises(ProtocolError) as e:
        encode("submit", {"content": img(2, 2), "styles": [img(2, 2)], "options": {"style_weight": float("nan")}})
    assert e.value.code == "not_finite"


def test_pixel_objects_check_their_length():
    with pytest.raises(ProtocolError):
        ImageData(4, 4, b"\x00" * 63)
    with pytest.raises(ProtocolError):
        MaskData(0, 4, b"")


# ---- each kind of bad input has its code -----------------------------------------------------------
def test_garbage_truncation_versions_sizes_masks_and_nan_each_give_their_code():
    good = submit_frames()
    assert code_of([]) == "bad_message"
    assert code_of([b"\xff\xfe not json"]) == "bad_message"
    assert code_of([b"[1, 2, 3]"]) == "bad_message"
    assert code_of([b"{" * 100000]) in ("bad_message",)
    assert code_of(good[:-1]) == "bad_frames"                                  # a frame missing
    assert code_of(good[:2] + [good[2][:-1]] + good[3:]) == "bad_frames"       # a frame truncated
    assert code_of(with_header(good, v=PROTOCOL_VERSION + 1)) == "bad_version"
    assert code_of(with_header(good, v=None)) == "bad_version"
    assert code_of(with_header(good, type="launch_missiles")) == "bad_type"
    assert code_of(encode("accepted", {"job": "x", "position": 0})) == "bad_type"   # a client may not send it
    h = header(good)
    h["frames"][0].update(width=10 ** 9, height=10 ** 9)
    assert code_of([json.dumps(h).encode()] + good[1:]) == "too_large"
    assert code_of(submit_frames(regions=[{"content_mask": mask(7, 6), "style": 0}])) == "bad_frames"
    assert code_of(submit_frames(regions=[{"content_mask": mask(8, 6), "style": 0, "style_mask": mask(3, 3)}])) \
        == "bad_frames"                                                        # style 0 is 5x4
    assert code_of(submit_frames(regions=[{"content_mask": mask(8, 6), "style": 5}])) == "bad_field"
    assert code_of(submit_frames(init=img(3, 3))) == "bad_frames"
    assert code_of(submit_frames(content=mask(8, 6), regions=[], init=None)) == "bad_frames"
    text = good[0].decode().replace('"style_weight":2.5', '"style_weight":NaN')
    assert code_of([text.encode()] + good[1:]) == "not_finite"
    text = good[0].decode().replace('"style_weight":2.5', '"style_weight":1e999')
    assert code_of([text.encode()] + good[1:]) == "not_finite"
    text = good[0].decode().replace('"style_weight":2.5', '"style_weight":-Infinity')
    assert code_of([text.encode()] + good[1:]) == "not_finite"
    assert code_of(with_header(good, options={"x": {"nested": "object"}})) == "bad_field"
    assert code_of(good + [b"extra"]) == "bad_frames"
    small = Limits(max_message_bytes=200)
    assert code_of(good, limits=small) == "too_large"
    assert code_of(submit_frames(styles=[img(2, 2)] * 9, regions=[])) == "too_large"


# ---- fuzz ------------------------------------------------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)


def _decode_cleanly(frames, sender="client"):
    try:
        decode(frames, sender=sender)
    except ProtocolError as e:
        assert e.code in ERROR_CODES


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=6), st.sampled_from(["client", "daemon"]))
def test_fuzz_random_bytes_only_ever_give_protocol_errors(frames, sender):
    _decode_cleanly(frames, sender)


@FUZZ
@given(st.dictionaries(st.sampled_from(["v", "type", "frames", "content", "styles", "regions", "init", "options",
                                        "job", "image", "id", "code", "message", "position", "report", "losses"]),
                       json_values, max_size=10),
       st.lists(st.binary(max_size=64), max_size=4), st.sampled_from(["client", "daemon"]))
def test_fuzz_random_headers_only_ever_give_protocol_errors(h, blobs, sender):
    _decode_cleanly([json.dumps(h).encode()] + blobs, sender)


@FUZZ
@given(st.data())
def test_fuzz_mutated_valid_submits_only_ever_give_protocol_errors(data):
    frames = submit_frames()
    h = header(frames)
    what = data.draw(st.sampled_from(["truncate", "cut_frames", "field", "descriptor", "region", "bytes", "version"]))
    if what == "truncate":
        i = data.draw(st.integers(0, len(frames) - 1))
        frames[i] = frames[i][:data.draw(st.integers(0, max(0, len(frames[i]) - 1)))]
    elif what == "cut_frames":
        frames = frames[:data.draw(st.integers(0, len(frames)))]
    elif what == "field":
        h[data.draw(st.sampled_from(sorted(h)))] = data.draw(json_values)
        frames[0] = json.dumps(h).encode()
    elif what == "descriptor":
        d = h["frames"][data.draw(st.integers(0, len(h["frames"]) - 1))]
        d[data.draw(st.sampled_from(["kind", "width", "height"]))] = data.draw(
            st.integers(-10, 10 ** 12) | st.sampled_from(["rgba", "mask", "rgb", None, 2.5]))
        frames[0] = json.dumps(h).encode()
    elif what == "region":
        h["regions"][0][data.draw(st.sampled_from(["content_mask", "style", "style_mask", "invert"]))] = \
            data.draw(json_values | st.integers(-5, 10))
        frames[0] = json.dumps(h).encode()
    elif what == "bytes":
        raw = bytearray(frames[0])
        for _ in range(data.draw(st.integers(1, 5))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        frames[0] = bytes(raw)
    else:
        h["v"] = data.draw(json_values)
        frames[0] = json.dumps(h).encode()
    _decode_cleanly(frames)


@FUZZ
@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" * 40]))
def test_fuzz_non_finite_numbers_are_refused_anywhere(token):
    for key in ("options", "report"):
        text = json.dumps({"v": 1, "type": "submit", "content": 0, "styles": [0], key: {"a": "X"}, "frames": []})
        code = code_of([text.replace('"X"', token).encode()])
        assert code == "not_finite"


# ---- endpoints -------------------------------------------------------------------------------------------
def test_loopback_endpoints():
    for ep in ("tcp://127.0.0.1:5557", "tcp://localhost:1", "tcp://[::1]:5557", "tcp://127.1.2.3:9", "ipc:///tmp/x"):
        assert is_loopback_endpoint(ep), ep
    for ep in ("tcp://0.0.0.0:5557", "tcp://*:5557", "tcp://192.168.1.5:5557", "tcp://example.com:1",
               "tcp://127.0.0.1.evil.com:5", "udp://127.0.0.1:5"):
        assert not is_loopback_endpoint(ep), ep


GOOD_ENDPOINTS = ["tcp://127.0.0.1:5557", "tcp://localhost:1", "tcp://[::1]:65535", "tcp://0.0.0.0:5557",
                  "tcp://gimp-box.example.org:5557", "ipc:///tmp/neural-style", "ipc:///tmp/a folder/sock"]
BAD_ENDPOINTS = {   # endpoint -> a word the sentence must hold
    "garbage": "not an endpoint",
    "": "empty",
    "tcp://127.0.0.1:abc": "not a whole number",
    "tcp://127.0.0.1:99999": "out of range",
    "tcp://127.0.0.1:65536": "out of range",
    "tcp://127.0.0.1:0": "out of range",
    "tcp://127.0.0.1:-1": "not a whole number",
    "tcp://127.0.0.1": "no port",
    "tcp://127.0.0.1:": "not a whole number",
    "tcp://:5557": "no host",
    "tcp://*:5557": "cannot connect",
    "tcp://::1:5557": "brackets",
    "tcp://[not-ip]:5557": "not an IPv6 address",
    "tcp://300.1.1.1:5557": "not an IPv4 address",
    "tcp://bad_host!:5557": "not a host name",
    "udp://127.0.0.1:5557": "scheme",
    "inproc://x": "scheme",
    "http://127.0.0.1:5557": "scheme",
    "tcp://127.0.0.1:5557\n": "control characters",
    "ipc://": "no path",
    "ipc:///tmp/" + "x" * 200: "longer than",
}


@pytest.mark.parametrize("endpoint", GOOD_ENDPOINTS)
def test_endpoints_that_can_work_are_accepted_unchanged(endpoint):
    assert validate_endpoint(endpoint) == endpoint
    assert validate_endpoint(endpoint, bind=True) == endpoint


@pytest.mark.parametrize("endpoint", sorted(BAD_ENDPOINTS))
def test_bad_endpoints_are_refused_in_one_sentence(endpoint):
    with pytest.raises(EndpointError) as e:
        validate_endpoint(endpoint)
    err = e.value
    assert isinstance(err, ProtocolError) and isinstance(err, ValueError)
    assert err.code == "bad_endpoint" and err.code in ERROR_CODES
    assert BAD_ENDPOINTS[endpoint] in str(err), str(err)
    assert "\n" not in str(err) and str(err) == err.message


def test_star_host_is_only_for_binding():
    assert validate_endpoint("tcp://*:5557", bind=True) == "tcp://*:5557"
    with pytest.raises(EndpointError):
        validate_endpoint("tcp://*:0", bind=True)


@pytest.mark.parametrize("endpoint", ["garbage", "tcp://127.0.0.1:abc", "tcp://127.0.0.1:99999"])
@pytest.mark.parametrize("transport", ["pyzmq", "zmtp"])
def test_a_client_with_a_bad_endpoint_fails_at_once_with_bad_endpoint(endpoint, transport):
    from shared.client import DaemonClient, DaemonError, ensure_daemon

    with pytest.raises(DaemonError) as e:
        DaemonClient(endpoint, transport=transport)
    assert e.value.code == "bad_endpoint" and endpoint in str(e.value)
    with pytest.raises(DaemonError) as e:   # and nothing gets started for it
        ensure_daemon(endpoint, python_executable="/nonexistent/python")
    assert e.value.code == "bad_endpoint"


# ---- the standard-library ZMTP client against a real pyzmq ROUTER -----------------------------------------
def test_zmtp_client_talks_to_a_pyzmq_router_with_big_messages_and_timeouts():
    import time

    import zmq

    from shared.zmtp import ZmtpDealer, ZmtpError

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    try:
        d = ZmtpDealer(f"tcp://127.0.0.1:{port}", timeout=5)
        big = os.urandom(3_000_000)
        d.send([b"header", b"", big])
        assert router.poll(5000)
        ident, *frames = router.recv_multipart()
        assert frames == [b"header", b"", big]
        router.send_multipart([ident, b"reply", big[:300], b"x" * 255, b"y" * 256])
        assert d.recv(5) == [b"reply", big[:300], b"x" * 255, b"y" * 256]
        t = time.monotonic()
        assert d.recv(0.3) is None                        # nothing: a timeout, not a hang
        assert 0.25 < time.monotonic() - t < 2
        router.send_multipart([ident, b"after a timeout"])
        assert d.recv(5) == [b"after a timeout"]          # nothing lost by the timeout
        d.close()
    finally:
        router.close()
        ctx.term()
    with pytest.raises(ZmtpError) as e:                   # nothing listens there any more
        ZmtpDealer(f"tcp://127.0.0.1:{port}", timeout=2)
    assert e.value.code == "no_daemon"


def test_zmtp_client_times_out_on_a_silent_server():
    import socket
    import time

    from shared.zmtp import ZmtpDealer, ZmtpError

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        t = time.monotonic()
        with pytest.raises(ZmtpError) as e:               # accepts TCP but never greets
            ZmtpDealer(f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout=0.5)
        assert e.value.code == "timeout" and time.monotonic() - t < 3
    finally:
        srv.close()


def test_zmtp_frame_encoding_matches_the_spec():
    from shared.zmtp import _frame_header, _greeting
    g = _greeting()
    assert len(g) == 64 and g[0] == 0xFF and g[9] == 0x7F and g[10] == 3 and g[12:16] == b"NULL"
    assert _frame_header(5, 1) == b"\x01\x05"
    assert _frame_header(300, 0) == b"\x02" + struct.pack(">Q", 300)


def test_a_region_laid_over_the_ones_before_takes_its_pixels_out_of_them():
    """``over``: a region laid over earlier ones is taken out of their masks (soft edges stay soft);
    without it overlapping regions keep both; anything but a bool is bad_field."""
    import numpy as np
    from daemon.service.convert import to_regions
    everywhere = MaskData(4, 2, b"\xff" * 8)
    left = MaskData(4, 2, bytes([255, 255, 128, 0] * 2))
    fields = {"content": img(4, 2), "styles": [img(4, 4), img(4, 4)],
              "regions": [{"content_mask": everywhere, "style": 0},
                          {"content_mask": left, "style": 1, "over": True}]}
    m = decode(encode("submit", fields), sender="client")
    assert [r["over"] for r in m.get("regions")] == [False, True]
    rest, sky = to_regions(m.get("regions"))
    assert np.allclose(rest.content_mask[0], [0, 0, 1 - 128 / 255, 1]) and np.allclose(sky.content_mask[0], [1, 1, 128 / 255, 0])
    fields["regions"][1]["over"] = False
    both = to_regions(decode(encode("submit", fields), sender="client").get("regions"))
    assert np.allclose(both[0].content_mask, 1.0)
    fields["regions"][1]["over"] = "yes"
    with pytest.raises(ProtocolError) as e:
        decode(encode("submit", fields), sender="client")
    assert e.value.code == "bad_field" and "over" in str(e.value)
