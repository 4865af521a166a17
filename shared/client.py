"""The daemon's client, used by the command line and the GIMP plug-in (standard library only).

    from shared.client import DaemonClient, DaemonError, ImageData, MaskData, ensure_daemon
    info = ensure_daemon(endpoint, python_executable)           # starts the daemon if none answers
    c = DaemonClient(endpoint="tcp://127.0.0.1:5557", timeout=10.0)
    job = c.submit(content=img, styles=[img], regions=[{"content_mask": mask, "style": 0}],
                   options={"quality": "standard"}, preview=True)
    for ev in c.events(job):          # accepted, progress, preview, result | error
        ...
    c.close()

pyzmq is used when it can be imported; otherwise ``shared.zmtp`` (a standard-library ZMTP client).
``NEURAL_STYLE_TRANSPORT=zmtp`` forces the latter. While ``events`` waits it sends a heartbeat every
second: the daemon drops the jobs of a client that stays silent for a few seconds (a plug-in that
GIMP killed). The daemon's heartbeat reply lists the ids of the jobs it still holds for this client;
a job missing from it (dropped after the client was paused past the lease, or a restarted daemon
answering) ends ``events`` with DaemonError("job_lost"), and so does a broken connection or another
daemon process answering: ``events`` never waits forever.

Every failure is a ``DaemonError`` with a stable ``code`` (see ``shared.protocol.ERROR_CODES``) and
``message``, one sentence a person can act on.
"""
from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from .paths import default_log_path, session_token
from .protocol import (DEFAULT_LIMITS, PROTOCOL_VERSION, EndpointError, ImageData, Limits, MaskData, Message,
                       ProtocolError, decode, default_endpoint, encode, endpoint_host, is_loopback_endpoint,
                       validate_endpoint)
from .zmtp import ZmtpDealer, ZmtpError

__all__ = ["DaemonClient", "DaemonError", "ImageData", "MaskData", "ensure_daemon", "default_endpoint",
           "pyzmq_available"]

HEARTBEAT_INTERVAL = 1.0
# A job missing from heartbeat replies for this long (and from at least two of them) is lost: the
# daemon may answer a heartbeat just after the job ended but before its result went out.
LOST_GRACE = 1.5
CURVE_ENV = "NEURAL_STYLE_CURVE_KEYS"
TRANSPORT_ENV = "NEURAL_STYLE_TRANSPORT"
# What a reply may be: the daemon is trusted a little more than a client (bigger results).
_REPLY_LIMITS = Limits(max_message_bytes=1 << 34, max_header_bytes=16 << 20, max_pixels=1 << 30,
                       max_side=1 << 16)


class DaemonError(Exception):
    """Talking to the daemon failed. ``code``: stable string; ``message`` (and str()): one sentence."""

    def __init__(self, code: str, message: Optional[str] = None):
        if message is None:            # DaemonError("a sentence"): a generic code
            code, message = "internal", code
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def pyzmq_available() -> bool:
    try:
        import zmq  # noqa: F401  (only whether it imports)
        return True
    except Exception:
        return False


# ---- transports -----------------------------------------------------------------------------------
class _PyzmqTransport:
    name = "pyzmq"

    def __init__(self, endpoint: str, curve_keys: Optional[str]):
        import zmq
        self._zmq = zmq
        self._sock = zmq.Context.instance().socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)   # queue only on a live connection: no daemon = no POLLOUT
        if ":" in endpoint_host(endpoint):
            self._sock.setsockopt(zmq.IPV6, 1)
        if curve_keys:
            _apply_curve(self._sock, curve_keys)
        self._sock.connect(endpoint)

    broken = False   # libzmq reconnects by itself; a lost job shows in the heartbeat replies

    def send(self, frames: Sequence, timeout: float) -> bool:
        if not self._sock.poll(int(timeout * 1000), self._zmq.POLLOUT):
            return False
        self._sock.send_multipart(list(frames), copy=False)
        return True

    def recv(self, timeout: float) -> Optional[List[bytes]]:
        if not self._sock.poll(int(max(0.0, timeout) * 1000), self._zmq.POLLIN):
            return None
        return self._sock.recv_multipart()

    def close(self) -> None:
        self._sock.close(0)


def _apply_curve(sock: Any, keys_dir: str) -> None:
    import zmq.auth
    d = Path(keys_dir)
    try:
        server_public, _ = zmq.auth.load_certificate(str(d / "server.key"))
        client_public, client_secret = zmq.auth.load_certificate(str(d / "client.key_secret"))
    except (OSError, ValueError) as e:
        raise DaemonError("no_daemon", f"cannot read the CURVE keys in {d} ({e}); copy server.key and "
                                       f"client.key_secret from the daemon's --curve-keys folder") from None
    sock.curve_serverkey = server_public
    sock.curve_publickey = client_public
    sock.curve_secretkey = client_secret


class _ZmtpTransport:
    name = "zmtp"

    def __init__(self, endpoint: str, timeout: float):
        self._endpoint, self._timeout = endpoint, timeout
        self._conn: Optional[ZmtpDealer] = None
        self.broken = False   # a connection that was up broke: the daemon forgot this client's jobs

    def _connected(self) -> ZmtpDealer:
        if self._conn is None:
            try:
                self._conn = ZmtpDealer(self._endpoint, timeout=self._timeout)
            except ZmtpError as e:
                raise DaemonError(e.code, e.message) from None
            self.broken = False
        return self._conn

    def send(self, frames: Sequence, timeout: float) -> bool:
        conn = self._connected()
        try:
            conn.send(frames, timeout=timeout)
        except ZmtpError as e:
            self._conn, self.broken = None, True
            raise DaemonError(e.code, e.message) from None
        return True

    def recv(self, timeout: float) -> Optional[List[bytes]]:
        conn = self._connected()
        try:
            return conn.recv(timeout)
        except ZmtpError as e:
            self._conn, self.broken = None, True
            raise DaemonError(e.code, e.message) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---- the client -----------------------------------------------------------------------------------
class DaemonClient:
    """One connection to the daemon. Not thread-safe: use it from one thread."""

    def __init__(self, endpoint: Optional[str] = None, timeout: float = 10.0, transport: Optional[str] = None,
                 curve_keys: Optional[str] = None, heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 session: Optional[str] = None):
        self.endpoint = _checked_endpoint(endpoint or default_endpoint())
        self.session = session or session_token()   # whose kept results and jobs these are (shared.paths)
        self.timeout = float(timeout)
        self.heartbeat_interval = heartbeat_interval
        self.limits: Limits = DEFAULT_LIMITS
        curve_keys = curve_keys or os.environ.get(CURVE_ENV) or None
        choice = transport or os.environ.get(TRANSPORT_ENV) or "auto"
        if choice not in ("auto", "pyzmq", "zmtp"):
            raise DaemonError("no_daemon", f"unknown transport {choice!r} (auto, pyzmq or zmtp)")
        if choice == "auto":
            choice = "pyzmq" if pyzmq_available() else "zmtp"
        if curve_keys and choice != "pyzmq":
            raise DaemonError("curve_unsupported", "CURVE keys need pyzmq, which this Python cannot import")
        self._t = _PyzmqTransport(self.endpoint, curve_keys) if choice == "pyzmq" else \
            _ZmtpTransport(self.endpoint, self.timeout)
        self.transport = choice
        self._ids = itertools.count(1)
        self._pending: List[Message] = []
        self._answered = False      # has the daemon ever answered this client?
        self._last_sent = 0.0
        self.daemon_pid: Optional[int] = None   # from hello or a heartbeat reply: a new one = a restart
        self._lease: Optional[float] = None     # the daemon's lease_s, from hello
        self._longest_silence = 0.0             # longest time without sending since the last submit

    # ---- plumbing ------------------------------------------------------------------------------
    def _send(self, type_: str, fields: Dict[str, Any], frames: Optional[list] = None) -> None:
        frames = frames if frames is not None else _encode(type_, {**fields, "session": self.session})
        size = sum(memoryview(f).nbytes for f in frames)
        send_timeout = self.timeout + size / 20e6          # slow links: allow 20 MB/s
        start = time.monotonic()
        if self._last_sent:   # time this client sent nothing, not counting a wait for the connection
            self._longest_silence = max(self._longest_silence, start - self._last_sent)
        if not self._t.send(frames, send_timeout):
            raise self._silent_error()
        self._last_sent = time.monotonic()

    def _silent_error(self) -> DaemonError:
        if self._answered:
            return DaemonError("timeout", f"the daemon at {self.endpoint} stopped answering; "
                                          f"`python -m daemon status` tells whether it still runs")
        return DaemonError("no_daemon", f"no daemon answers at {self.endpoint}; start it with "
                                        f"`python -m daemon serve` (the plug-in and `stylize` start it themselves)")

    def _recv(self, timeout: float) -> Optional[Message]:
        frames = self._t.recv(timeout)
        if frames is None:
            return None
        self._answered = True
        try:
            return decode(frames, _REPLY_LIMITS, sender="daemon")
        except ProtocolError as e:
            if e.code == "bad_version":
                raise DaemonError("version_mismatch", f"the daemon at {self.endpoint} speaks another protocol "
                                                      f"version ({e.message}); update both (run install.py again) "
                                                      f"and restart the daemon with `python -m daemon stop`") from None
            raise DaemonError(e.code, f"the daemon sent a message this client cannot read: {e.message}") from None

    def _heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_sent >= self.heartbeat_interval:
            self._send("heartbeat", {})

    def _request(self, type_: str, fields: Dict[str, Any], timeout: Optional[float] = None,
                 frames: Optional[list] = None, rid: Optional[int] = None) -> Message:
        """Send a request (``frames`` already encoded with ``"id": rid``, or built here) and wait for
        its reply; messages of jobs that arrive meanwhile are kept for events()."""
        if rid is None:
            rid = next(self._ids)
        if frames is None:
            frames = _encode(type_, {**fields, "id": rid, "session": self.session})
        self._send(type_, fields, frames)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self._pending):
                if m.get("re") == rid:
                    del self._pending[i]
                    return _raise_if_error(m)
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._silent_error()
            m = self._recv(min(left, self.heartbeat_interval))
            if m is None:
                self._heartbeat_if_due()
                continue
            if m.get("re") == rid:
                return _raise_if_error(m)
            if m.get("job") is not None:
                self._pending.append(m)   # a job's message: kept for events()

    # ---- the API -------------------------------------------------------------------------------
    def hello(self, client: str = "neural-style client") -> dict:
        """Versions, device, limits. Raises DaemonError(no_daemon | version_mismatch | timeout)."""
        m = self._request("hello", {"client": client})
        info = _fields(m)
        if info.get("protocol") != PROTOCOL_VERSION:
            raise DaemonError("version_mismatch", f"the daemon speaks protocol {info.get('protocol')}, this client "
                                                  f"{PROTOCOL_VERSION}; update both and restart the daemon")
        self.limits = Limits.from_dict(info.get("limits") or {})
        pid, lease = info.get("pid"), info.get("lease_s")
        if isinstance(pid, int) and not isinstance(pid, bool):
            self.daemon_pid = pid
        if isinstance(lease, (int, float)) and not isinstance(lease, bool) and lease > 0:
            self._lease = float(lease)
        return info

    def submit(self, content: ImageData, styles: Sequence[ImageData], regions: Optional[Sequence[dict]] = None,
               options: Optional[dict] = None, init: Optional[ImageData] = None, preview: bool = False,
               preview_every: Optional[float] = None, preview_size: Optional[int] = None,
               label: Optional[str] = None, memory_budget: Optional[int] = None) -> str:
        """Send a job; returns its id once the daemon accepted it (events() then yields 'accepted' first).

        regions: [{"content_mask": MaskData (content's size), "style": index, "style_mask": MaskData of
        that style's size or None, "invert": bool, "over": bool (laid over the regions before it)}];
        none = the whole image. options: TransferOptions
        fields plus "quality" (a preset name); "size": 0 = the content's long edge.
        """
        regs = []
        for r in regions or []:
            regs.append({"content_mask": r.get("content_mask"), "style": r.get("style", 0),
                         "style_mask": r.get("style_mask"), "invert": bool(r.get("invert", False)),
                         "over": bool(r.get("over", False))})
        fields: Dict[str, Any] = {"content": content, "styles": list(styles), "regions": regs,
                                  "init": init, "options": dict(options or {}), "preview": bool(preview)}
        if preview_every is not None:
            fields["preview_every"] = preview_every
        if preview_size is not None:
            fields["preview_size"] = preview_size
        if label is not None:
            fields["label"] = label
        if memory_budget is not None:    # bytes this job may use (the daemon's own budget still caps it)
            fields["memory_budget"] = memory_budget
        rid = next(self._ids)
        frames = _encode("submit", {**fields, "id": rid, "session": self.session})
        try:   # the daemon would refuse it; say so before sending megabytes
            decode(frames, self.limits, sender="client")
        except ProtocolError as e:
            raise DaemonError(e.code, e.message) from None
        size_s = sum(memoryview(f).nbytes for f in frames) / 20e6
        m = self._request("submit", {}, timeout=self.timeout + size_s, frames=frames, rid=rid)
        self._longest_silence = 0.0
        if m.type != "accepted":
            raise DaemonError("internal", f"the daemon answered a submit with '{m.type}'")
        self._pending.insert(0, m)
        return m.fields["job"]

    def events(self, job: str, timeout: Optional[float] = None) -> Iterator[dict]:
        """Yield the job's events as dicts until its 'result' or 'error' (then stop).

        ``timeout``: the longest silence from the daemon tolerated (it answers each heartbeat, so
        silence means it is gone); default max(timeout, 10) seconds. preview/result carry "image".

        Never waits forever: DaemonError("job_lost") when the daemon's heartbeat replies stop listing
        the job (it dropped it: this client was silent longer than the lease, e.g. paused, or the
        daemon restarted), when another daemon process answers, or when the connection breaks;
        DaemonError("timeout") after ``timeout`` seconds of silence.
        """
        silence = max(self.timeout, 10.0) if timeout is None else timeout
        last_heard = time.monotonic()
        missing_since: Optional[float] = None   # when heartbeat replies stopped listing the job
        missing_replies = 0
        while True:
            for i, m in enumerate(self._pending):
                if m.get("job") == job and m.type in ("accepted", "progress", "preview", "result", "error"):
                    del self._pending[i]
                    ev = {"type": m.type, **m.fields}
                    yield ev
                    if m.type in ("result", "error"):
                        return
                    break
            else:
                try:
                    self._heartbeat_if_due()
                    m = self._recv(min(self.heartbeat_interval, 0.25 + self.heartbeat_interval / 2))
                except DaemonError as e:
                    if e.code == "timeout" and self._t.broken:
                        raise self._lost(job, f"the connection to the daemon at {self.endpoint} broke during "
                                              f"job {job} (the daemon stopped or restarted)") from None
                    raise
                now = time.monotonic()
                if m is None:
                    if now - last_heard > silence:
                        raise DaemonError("timeout", f"the daemon at {self.endpoint} stopped answering during "
                                                     f"job {job} (nothing for {silence:.0f} s); "
                                                     f"`python -m daemon status` tells whether it runs")
                    continue
                last_heard = now
                if m.get("job") is not None and m.type != "cancel":
                    self._pending.append(m)
                elif m.type == "error" and m.get("re") is None:
                    # an error not tied to a request or job (e.g. the daemon stopping)
                    yield {"type": "error", "job": job, **m.fields}
                    return
                elif m.type == "heartbeat":
                    self._check_restart(m, job)
                    held = m.get("jobs")
                    if not isinstance(held, list) or job in held:
                        missing_since, missing_replies = None, 0
                        continue
                    missing_since = now if missing_since is None else missing_since
                    missing_replies += 1
                    if missing_replies >= 2 and now - missing_since >= LOST_GRACE:
                        raise self._lost(job, self._why_missing(job))

    def _check_restart(self, m: Message, job: str) -> None:
        """A heartbeat reply from another daemon process than the one that took the job: it is lost."""
        pid = m.get("pid")
        if not isinstance(pid, int):
            return
        if self.daemon_pid is None:
            self.daemon_pid = pid
        elif pid != self.daemon_pid:
            old, self.daemon_pid = self.daemon_pid, pid
            raise self._lost(job, f"the daemon at {self.endpoint} restarted (process {old}, now {pid}), "
                                  f"and job {job} ended with the old one")

    def _why_missing(self, job: str) -> str:
        gap, lease = self._longest_silence, self._lease
        head = f"the daemon at {self.endpoint} no longer holds job {job}"
        if lease is not None and gap > lease:
            return (f"{head}: this client was silent for {gap:.0f} s (paused or suspended?), longer than the "
                    f"daemon's lease of {lease:g} s, so the daemon dropped it")
        if lease is not None:
            return f"{head}: the daemon restarted, or dropped it for another reason (see its log)"
        return (f"{head}: it dropped it, because this client was silent longer than the daemon's lease "
                f"(paused or suspended?) or because the daemon restarted")

    def _lost(self, job: str, why: str) -> DaemonError:
        return DaemonError("job_lost", f"{why}; the job is lost, run it again")

    def cancel(self, job: str) -> dict:
        """Ask the daemon to stop the job; it then sends the job's result (cancelled, current image)."""
        return _fields(self._request("cancel", {"job": job}))

    def heartbeat(self) -> dict:
        return _fields(self._request("heartbeat", {}))

    def status(self) -> dict:
        return _fields(self._request("status", {}))

    def estimate(self, width: int, height: int, options: Optional[Dict[str, Any]] = None,
                 target_s: float = 60.0) -> dict:
        """How long a job on content of ``width``×``height`` with ``options`` would take on the
        daemon's device, from its measured speed: {"device", "seconds" (None until measured),
        "size" (the long edge computed), "fit_size" (the largest long edge that takes about
        ``target_s`` or less), "fit_seconds", "target_s"}. Nothing is queued."""
        return _fields(self._request("estimate", {"width": int(width), "height": int(height),
                                                  "options": dict(options or {}), "target_s": float(target_s)}))

    def stop(self) -> dict:
        """Stop the daemon (running jobs end with their current image)."""
        return _fields(self._request("stop", {}))

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> "DaemonClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _encode(type_: str, fields: Dict[str, Any]) -> list:
    try:
        return encode(type_, fields)
    except ProtocolError as e:
        raise DaemonError(e.code, e.message) from None


def _checked_endpoint(endpoint: str) -> str:
    try:
        return validate_endpoint(endpoint)
    except EndpointError as e:
        raise DaemonError(e.code, e.message) from None


def _fields(m: Message) -> dict:
    return {k: v for k, v in m.fields.items() if k != "re"}


def _raise_if_error(m: Message) -> Message:
    if m.type == "error":
        raise DaemonError(m.fields.get("code", "internal"), m.fields.get("message", "the daemon failed"))
    return m


# ---- starting the daemon --------------------------------------------------------------------------
def _tcp_refused(endpoint: str, timeout: float = 0.5) -> bool:
    """True when a tcp endpoint certainly has nothing listening (connection refused)."""
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint_host(endpoint)
    try:
        port = int(endpoint.rpartition(":")[2])
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False


def _probe(endpoint: str, timeout: float, curve_keys: Optional[str] = None) -> Optional[dict]:
    if _tcp_refused(endpoint):
        return None
    try:
        with DaemonClient(endpoint, timeout=timeout, curve_keys=curve_keys) as c:
            return c.hello()
    except DaemonError as e:
        if e.code in ("no_daemon", "timeout"):
            return None
        raise


def _project_root() -> Optional[Path]:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "daemon" / "__init__.py").is_file() else None


def start_daemon(endpoint: str, python_executable: Optional[str] = None, log_path: Optional[str] = None,
                 extra_args: Sequence[str] = ()) -> subprocess.Popen:
    """Start ``python -m daemon serve`` detached (its own session: it outlives the caller)."""
    python = python_executable or sys.executable
    log = Path(log_path) if log_path else default_log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "daemon", "serve", "--endpoint", endpoint, "--log", str(log), *extra_args]
    env = dict(os.environ)
    root = _project_root()
    if root is not None:   # run from a checkout: make `daemon` importable whatever the cwd
        env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    kwargs: Dict[str, Any] = {}
    if sys.platform.startswith("win"):
        kwargs["creationflags"] = (getattr(subprocess, "DETACHED_PROCESS", 0x8)
                                   | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200))
    else:
        kwargs["start_new_session"] = True
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                cwd=str(root) if root else None, close_fds=True, **kwargs)
    _started.append(proc)   # keep a reference: no "still running" warning when the caller exits
    return proc


_started: List[subprocess.Popen] = []


def _log_tail(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def same_install(info: dict, install: Optional[str], endpoint: str) -> dict:
    """``info`` (a daemon's hello) when the daemon runs from ``install`` (or either side does not say);
    else DaemonError("foreign_daemon") naming both installations and what to do."""
    theirs = info.get("install")
    if install and theirs and os.path.realpath(theirs) != os.path.realpath(install):
        raise DaemonError("foreign_daemon", f"the daemon at {endpoint} belongs to another installation "
                                            f"({theirs}, version {info.get('daemon_version')}), not {install}: stop "
                                            f"it (`python -m daemon stop --endpoint {endpoint}`) or use another "
                                            f"endpoint")
    return info


def ensure_daemon(endpoint: Optional[str] = None, python_executable: Optional[str] = None, timeout: float = 60.0,
                  log_path: Optional[str] = None, extra_args: Sequence[str] = (),
                  curve_keys: Optional[str] = None, install: Optional[str] = None) -> dict:
    """Return the hello info of the daemon at ``endpoint``, starting one (detached) if none answers.
    ``install``: the project folder this client belongs to; a daemon that says it runs from another
    one is not used (``foreign_daemon``): its results, paths and version are another installation's.

    Raises DaemonError("daemon_failed" | "no_daemon" | "version_mismatch" | "foreign_daemon", a
    sentence to act on).
    """
    endpoint = _checked_endpoint(endpoint or default_endpoint())
    info = _probe(endpoint, 2.0, curve_keys)
    if info is not None:
        return same_install(info, install, endpoint)
    if not is_loopback_endpoint(endpoint):
        raise DaemonError("no_daemon", f"no daemon answers at {endpoint}; it is on another machine, so start it "
                                       f"there (`python -m daemon serve --endpoint ... --curve-keys DIR`)")
    python = python_executable or sys.executable
    if not Path(python).exists():
        raise DaemonError("daemon_failed", f"the daemon's Python {python} does not exist; run install.py again")
    log = Path(log_path) if log_path else default_log_path()
    try:
        proc = start_daemon(endpoint, python, str(log), extra_args)
    except OSError as e:
        raise DaemonError("daemon_failed", f"cannot start the daemon with {python} ({e})") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _probe(endpoint, 1.0, curve_keys)
        if info is not None:
            return same_install(info, install, endpoint)
        if proc.poll() is not None:
            info = _probe(endpoint, 1.0, curve_keys)   # another client may have started one first
            if info is not None:
                return same_install(info, install, endpoint)
            raise DaemonError("daemon_failed", f"the daemon exited at start: {_log_tail(log) or 'no message'} "
                                               f"(log: {log})")
        time.sleep(0.2)
    raise DaemonError("daemon_failed", f"the daemon did not answer within {timeout:.0f} s at {endpoint}; "
                                       f"its log is {log}")
