"""The daemon: a ZeroMQ ROUTER in the main thread, the engine in one worker thread.

Main thread (``Server.run``): receives and validates every message (``shared.protocol.decode``),
passes it to one handler per type (``on_hello``, ``on_status``, ``on_heartbeat``, ``on_cancel``,
``on_stop``, ``on_submit``), drops the jobs of clients whose lease ran out (``sessions``), forwards
what the worker sends, and exits on stop, SIGTERM/SIGINT or after ``idle_exit`` seconds without
work. A bad message gets an error reply and nothing else happens: no client can bring it down.

The parts it uses: ``jobs`` (the job queue, the one record of the jobs held), ``sessions`` (client
leases), ``worker`` (the engine thread: memory plan, progress, previews, result), ``memory`` (the
memory plan and out-of-memory policy).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, List, Optional

import zmq

from shared.paths import default_log_path
from shared.protocol import (DEFAULT_ENDPOINT, DEFAULT_LIMITS, PROTOCOL_VERSION, Limits, ProtocolError, decode, encode,
                             endpoint_host, error_frames, is_loopback_endpoint)

from .. import __version__
from .. import engine
from ..engine import TargetCache, resolve_device
from .convert import json_safe
from .jobs import Job, JobQueue, clean_label, new_job_id
from .memory import memory_status
from .results import DEFAULT_KEEP_BYTES, ResultStore
from .sessions import Sessions
from .worker import Worker

NOMINAL_STYLE = (768, 1024)   # an estimate's style image (not sent): the size of a gallery painting
log = logging.getLogger("neural_style.daemon")


class ServeError(Exception):
    """The daemon cannot start as asked; one sentence."""


@dataclass
class ServeConfig:
    endpoint: str = DEFAULT_ENDPOINT
    device: str = "auto"
    weights: str = "original"
    pooling: str = "avg"
    idle_exit: float = 0.0            # seconds without work before exiting (0 = never)
    curve_keys: Optional[str] = None  # folder with CURVE keys (created when missing)
    lease: float = 5.0                # a client silent this long has its jobs dropped
    preview_every: float = 1.0        # fewest seconds between two previews of a job
    preview_size: int = 256           # long edge of previews
    progress_every: float = 0.1       # fewest seconds between two progress messages
    log_path: Optional[str] = None
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)
    cache_bytes: int = 2 << 30
    max_waiting: int = 32
    memory_budget: Optional[int] = None   # bytes a job may use (a cap on every device); None = free memory
    max_queued_bytes: Optional[int] = None  # image bytes of all waiting jobs; None = 2x limits.max_message_bytes
    idle_connection: float = 60.0         # a connection silent this long (no PONG to our PINGs) is closed
    keep_results: int = DEFAULT_KEEP_BYTES  # bytes of kept last results (init "last"); 0 = keep none


# ---- logging -------------------------------------------------------------------------------------
def setup_logging(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(message)s")
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setFormatter(fmt)
    log.addHandler(fh)
    if sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        log.addHandler(sh)


# ---- CURVE ---------------------------------------------------------------------------------------
def curve_keys(keys_dir: str):
    """(server public, server secret, authorized-clients folder); creates missing keys:
    server.key(_secret), client.key(_secret) and authorized_clients/client.key."""
    import shutil

    import zmq.auth
    d = Path(keys_dir)
    auth_dir = d / "authorized_clients"
    d.mkdir(parents=True, exist_ok=True)
    auth_dir.mkdir(exist_ok=True)
    if not (d / "server.key_secret").exists():
        zmq.auth.create_certificates(str(d), "server")
    if not (d / "client.key_secret").exists():
        zmq.auth.create_certificates(str(d), "client")
    if not any(auth_dir.glob("*.key")):
        shutil.copy(d / "client.key", auth_dir / "client.key")
    try:
        os.chmod(d / "server.key_secret", 0o600)
        os.chmod(d / "client.key_secret", 0o600)
    except OSError:
        pass
    public, secret = zmq.auth.load_certificate(str(d / "server.key_secret"))
    return public, secret, auth_dir


# ---- the server ----------------------------------------------------------------------------------
class Server:
    """The ROUTER loop (``run``) and one handler per message type (``on_hello`` ... ``on_submit``)."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.limits = config.limits
        self.log_path = Path(config.log_path) if config.log_path else default_log_path()
        self.device = resolve_device(config.device)
        self.ctx = zmq.Context()
        self._auth = None
        self._owner_key: Optional[str] = None   # with CURVE: the z85 key that may stop the daemon
        self.router = self._bind_router()
        self._outbox_addr = f"inproc://outbox-{os.getpid()}-{id(self)}"
        self.outbox = self.ctx.socket(zmq.PULL)
        self.outbox.bind(self._outbox_addr)
        self._main_thread = threading.current_thread()
        self._push_local = threading.local()
        self.queue = JobQueue(config.max_waiting, config.max_queued_bytes or 2 * self.limits.max_message_bytes)
        self.sessions = Sessions(config.lease)
        self.cache = TargetCache(max_bytes=config.cache_bytes)
        self.results = ResultStore(config.keep_results)
        self.counts = {"done": 0, "cancelled": 0, "dropped": 0, "failed": 0, "bad_messages": 0}
        self.worker = Worker(config, self.device, self.queue, self.cache, self.counts, self.send, self.log_path,
                             on_job_done=self._touch_activity, results=self.results)
        self.worker.on_exit = self._close_thread_socket
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.stopping = False
        self._stop_reason = "?"
        self._stop_time = 0.0
        self._signalled: Optional[str] = None

    def _bind_router(self):
        config = self.config
        router = self.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 2000)
        # libzmq caps single frames (a peer announcing a bigger one is disconnected before it is read);
        # a multipart message is buffered whole before any of it can be read (see _receive_some)
        router.setsockopt(zmq.MAXMSGSIZE, self.max_frame_bytes())
        router.setsockopt(zmq.RCVHWM, 64)
        # a connection that does not answer our PINGs (libzmq peers answer on their own) is closed
        ms = max(100, int(config.idle_connection * 1000))
        router.setsockopt(zmq.HEARTBEAT_IVL, max(50, ms // 2))
        router.setsockopt(zmq.HEARTBEAT_TIMEOUT, max(50, ms // 2))
        router.setsockopt(zmq.HANDSHAKE_IVL, min(ms, 30000))
        if ":" in endpoint_host(config.endpoint):
            router.setsockopt(zmq.IPV6, 1)
        if config.curve_keys:
            from zmq.auth.thread import ThreadAuthenticator
            public, secret, auth_dir = curve_keys(config.curve_keys)
            self._auth = ThreadAuthenticator(self.ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(auth_dir))
            self._owner_key = zmq.auth.load_certificate(str(Path(config.curve_keys) / "client.key"))[0].decode()
            router.curve_publickey = public
            router.curve_secretkey = secret
            router.curve_server = True
        try:
            if config.endpoint.startswith("ipc://") and _ipc_answers(config.endpoint[len("ipc://"):]):
                raise zmq.ZMQError(zmq.EADDRINUSE)    # libzmq would take the path over without a word
            router.bind(config.endpoint)
        except zmq.ZMQError as e:
            router.close(0)
            self._close_sockets()
            if e.errno == zmq.EADDRINUSE:
                raise ServeError(f"{config.endpoint} is already in use (is a daemon already running? "
                                 f"`python -m daemon status --endpoint {config.endpoint}`)") from None
            raise ServeError(f"cannot listen at {config.endpoint} ({e})") from None
        return router

    def max_frame_bytes(self) -> int:
        """The largest frame any valid message has (header or image), never above the message limit."""
        lim = self.limits
        return min(lim.max_message_bytes, max(lim.max_header_bytes, lim.max_pixels * 4)) + 4096

    # ---- sending (from any thread) ----------------------------------------------------------------
    def send(self, identity: bytes, frames: List[Any]) -> None:
        """Frames to a client: straight out of the ROUTER in the main thread, through the outbox
        (an inproc PUSH per thread) from the worker; ZeroMQ sockets are not shared between threads."""
        if threading.current_thread() is self._main_thread:
            try:
                self.router.send_multipart([identity, *frames], copy=False)
            except zmq.ZMQError as e:   # an unreachable client must never stop the daemon
                log.warning("could not send to a client: %s", e)
            return
        push = getattr(self._push_local, "sock", None)
        if push is None:
            push = self._push_local.sock = self.ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 2000)
            push.connect(self._outbox_addr)
        push.send_multipart([identity, *frames], copy=False)

    def _close_thread_socket(self) -> None:
        sock = getattr(self._push_local, "sock", None)
        if sock is not None:
            sock.close()

    def reply(self, identity: bytes, type_: str, fields: dict, re: Any = None) -> None:
        if re is not None:
            fields = {**fields, "re": re}
        self.send(identity, encode(type_, fields))

    def error(self, identity: bytes, code: str, message: str, job: Optional[str] = None, re: Any = None) -> None:
        self.send(identity, error_frames(code, message, job=job, re=re))

    def _drain_outbox(self) -> None:
        while True:
            try:
                frames = self.outbox.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                self.router.send_multipart(frames, copy=False)
            except zmq.ZMQError as e:
                log.warning("could not send to a client: %s", e)

    # ---- main loop -------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        log.info("daemon %s (protocol %d) listening at %s, device %s, pid %d, log %s%s",
                 __version__, PROTOCOL_VERSION, self.config.endpoint, self.device, os.getpid(), self.log_path,
                 ", CURVE on" if self._auth else "")
        self.worker.start()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.outbox, zmq.POLLIN)
        last_check = 0.0
        try:
            while True:
                events = dict(poller.poll(100))
                if self.outbox in events:
                    self._drain_outbox()
                if self.router in events:
                    self._receive_some()
                now = time.monotonic()
                if now - last_check >= 0.2:
                    last_check = now
                    self.drop_silent_clients()
                    self._check_idle(now)
                    if self._signalled and not self.stopping:
                        self.begin_stop(f"signal {self._signalled}")
                if self.stopping and not self.worker.is_alive():
                    self._drain_outbox()
                    break
                if self.stopping and now - self._stop_time > 60:
                    log.warning("the engine did not stop within 60 s; exiting anyway")
                    break
        finally:
            self._drain_outbox()
            log.info("daemon stopped (%s); jobs: %s", self._stop_reason, self.counts)
            self._close_sockets()
        return 0

    def _receive_some(self, most: int = 100) -> None:
        for _ in range(most):
            try:
                identity = self.router.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            frames, key = self._receive_rest()
            if frames is None:
                self.sessions.touch(identity)
                self.counts["bad_messages"] += 1
                self.error(identity, "too_large", f"the message is over {self.limits.max_message_bytes} bytes "
                                                  f"or {self.limits.max_frames + 1} frames; it was dropped")
                continue
            self.handle(identity, frames, key)

    def _receive_rest(self):
        """The frames after the identity, counted one by one: over the message limit (bytes or frames)
        the rest is received and let go at once, and None is returned. libzmq has buffered the whole
        message already (its parts arrive together); this keeps the daemon from copying it, and what is
        kept is read in place (``Frame.buffer``), not copied out. With CURVE,
        also the sender's public key (the authenticator's User-Id); else None."""
        frames: Optional[List[bytes]] = []
        total, key = 0, None
        while self.router.getsockopt(zmq.RCVMORE):
            frame = self.router.recv(copy=False)
            if key is None and self._auth is not None:
                try:
                    key = frame.get("User-Id")
                except zmq.ZMQError:
                    key = None
            if frames is None:
                continue
            total += len(frame)
            if total > self.limits.max_message_bytes or len(frames) > self.limits.max_frames:
                frames = None
                continue
            frames.append(frame.buffer)     # zero-copy: the decoded images are views onto libzmq's message
        return frames, key

    def _close_sockets(self) -> None:
        for s in (getattr(self, "router", None), getattr(self, "outbox", None)):
            if s is not None:
                s.close()
        if self._auth is not None:
            self._auth.stop()
        worker = getattr(self, "worker", None)
        if worker is None or not worker.is_alive():
            self.ctx.term()
        if getattr(self, "router", None) is not None and self.config.endpoint.startswith("ipc://"):
            try:   # libzmq removes it on a clean close, not when the process ends first
                os.unlink(self.config.endpoint[len("ipc://"):])
            except OSError:
                pass

    def _install_signals(self) -> None:
        def handler(signum, _frame):
            self._signalled = signal.Signals(signum).name
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(s, handler)
            except (ValueError, OSError):
                pass

    def begin_stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        self._stop_reason = reason
        self._stop_time = time.monotonic()
        log.info("stopping: %s", reason)
        for job in self.queue.close():
            if not job.dropped:
                self.error(job.client, "shutting_down", "the daemon is stopping; the job did not run", job=job.id)
        running = self.queue.running
        if running is not None:
            running.shutdown = True      # its result says the daemon stopped it, not its client
            running.cancel.set()

    # ---- leases and idling -------------------------------------------------------------------------
    def drop_silent_clients(self) -> None:
        """The jobs of clients whose lease ran out: waiting ones leave the queue, a running one is cancelled."""
        for identity, silent in self.sessions.expire():
            for job in self.queue.held_by(identity):
                job.dropped = True
                if self.queue.remove(job):
                    self.counts["dropped"] += 1
                    log.info("job %s dropped while waiting: its client was silent for %.1f s", job.id, silent)
                    self.worker.tell_positions()
                else:
                    job.cancel.set()
                    log.info("job %s dropped while running: its client was silent for %.1f s", job.id, silent)

    def _touch_activity(self) -> None:
        self.last_activity = time.monotonic()

    def _check_idle(self, now: float) -> None:
        if (self.config.idle_exit > 0 and not self.stopping and self.queue.running is None
                and not self.queue.waiting() and now - self.last_activity > self.config.idle_exit):
            self.begin_stop(f"idle for {self.config.idle_exit:g} s")

    # ---- requests ----------------------------------------------------------------------------------
    def handle(self, identity: bytes, frames: List[bytes], key: Optional[str] = None) -> None:
        """Validate one message and pass it to its handler; a bad message gets an error reply, no more.
        The message's owner (``owner_of``) is who its jobs, kept results and details belong to."""
        self.sessions.touch(identity)
        self.last_activity = time.monotonic()
        try:
            msg = decode(frames, self.limits, sender="client")
        except ProtocolError as e:
            self.counts["bad_messages"] += 1
            n = self.counts["bad_messages"]
            if n <= 10 or n % 100 == 0:
                log.warning("bad message #%d from a client: %s: %s", n, e.code, e.message)
            self.error(identity, e.code, e.message, re=_best_effort_id(frames))
            return
        rid = msg.get("id")
        msg.owner = owner_of(identity, msg.get("session"), key)
        for job in self.queue.held_by(identity):   # the routing id taken over by someone else: the
            if job.owner != msg.owner and not job.dropped:     # job's messages no longer go there
                job.dropped = True
                job.cancel.set()
                log.warning("job %s dropped: another client took over its client's connection id", job.id)
        try:
            getattr(self, f"on_{msg.type}")(identity, msg, rid)
        except Exception as e:  # a bug must not take the daemon down
            log.error("internal error on %s: %s", msg.type, traceback.format_exc())
            self.error(identity, "internal", f"the daemon failed on this {msg.type} ({type(e).__name__}); "
                                             f"see its log {self.log_path}", re=rid)

    def on_hello(self, identity, msg, rid) -> None:
        self.reply(identity, "hello", self.hello_info(), rid)

    def on_status(self, identity, msg, rid) -> None:
        self.reply(identity, "status", self.status_info(msg.owner), rid)

    def on_heartbeat(self, identity, msg, rid) -> None:
        """The reply lists the ids of this client's jobs the daemon still holds (waiting or running; a
        dropped job is not held even while its cancel finishes) and the daemon's pid, so a client sees at
        once that another daemon answers."""
        jobs = [j.id for j in self.queue.held_by(identity) if not j.dropped and j.owner == msg.owner]
        self.reply(identity, "heartbeat", {"jobs": jobs, "pid": os.getpid()}, rid)

    def on_estimate(self, identity, msg, rid) -> None:
        """Seconds for a job of this size and these options on the daemon's device, before it is
        submitted: its plan (``engine.plan.plan_job``, as the worker will make it, tiles included)
        priced at the device's measured speed (``speed``). And what Detail: Auto runs: the content's
        own size (``fit_size``), in the best quality preset up to the one asked that takes about
        ``target_s`` or less (``fit_quality``, ``fit_seconds``; the preview preset, with its honest
        time, where none does). The style images are not sent: ``NOMINAL_STYLE`` stands for them."""
        from ..engine.errors import BadInput
        from ..engine.plan import plan_job
        from ..engine.presets import PRESETS
        from .convert import options_from_dict
        from .memory import TooLarge, available_bytes, place
        f = msg.fields
        h, w, device = f["height"], f["width"], str(self.device)

        def seconds(options: dict):   # placed and planned as the worker will (memory.place, plan_job)
            o = options_from_dict(options, (h, w))
            styles = [NOMINAL_STYLE] * (max(o.scale_mix) + 1 if o.scale_mix else 1)
            p = place(h, w, o, self.device, self.config.memory_budget, style_hws=styles)
            plan = plan_job((h, w), replace(o, size=p.size), styles, p.device,
                            available_bytes(p.device, self.config.memory_budget))
            return o.size, self.worker.speed.estimate(str(p.device), plan)
        try:
            asked = dict(f["options"])
            size, t = seconds(asked)
            info = {"device": device, "seconds": None if t is None else round(t, 1), "size": size,
                    "target_s": f["target_s"]}
        except (BadInput, TooLarge) as e:   # the job as asked: refused exactly as its submit would be
            self.error(identity, e.code, str(e), re=rid)
            return
        try:   # Auto at the content's own size; left out where those options cannot run there
            if t is not None:
                full = dict(asked, size=0)
                quality = asked.get("quality")
                if quality in PRESETS and "steps" not in asked:
                    names = list(PRESETS)[:list(PRESETS).index(quality) + 1]
                    times = {q: seconds(dict(full, quality=q))[1] for q in names}
                    fit = next((q for q in reversed(names) if times[q] <= f["target_s"]), names[0])
                    info.update(fit_quality=fit, fit_seconds=round(times[fit], 1))
                else:
                    info.update(fit_seconds=round(seconds(full)[1], 1))
                info["fit_size"] = max(h, w)
        except (BadInput, TooLarge):
            pass
        self.reply(identity, "estimate", info, rid)

    def on_stop(self, identity, msg, rid) -> None:
        """Only the daemon's owner stops it: any local client without CURVE (the daemon then listens on
        loopback only), with CURVE the key created beside the daemon's own (``client.key``)."""
        if self._auth is not None and msg.owner != f"key:{self._owner_key}":
            self.error(identity, "not_allowed", "only the daemon's owner (its client.key) may stop it", re=rid)
            return
        self.reply(identity, "stop", {"stopping": True}, rid)
        self.begin_stop("stop asked by a client")

    def on_cancel(self, identity, msg, rid) -> None:
        job = self.queue.find(msg.fields["job"])
        if job is None or job.client != identity or job.owner != msg.owner:
            self.error(identity, "unknown_job", f"there is no job {msg.fields['job']} of yours to cancel "
                                                f"(it may have finished)", job=msg.fields["job"], re=rid)
            return
        self.reply(identity, "cancel", {"job": job.id, "found": True}, rid)
        if self.queue.remove(job):   # not started: its result is the content as it was
            self.counts["cancelled"] += 1
            log.info("job %s cancelled while waiting", job.id)
            self.worker.emit(job, "result", {"cancelled": True, "report": {"cancelled": True, "steps_done": 0}},
                             image=job.request["content"])
            self.worker.tell_positions()
        else:
            job.cancel.set()

    def on_submit(self, identity, msg, rid) -> None:
        if self.stopping:
            self.error(identity, "shutting_down", "the daemon is stopping; submit again in a moment", re=rid)
            return
        f = msg.fields
        images = [f["content"], *f["styles"], f.get("init"),
                  *[m for r in f["regions"] for m in (r["content_mask"], r.get("style_mask"))]]
        nbytes = sum(len(i.data) for i in images if i is not None and not isinstance(i, str))   # init "last"
        refused = self.queue.refusal(identity, nbytes)
        if refused:
            self.error(identity, *refused, re=rid)
            return
        job = Job(id=new_job_id(), client=identity, owner=msg.owner, request=f,
                  label=clean_label(f.get("label") or ""), nbytes=nbytes)
        pos = self.queue.put(job)
        self.reply(identity, "accepted", {"job": job.id, "position": pos}, rid)

    # ---- what hello and status say ---------------------------------------------------------------------
    def hello_info(self) -> dict:
        state = self.worker.state
        info = {"protocol": PROTOCOL_VERSION, "daemon_version": __version__, "device": str(self.device),
                "state": state, "ready": state == "ready", "limits": self.limits.to_dict(),
                "pid": os.getpid(), "endpoint": self.config.endpoint, "log": str(self.log_path),
                "install": INSTALL,
                "lease_s": self.config.lease, "preview_every_s": self.config.preview_every,
                "curve": self._auth is not None, "presets": sorted(engine.PRESETS),
                "speed": self.worker.speed.describe(str(self.device))}   # None until the warm-up measured it
        if self.device.type == "cuda":
            import torch
            info["device_name"] = torch.cuda.get_device_name(self.device)
        return info

    def status_info(self, owner: Optional[str] = None) -> dict:
        """Everything ``status`` shows: ``owner``'s own jobs in full, of the others only how many."""
        running = self.queue.running
        err = self.worker.model_error
        waiting = self.queue.waiting()
        mine = [j for j in waiting if j.owner == owner]
        return {**self.hello_info(),
                "uptime_s": round(time.time() - self.started, 1),
                "error": None if err is None else err[1],
                "queue": {"running": running.summary() if running and running.owner == owner else None,
                          "waiting": [j.summary() for j in mine],
                          "others": {"running": running is not None and running.owner != owner,
                                     "waiting": len(waiting) - len(mine)}},
                "jobs": dict(self.counts), "clients": len(self.sessions),
                "cache": self.cache.stats(), "results": self.results.stats(), "memory": json_safe(self._memory()),
                "stopping": self.stopping}

    def _memory(self) -> dict:
        try:
            return memory_status(self.device)
        except Exception as e:   # status must always answer
            return {"error": str(e)}


def _best_effort_id(frames: List[bytes]) -> Any:
    """The request id of a message that failed validation, when it can be read at all."""
    try:
        if frames and len(frames[0]) <= 65536:
            h = json.loads(bytes(frames[0]).decode("utf-8"))
            rid = h.get("id") if isinstance(h, dict) else None
            if (isinstance(rid, int) and not isinstance(rid, bool) and abs(rid) < 2 ** 53) or \
                    (isinstance(rid, str) and len(rid) <= 64):
                return rid
    except Exception:
        pass
    return None


# ---- entry point -------------------------------------------------------------------------------------
def serve(config: ServeConfig) -> int:
    """Run the daemon until stopped. Raises ServeError (one sentence) when it cannot start."""
    if not is_loopback_endpoint(config.endpoint) and not config.curve_keys:
        raise ServeError(f"refusing to listen on {config.endpoint} without CURVE keys: anyone on the network could "
                         f"use it; give --curve-keys DIR, or use tcp://127.0.0.1:PORT")
    if config.curve_keys and not zmq.has("curve"):
        raise ServeError("this pyzmq/libzmq has no CURVE support; install a pyzmq wheel with libsodium")
    path = Path(config.log_path) if config.log_path else default_log_path()
    try:
        setup_logging(path)
    except OSError as e:
        raise ServeError(f"cannot write the log {path} ({e.strerror or e}); give --log PATH") from None
    server = Server(config)
    return server.run()


INSTALL = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the project folder


def owner_of(identity: bytes, session: Optional[str], key: Optional[str]) -> str:
    """Who a message is from: its CURVE key where CURVE is on (it cannot be forged), else the session
    token its client sends (``shared.paths.session_token``: one per user), else (an older client) its
    connection's routing id."""
    if key:
        return f"key:{key}"
    if session:
        return f"session:{session}"
    return f"id:{identity.hex()}"


def _ipc_answers(path: str) -> bool:
    """Whether something listens on the Unix socket at ``path`` (a live daemon): a stale socket file
    refuses the connection, and only then may a new daemon bind the path."""
    import socket

    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()
