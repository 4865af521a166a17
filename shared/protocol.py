"""The wire protocol between the daemon and its clients (standard library only).

A message is one ZeroMQ multipart message:

    frame 0      header: UTF-8 JSON object {"v": 1, "type": ..., ..., "frames": [descriptor, ...]}
    frame 1..n   raw pixels, one frame per descriptor, in order:
                 {"kind": "rgba", "width": W, "height": H} -> W*H*4 bytes, 8-bit RGBA, row-major
                 {"kind": "mask", "width": W, "height": H} -> W*H bytes, 8-bit grey (255 = inside)

Header fields that carry an image hold the 0-based index of its descriptor. ``encode`` does this for
you: put ``ImageData`` / ``MaskData`` objects anywhere in the fields; ``decode`` validates the
message strictly and gives them back as objects at the places the message type allows.

``decode`` never raises anything but ``ProtocolError`` (whose ``code`` is stable, see ``ERROR_CODES``)
whatever bytes it is given. docs/protocol.md is the human description of all of this.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence

PROTOCOL_VERSION = 1

# Who may send what. Types that appear in both sets are a request and its reply.
CLIENT_TYPES = ("hello", "submit", "cancel", "heartbeat", "status", "stop", "estimate")
DAEMON_TYPES = ("hello", "accepted", "progress", "preview", "result", "error",
                "cancel", "heartbeat", "status", "stop", "estimate")

# Stable error codes. Protocol-level codes come from ``decode``; the others from the daemon or client.
ERROR_CODES = {
    # the message itself
    "bad_message": "the message cannot be read (no frames, header not UTF-8 JSON object, ...)",
    "bad_version": "the header's protocol version is not one this side speaks",
    "bad_type": "unknown message type, or one this side may not send",
    "bad_field": "a header field is missing, of the wrong type or out of range",
    "bad_frames": "pixel frames do not match their descriptors (count, byte length, sizes)",
    "too_large": "the message, its header or an image is over the limits announced in hello",
    "not_finite": "a number is NaN or infinite",
    # the job
    "bad_input": "the engine refused the request (an option that cannot work)",
    "empty_region": "a region's mask selects nothing",
    "out_of_memory": "the job did not fit in memory even after the fallbacks",
    "weights_unavailable": "the daemon cannot load the VGG-19 weights",
    "engine_error": "the engine failed; the daemon log has the details",
    "unknown_job": "cancel named a job this client does not have",
    "queue_full": "too many jobs are waiting",
    "busy": "this client already holds its share of the waiting places or bytes; wait for its jobs",
    "shutting_down": "the daemon is stopping and takes no new jobs",
    "internal": "a bug in the daemon; it keeps running, the log has the details",
    # the client side (never sent on the wire)
    "no_daemon": "nothing answers at the endpoint",
    "timeout": "the daemon stopped answering",
    "daemon_failed": "the daemon could not be started",
    "version_mismatch": "the daemon speaks another protocol version",
    "curve_unsupported": "the daemon needs CURVE keys, which need pyzmq",
    "bad_endpoint": "the endpoint is not tcp://HOST:PORT (port 1 to 65535) or ipc://PATH",
    "job_lost": "the daemon no longer holds the job (its client was silent past the lease, or it restarted)",
}

KINDS = {"rgba": 4, "mask": 1}


class ProtocolError(ValueError):
    """A message that breaks the protocol. ``code`` is one of ERROR_CODES; str(e) is one sentence."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What the daemon accepts; announced in its hello reply."""

    max_message_bytes: int = 1 << 30      # all frames together
    max_header_bytes: int = 1 << 20       # the JSON header frame
    max_pixels: int = 50_000_000          # per image (width * height)
    max_side: int = 16384                 # per image edge
    max_styles: int = 8
    max_regions: int = 16

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Limits":
        base = asdict(cls())
        vals = {k: d[k] for k in base if isinstance(d.get(k), int) and not isinstance(d.get(k), bool) and d[k] > 0}
        return cls(**{**base, **vals})

    @property
    def max_frames(self) -> int:
        return 2 + self.max_styles + 2 * self.max_regions  # content, init, styles, masks


DEFAULT_LIMITS = Limits()


class _Pixels:
    kind = "rgba"
    __slots__ = ("width", "height", "data")

    def __init__(self, width: int, height: int, data: Any):
        ch = KINDS[self.kind]
        if not _is_int(width) or not _is_int(height) or width < 1 or height < 1:
            raise ProtocolError("bad_field", f"{self.kind} size must be whole numbers >= 1 (got {width!r}x{height!r})")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolError("bad_field", f"{self.kind} pixels must be bytes (got {type(data).__name__})")
        n = memoryview(data).nbytes
        if n != width * height * ch:
            raise ProtocolError("bad_frames", f"{self.kind} {width}x{height} needs {width * height * ch} bytes, got {n}")
        self.width, self.height, self.data = width, height, data

    def descriptor(self) -> dict:
        return {"kind": self.kind, "width": self.width, "height": self.height}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.width}x{self.height})"

    def __eq__(self, other: Any) -> bool:
        return (type(other) is type(self) and other.width == self.width and other.height == self.height
                and bytes(other.data) == bytes(self.data))


class ImageData(_Pixels):
    """An 8-bit RGBA image: ``width``, ``height``, ``data`` (row-major bytes, len = w*h*4)."""

    kind = "rgba"
    __slots__ = ()


class MaskData(_Pixels):
    """An 8-bit grey mask: ``width``, ``height``, ``data`` (row-major bytes, len = w*h); 255 = inside."""

    kind = "mask"
    __slots__ = ()


_CLASSES = {"rgba": ImageData, "mask": MaskData}


@dataclass
class Message:
    """A decoded message: its ``type`` and header ``fields`` (frame references resolved to objects)."""

    type: str
    fields: Dict[str, Any]
    owner: Optional[str] = None        # set by the daemon on receipt: who sent it (its CURVE key or session)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


# ---- encoding -----------------------------------------------------------------------------------
def encode(type_: str, fields: Optional[dict] = None) -> List[bytes]:
    """Frames for a message: header + one raw frame per ImageData/MaskData found in ``fields``.

    Raises ProtocolError("not_finite") for NaN/inf numbers and ("bad_field") for values JSON cannot
    carry. It does not check the message type's schema; ``decode`` does (the client runs it on its
    own submit before sending, for an early clear error).
    """
    frames: List[Any] = []
    descs: List[dict] = []

    def walk(x: Any) -> Any:
        if isinstance(x, _Pixels):
            descs.append(x.descriptor())
            frames.append(x.data)
            return len(descs) - 1
        if isinstance(x, dict):
            return {str(k): walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    header = walk(dict(fields or {}))
    header.pop("frames", None)
    header = {"v": PROTOCOL_VERSION, "type": type_, **header, "frames": descs}
    try:
        text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    except ValueError as e:
        raise ProtocolError("not_finite", f"a number in the '{type_}' message is NaN or infinite") from e
    except TypeError as e:
        raise ProtocolError("bad_field", f"the '{type_}' message holds a value JSON cannot carry ({e})") from e
    return [text.encode("utf-8")] + frames


# ---- decoding -----------------------------------------------------------------------------------
class _NonFinite(Exception):
    pass


def _parse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _parse_float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise _NonFinite(s)
    return v


def _parse_int(s: str) -> int:
    if len(s) > 20:
        raise _NonFinite(s)
    return int(s)


def decode(frames: Sequence[Any], limits: Limits = DEFAULT_LIMITS, sender: str = "client") -> Message:
    """Validate and decode one multipart message sent by ``sender`` ("client" or "daemon").

    Only ever raises ProtocolError.
    """
    try:
        return _decode(frames, limits, sender)
    except ProtocolError:
        raise
    except Exception as e:  # a bug here must still be a clean protocol error for the peer
        raise ProtocolError("bad_message", f"the message cannot be read ({type(e).__name__})") from e


def _decode(frames: Sequence[Any], limits: Limits, sender: str) -> Message:
    if not isinstance(frames, (list, tuple)) or not frames:
        raise ProtocolError("bad_message", "the message has no frames")
    views = []
    for f in frames:
        if not isinstance(f, (bytes, bytearray, memoryview)):
            raise ProtocolError("bad_message", "a frame is not bytes")
        views.append(f)
    total = sum(memoryview(f).nbytes for f in views)
    if total > limits.max_message_bytes:
        raise ProtocolError("too_large", f"the message is {total} bytes; the limit is {limits.max_message_bytes}")
    raw = bytes(views[0])
    if len(raw) > limits.max_header_bytes:
        raise ProtocolError("too_large", f"the header is {len(raw)} bytes; the limit is {limits.max_header_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("bad_message", "the header frame is not UTF-8 text") from None
    try:
        header = json.loads(text, parse_constant=_parse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except _NonFinite as e:
        raise ProtocolError("not_finite", f"the header holds a number that is not finite or too long ({str(e)[:20]})") from None
    except RecursionError:
        raise ProtocolError("bad_message", "the header is nested too deeply") from None
    except ValueError:
        raise ProtocolError("bad_message", "the header frame is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_message", "the header is not a JSON object")
    v = header.get("v")
    if not _is_int(v):
        raise ProtocolError("bad_version", "the header has no protocol version ('v')")
    if v != PROTOCOL_VERSION:
        raise ProtocolError("bad_version", f"protocol version {v} is not supported (this side speaks {PROTOCOL_VERSION})")
    t = header.get("type")
    allowed = CLIENT_TYPES if sender == "client" else DAEMON_TYPES
    if not isinstance(t, str) or t not in allowed:
        raise ProtocolError("bad_type", f"unknown message type {_short(t)}")

    # frames
    descs = header.get("frames", [])
    if not isinstance(descs, list):
        raise ProtocolError("bad_frames", "'frames' must be a list of descriptors")
    if len(descs) > limits.max_frames:
        raise ProtocolError("too_large", f"{len(descs)} pixel frames; the limit is {limits.max_frames}")
    if len(descs) != len(views) - 1:
        raise ProtocolError("bad_frames", f"the header describes {len(descs)} pixel frame(s) but {len(views) - 1} came")
    pixels: List[_Pixels] = []
    for i, d in enumerate(descs):
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            raise ProtocolError("bad_frames", f"frame descriptor {i} must be {{kind: rgba|mask, width, height}}")
        w, h = d.get("width"), d.get("height")
        if not _is_int(w) or not _is_int(h) or w < 1 or h < 1:
            raise ProtocolError("bad_frames", f"frame {i} has an invalid size {_short(w)}x{_short(h)}")
        if w > limits.max_side or h > limits.max_side or w * h > limits.max_pixels:
            raise ProtocolError("too_large", f"frame {i} is {w}x{h}; the limit is {limits.max_pixels} pixels "
                                             f"and {limits.max_side} per side")
        n = memoryview(views[i + 1]).nbytes
        if n != w * h * KINDS[d["kind"]]:
            raise ProtocolError("bad_frames", f"frame {i} ({d['kind']} {w}x{h}) should be "
                                              f"{w * h * KINDS[d['kind']]} bytes but is {n}")
        pixels.append(_CLASSES[d["kind"]](w, h, views[i + 1]))

    fields = {k: val for k, val in header.items() if k not in ("v", "type", "frames")}
    ref = _Refs(pixels)
    for key in ("id", "re"):
        if key in fields and not (isinstance(fields[key], str) and len(fields[key]) <= 64 or _is_int(fields[key])):
            raise ProtocolError("bad_field", f"'{key}' must be a short string or a whole number")
    if "session" in fields and not (isinstance(fields["session"], str) and 1 <= len(fields["session"]) <= 64):
        raise ProtocolError("bad_field", "'session' must be a string of 1 to 64 characters")
    check = (_CLIENT_CHECKS if sender == "client" else _DAEMON_CHECKS).get(t)
    if check:
        check(fields, ref, limits)
    if ref.used != set(range(len(pixels))):
        raise ProtocolError("bad_frames", f"{len(pixels) - len(ref.used)} pixel frame(s) are not referenced by the header")
    return Message(t, fields)


class _Refs:
    def __init__(self, pixels: List[_Pixels]):
        self.pixels = pixels
        self.used: set = set()

    def take(self, value: Any, kind: str, what: str) -> _Pixels:
        if not _is_int(value) or not 0 <= value < len(self.pixels):
            raise ProtocolError("bad_field", f"{what} must be the index of a pixel frame (got {_short(value)})")
        p = self.pixels[value]
        if p.kind != kind:
            raise ProtocolError("bad_frames", f"{what} must be a {kind} frame, frame {value} is {p.kind}")
        if value in self.used:
            raise ProtocolError("bad_frames", f"frame {value} is referenced twice")
        self.used.add(value)
        return p


# ---- per-type checks ----------------------------------------------------------------------------
def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 40 else s[:37] + "..."


def _opt(fields: dict, key: str, test, what: str, default: Any = None) -> Any:
    if key not in fields or fields[key] is None:
        if default is not None or key in fields:   # absent optional fields stay absent
            fields[key] = default
        return default
    if not test(fields[key]):
        raise ProtocolError("bad_field", f"'{key}' must be {what} (got {_short(fields[key])})")
    return fields[key]


def _need(fields: dict, key: str, test, what: str) -> Any:
    if key not in fields:
        raise ProtocolError("bad_field", f"'{key}' is missing")
    if not test(fields[key]):
        raise ProtocolError("bad_field", f"'{key}' must be {what} (got {_short(fields[key])})")
    return fields[key]


def _short_str(n: int):
    return lambda x: isinstance(x, str) and len(x) <= n


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float)) or (isinstance(x, str) and len(x) <= 1000)


def _option_value(x: Any) -> bool:
    return _scalar(x) or (isinstance(x, list) and len(x) <= 64 and all(_scalar(v) for v in x))


def _check_submit(f: dict, ref: _Refs, limits: Limits) -> None:
    content = ref.take(_need(f, "content", _is_int, "a frame index"), "rgba", "'content'")
    f["content"] = content
    styles = _need(f, "styles", lambda x: isinstance(x, list), "a list of frame indices")
    if not 1 <= len(styles) <= limits.max_styles:
        raise ProtocolError("bad_field" if styles == [] else "too_large",
                            f"a job takes 1 to {limits.max_styles} style images (got {len(styles)})")
    f["styles"] = [ref.take(s, "rgba", f"style {i}") for i, s in enumerate(styles)]
    regions = _opt(f, "regions", lambda x: isinstance(x, list), "a list of regions", [])
    if len(regions) > limits.max_regions:
        raise ProtocolError("too_large", f"a job takes at most {limits.max_regions} regions (got {len(regions)})")
    out = []
    for i, r in enumerate(regions):
        if not isinstance(r, dict):
            raise ProtocolError("bad_field", f"region {i} must be an object")
        m = ref.take(r.get("content_mask"), "mask", f"region {i}'s content_mask")
        if (m.width, m.height) != (content.width, content.height):
            raise ProtocolError("bad_frames", f"region {i}'s content mask is {m.width}x{m.height} "
                                              f"but the content is {content.width}x{content.height}")
        s = r.get("style", 0)
        if not _is_int(s) or not 0 <= s < len(styles):
            raise ProtocolError("bad_field", f"region {i}'s style must be a style index from 0 to {len(styles) - 1} "
                                             f"(got {_short(s)})")
        sm = r.get("style_mask")
        if sm is not None:
            sm = ref.take(sm, "mask", f"region {i}'s style_mask")
            st = f["styles"][s]
            if (sm.width, sm.height) != (st.width, st.height):
                raise ProtocolError("bad_frames", f"region {i}'s style mask is {sm.width}x{sm.height} "
                                                  f"but style {s} is {st.width}x{st.height}")
        inv = r.get("invert", False)
        if not isinstance(inv, bool):
            raise ProtocolError("bad_field", f"region {i}'s invert must be true or false")
        over = r.get("over", False)
        if not isinstance(over, bool):
            raise ProtocolError("bad_field", f"region {i}'s over must be true or false")
        out.append({"content_mask": m, "style": s, "style_mask": sm, "invert": inv, "over": over})
    f["regions"] = out
    init = f.get("init")
    if isinstance(init, str):   # "last": the daemon's last result for this content (docs/protocol.md)
        if init != "last":
            raise ProtocolError("bad_field", f"'init' must be an image frame index or \"last\" (got {_short(init)})")
    elif init is not None:
        init = ref.take(init, "rgba", "'init'")
        if (init.width, init.height) != (content.width, content.height):
            raise ProtocolError("bad_frames", f"the init image is {init.width}x{init.height} "
                                              f"but the content is {content.width}x{content.height}")
    f["init"] = init
    opts = _opt(f, "options", lambda x: isinstance(x, dict), "an object", {})
    if len(opts) > 64:
        raise ProtocolError("too_large", "too many options")
    for k, val in opts.items():
        if len(k) > 64 or not _option_value(val):
            raise ProtocolError("bad_field", f"option {_short(k)} must be a number, text, true/false or a short list")
    f["options"] = dict(opts)
    _opt(f, "preview", lambda x: isinstance(x, bool), "true or false", False)
    _opt(f, "preview_every", lambda x: _is_num(x) and 0.1 <= x <= 3600, "seconds between 0.1 and 3600")
    _opt(f, "preview_size", lambda x: _is_int(x) and 16 <= x <= 4096, "a long edge between 16 and 4096")
    _opt(f, "label", _short_str(200), "a short text")
    _opt(f, "memory_budget", lambda x: _is_int(x) and (1 << 20) <= x <= (1 << 50),
         "a whole number of bytes, at least 1 MiB")


def _check_job(f: dict, ref: _Refs, limits: Limits) -> None:
    _need(f, "job", _short_str(64), "a job id")


def _check_hello_request(f: dict, ref: _Refs, limits: Limits) -> None:
    _opt(f, "client", _short_str(200), "a short text")


def _check_hello_reply(f: dict, ref: _Refs, limits: Limits) -> None:
    _need(f, "protocol", _is_int, "a whole number")
    _need(f, "daemon_version", _short_str(64), "a version text")
    _need(f, "device", _short_str(200), "a device name")
    _need(f, "limits", lambda x: isinstance(x, dict), "an object")
    _opt(f, "speed", lambda x: isinstance(x, dict) and _is_num(x.get("s_per_step_per_mp")), "an object with a rate")


def _check_estimate_request(f: dict, ref: _Refs, limits: Limits) -> None:
    """How long would a job take here? The content's size, the submit's options, and the time the
    caller hopes for (``target_s``, default 60 s: the largest size that fits is in the reply)."""
    _need(f, "width", lambda x: _is_int(x) and 1 <= x <= 1 << 20, "a width in pixels")
    _need(f, "height", lambda x: _is_int(x) and 1 <= x <= 1 << 20, "a height in pixels")
    _opt(f, "options", lambda x: isinstance(x, dict) and all(_option_value(v) for v in x.values()),
         "an object of option values", {})
    _opt(f, "target_s", lambda x: _is_num(x) and 1 <= x <= 1e6, "seconds between 1 and 1e6", 60.0)


def _check_estimate_reply(f: dict, ref: _Refs, limits: Limits) -> None:
    """``seconds`` for the job as asked (null before the daemon measured its speed), ``size`` the long
    edge it would compute; what Detail: Auto runs: ``fit_size`` the content's own long edge, in
    ``fit_quality`` (the best preset up to the one asked that takes about ``target_s`` or less; the
    preview preset where none does) taking ``fit_seconds`` (null when the speed is unknown)."""
    _need(f, "device", _short_str(200), "a device name")
    _opt(f, "seconds", lambda x: _is_num(x) and x >= 0, "seconds >= 0")
    _opt(f, "size", lambda x: _is_int(x) and x >= 0, "a long edge in pixels")
    _opt(f, "fit_size", lambda x: _is_int(x) and x >= 0, "a long edge in pixels")
    _opt(f, "fit_seconds", lambda x: _is_num(x) and x >= 0, "seconds >= 0")
    _opt(f, "fit_quality", _short_str(40), "a quality preset's name")
    _opt(f, "target_s", _is_num, "seconds")


def _check_accepted(f: dict, ref: _Refs, limits: Limits) -> None:
    _check_job(f, ref, limits)
    _need(f, "position", lambda x: _is_int(x) and x >= 0, "a whole number >= 0")


def _check_progress(f: dict, ref: _Refs, limits: Limits) -> None:
    _check_job(f, ref, limits)
    for k in ("step", "total", "level", "levels", "done", "job_total", "position", "tile", "tiles"):
        _opt(f, k, lambda x: _is_int(x) and x >= 0, "a whole number >= 0")
    _opt(f, "eta_s", lambda x: _is_num(x) and x >= 0, "seconds >= 0")
    _opt(f, "estimate_s", lambda x: _is_num(x) and x >= 0, "seconds >= 0")   # the whole job, before it starts
    _opt(f, "losses", lambda x: isinstance(x, dict) and all(_is_num(v) for v in x.values()), "numbers", {})
    _opt(f, "message", _short_str(2000), "a text")


def _check_image_msg(f: dict, ref: _Refs, limits: Limits) -> None:
    _check_job(f, ref, limits)
    f["image"] = ref.take(_need(f, "image", _is_int, "a frame index"), "rgba", "'image'")


def _check_result(f: dict, ref: _Refs, limits: Limits) -> None:
    _check_image_msg(f, ref, limits)
    _opt(f, "cancelled", lambda x: isinstance(x, bool), "true or false", False)
    _opt(f, "report", lambda x: isinstance(x, dict), "an object", {})


def _check_error(f: dict, ref: _Refs, limits: Limits) -> None:
    _need(f, "code", _short_str(64), "an error code")
    _need(f, "message", _short_str(4000), "a text")
    _opt(f, "job", _short_str(64), "a job id")


def _check_cancel_reply(f: dict, ref: _Refs, limits: Limits) -> None:
    _check_job(f, ref, limits)
    _opt(f, "found", lambda x: isinstance(x, bool), "true or false", False)


def _check_heartbeat_reply(f: dict, ref: _Refs, limits: Limits) -> None:
    _opt(f, "jobs", lambda x: isinstance(x, list) and all(_short_str(64)(j) for j in x), "a list of job ids")
    _opt(f, "pid", lambda x: _is_int(x) and x > 0, "a process id")


_CLIENT_CHECKS = {
    "hello": _check_hello_request,
    "submit": _check_submit,
    "cancel": _check_job,
    "estimate": _check_estimate_request,
}
_DAEMON_CHECKS = {
    "hello": _check_hello_reply,
    "accepted": _check_accepted,
    "progress": _check_progress,
    "preview": _check_image_msg,
    "result": _check_result,
    "error": _check_error,
    "cancel": _check_cancel_reply,
    "heartbeat": _check_heartbeat_reply,
    "estimate": _check_estimate_reply,
}


def error_frames(code: str, message: str, job: Optional[str] = None, re: Any = None) -> List[bytes]:
    """The frames of an error reply."""
    fields: Dict[str, Any] = {"code": code, "message": message}
    if job is not None:
        fields["job"] = job
    if re is not None:
        fields["re"] = re
    return encode("error", fields)


# ---- endpoints ----------------------------------------------------------------------------------
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
ENDPOINT_ENV = "NEURAL_STYLE_ENDPOINT"


def default_endpoint() -> str:
    """``$NEURAL_STYLE_ENDPOINT`` or tcp://127.0.0.1:5557."""
    import os
    return os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT


def endpoint_host(endpoint: str) -> str:
    """The host part of tcp://HOST:PORT ('' for ipc:// and inproc://)."""
    if not endpoint.startswith("tcp://"):
        return ""
    host = endpoint[len("tcp://"):].rpartition(":")[0]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for endpoints only this machine can reach: tcp on 127.x.x.x / localhost / ::1, ipc://."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint_host(endpoint)
    if host in ("localhost", "::1"):
        return True
    parts = host.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)


class EndpointError(ProtocolError):
    """An endpoint string that cannot work; ``code`` is "bad_endpoint", str(e) one sentence."""

    def __init__(self, message: str):
        super().__init__("bad_endpoint", message)


_ENDPOINT_FORMS = "tcp://HOST:PORT (e.g. tcp://127.0.0.1:5557) or ipc://PATH"
_HOST_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _ipc_path_limit() -> int:
    """Longest ipc:// path in bytes (the size of sockaddr_un.sun_path less its NUL)."""
    import sys
    return 107 if sys.platform.startswith("linux") else 103


def validate_endpoint(endpoint: Any, bind: bool = False) -> str:
    """Return ``endpoint`` when it is one the daemon can bind and a client can connect to; otherwise
    raise EndpointError (code "bad_endpoint") with one sentence saying what is wrong.

    Accepted: ``tcp://HOST:PORT`` with PORT a whole number from 1 to 65535 and HOST an IPv4 address,
    a host name, or an IPv6 address in brackets (``tcp://[::1]:5557``); ``*`` as HOST only when
    ``bind`` (all interfaces). ``ipc://PATH`` with a non-empty PATH short enough for a Unix socket.
    Anything else (another scheme, no port, port 0 or out of range, a port that is not a number)
    is refused: ZeroMQ would otherwise bind another port than the one asked for, or fail later with
    a less helpful message.
    """
    import ipaddress

    if not isinstance(endpoint, str) or not endpoint.strip():
        raise EndpointError(f"the endpoint is empty; write {_ENDPOINT_FORMS}")
    shown = _short(endpoint)
    if any(ord(c) < 32 or ord(c) == 127 for c in endpoint):
        raise EndpointError(f"the endpoint {shown} holds control characters; write {_ENDPOINT_FORMS}")
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        raise EndpointError(f"{shown} is not an endpoint; write {_ENDPOINT_FORMS}")
    if scheme == "ipc":
        limit = _ipc_path_limit()
        if not rest:
            raise EndpointError(f"the endpoint {shown} has no path; write ipc://PATH (e.g. ipc:///tmp/neural-style)")
        if len(rest.encode("utf-8", "surrogatepass")) > limit:
            raise EndpointError(f"the ipc path in {shown} is longer than the {limit} bytes a Unix socket allows; "
                                f"use a shorter path")
        return endpoint
    if scheme != "tcp":
        raise EndpointError(f"the endpoint {shown} uses the scheme {scheme!r}; write {_ENDPOINT_FORMS}")
    host, sep, port = rest.rpartition(":")
    if not sep:
        raise EndpointError(f"the endpoint {shown} has no port; write tcp://HOST:PORT (e.g. tcp://127.0.0.1:5557)")
    if not port.isascii() or not port.isdigit():
        raise EndpointError(f"the port {_short(port)} in {shown} is not a whole number; "
                            f"write tcp://HOST:PORT with a port from 1 to 65535")
    if not 1 <= int(port) <= 65535:
        raise EndpointError(f"the port {int(port)} in {shown} is out of range; ports go from 1 to 65535")
    if not host:
        raise EndpointError(f"the endpoint {shown} has no host; write tcp://HOST:PORT (e.g. tcp://127.0.0.1:{port})")
    if host == "*":
        if not bind:
            raise EndpointError(f"a client cannot connect to {shown} ('*' means every interface, for serve only); "
                                f"name the daemon's host (e.g. tcp://127.0.0.1:{port})")
        return endpoint
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise EndpointError(f"{_short(host)} in {shown} is not an IPv6 address") from None
        return endpoint
    if ":" in host:
        raise EndpointError(f"write an IPv6 host in brackets: tcp://[{host}]:{port}")
    labels = host.split(".")
    if all(p.isascii() and p.isdigit() for p in labels):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise EndpointError(f"{_short(host)} in {shown} is not an IPv4 address") from None
        return endpoint
    if len(host) > 253 or not all(0 < len(p) <= 63 and set(p) <= _HOST_LABEL_CHARS
                                  and not p.startswith("-") and not p.endswith("-") for p in labels):
        raise EndpointError(f"{_short(host)} in {shown} is not a host name or address")
    return endpoint
