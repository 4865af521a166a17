"""The daemon: a ZeroMQ ROUTER in the main thread, the engine in one worker thread per device.

Main thread: receives and validates every message (``shared.protocol.decode``), answers hello /
status / heartbeat / cancel / stop at once, queues submits, enforces the heartbeat lease (a client
silent for ``lease`` seconds has its jobs dropped), forwards what the worker emits, and exits on
stop, SIGTERM/SIGINT or after ``idle_exit`` seconds without work. A bad message gets an error reply
and nothing else happens: no client can bring the daemon down.

Worker thread: loads VGG-19 once, then runs one job at a time from the FIFO queue through the
engine, with the memory plan (``memory.plan``) and an out-of-memory fallback, and streams progress,
previews (at most every ``preview_every`` seconds, downscaled) and the result. It talks to the main
thread through an inproc PUSH socket (ZeroMQ sockets are not shared between threads).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import zmq

from shared.paths import default_log_path
from shared.protocol import (DEFAULT_ENDPOINT, DEFAULT_LIMITS, PROTOCOL_VERSION, Limits, ProtocolError, decode, encode,
                             endpoint_host, error_frames, is_loopback_endpoint)

from .. import __version__
from .. import engine
from ..engine import EngineError, ModelSpec, OutOfMemory, TargetCache, load_model, resolve_device, stylize
from ..engine.scale import fit_long_edge
from .convert import downscale, image_to_rgb, json_safe, options_from_dict, resize_rgb, rgb_to_image, to_regions
from .jobs import Job, JobQueue, new_job_id
from .memory import MIN_FRACTION, free_device_memory, memory_status, plan

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
    memory_budget: Optional[int] = None   # bytes a job may use; None = free device memory (CUDA)


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
    def __init__(self, config: ServeConfig):
        self.config = config
        self.limits = config.limits
        self.log_path = Path(config.log_path) if config.log_path else default_log_path()
        self.device = resolve_device(config.device)
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 2000)
        self.router.setsockopt(zmq.MAXMSGSIZE, max(self.limits.max_header_bytes, self.limits.max_pixels * 4) + 4096)
        self.router.setsockopt(zmq.RCVHWM, 64)
        if ":" in endpoint_host(config.endpoint):
            self.router.setsockopt(zmq.IPV6, 1)
        self._auth = None
        if config.curve_keys:
            from zmq.auth.thread import ThreadAuthenticator
            public, secret, auth_dir = curve_keys(config.curve_keys)
            self._auth = ThreadAuthenticator(self.ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(auth_dir))
            self.router.curve_publickey = public
            self.router.curve_secretkey = secret
            self.router.curve_server = True
        try:
            self.router.bind(config.endpoint)
        except zmq.ZMQError as e:
            self._close_sockets()
            if e.errno == zmq.EADDRINUSE:
                raise ServeError(f"{config.endpoint} is already in use (is a daemon already running? "
                                 f"`python -m daemon status --endpoint {config.endpoint}`)") from None
            raise ServeError(f"cannot listen at {config.endpoint} ({e})") from None
        self._outbox_addr = f"inproc://outbox-{os.getpid()}-{id(self)}"
        self.outbox = self.ctx.socket(zmq.PULL)
        self.outbox.bind(self._outbox_addr)
        self.queue = JobQueue(config.max_waiting)
        self.jobs: Dict[str, Job] = {}
        self.clients: Dict[bytes, float] = {}
        self.cache = TargetCache(max_bytes=config.cache_bytes)
        self.models: Dict[str, Any] = {}
        self.state = "loading"
        self.model_error: Optional[tuple] = None
        self.counts = {"done": 0, "cancelled": 0, "dropped": 0, "failed": 0, "bad_messages": 0}
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.stopping = False
        self._signalled: Optional[str] = None
        self._main_thread = threading.current_thread()
        self._push_local = threading.local()
        self._worker = threading.Thread(target=self._work, name="engine-worker", daemon=True)

    # ---- sending ---------------------------------------------------------------------------------
    def _send(self, identity: bytes, frames: List[Any]) -> None:
        if threading.current_thread() is self._main_thread:
            try:
                self.router.send_multipart([identity, *frames], copy=False)
            except zmq.ZMQError as e:   # an unreachable client must never stop the daemon
                log.warning("could not send to a client: %s", e)
        else:
            push = getattr(self._push_local, "sock", None)
            if push is None:
                push = self._push_local.sock = self.ctx.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 2000)
                push.connect(self._outbox_addr)
            push.send_multipart([identity, *frames], copy=False)

    def _reply(self, identity: bytes, type_: str, fields: dict, re: Any = None) -> None:
        if re is not None:
            fields = {**fields, "re": re}
        self._send(identity, encode(type_, fields))

    def _error(self, identity: bytes, code: str, message: str, job: Optional[str] = None, re: Any = None) -> None:
        self._send(identity, error_frames(code, message, job=job, re=re))

    def _emit(self, job: Job, type_: str, fields: dict) -> None:
        """A message about a job to its client (nothing when the client vanished)."""
        if job.dropped:
            return
        self._send(job.client, encode(type_, {**json_safe(fields), "job": job.id}))

    def _emit_image(self, job: Job, type_: str, image, fields: dict) -> None:
        if job.dropped:
            return
        self._send(job.client, encode(type_, {**json_safe(fields), "job": job.id, "image": image}))

    # ---- main loop -------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        log.info("daemon %s (protocol %d) listening at %s, device %s, pid %d, log %s%s",
                 __version__, PROTOCOL_VERSION, self.config.endpoint, self.device, os.getpid(), self.log_path,
                 ", CURVE on" if self._auth else "")
        self._worker.start()
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
                    for _ in range(100):
                        try:
                            frames = self.router.recv_multipart(zmq.NOBLOCK, copy=True)
                        except zmq.Again:
                            break
                        self._handle(frames[0], frames[1:])
                now = time.monotonic()
                if now - last_check >= 0.2:
                    last_check = now
                    self._check_leases(now)
                    self._check_idle(now)
                    if self._signalled and not self.stopping:
                        self.begin_stop(f"signal {self._signalled}")
                if self.stopping and not self._worker.is_alive():
                    self._drain_outbox()
                    break
                if self.stopping and now - self._stop_time > 60:
                    log.warning("the engine did not stop within 60 s; exiting anyway")
                    break
        finally:
            self._drain_outbox()
            log.info("daemon stopped (%s); jobs: %s", getattr(self, "_stop_reason", "?"), self.counts)
            self._close_sockets()
        return 0

    def _close_sockets(self) -> None:
        for s in (getattr(self, "router", None), getattr(self, "outbox", None)):
            if s is not None:
                s.close()
        if self._auth is not None:
            self._auth.stop()
        self.ctx.term() if not self._worker_alive() else None

    def _worker_alive(self) -> bool:
        w = getattr(self, "_worker", None)
        return w is not None and w.is_alive()

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
            self.jobs.pop(job.id, None)
            if not job.dropped:
                self._error(job.client, "shutting_down", "the daemon is stopping; the job did not run", job=job.id)
        running = self.queue.running
        if running is not None:
            running.cancel.set()

    # ---- leases and idling -------------------------------------------------------------------------
    def _check_leases(self, now: float) -> None:
        lease = self.config.lease
        for identity, seen in list(self.clients.items()):
            if now - seen <= lease:
                continue
            del self.clients[identity]
            for job in [j for j in list(self.jobs.values()) if j.client == identity and j.state != "done"]:
                job.dropped = True
                if self.queue.remove(job):
                    self.jobs.pop(job.id, None)
                    self.counts["dropped"] += 1
                    log.info("job %s dropped while waiting: its client was silent for %.1f s", job.id, now - seen)
                    self._tell_positions()
                else:
                    job.cancel.set()
                    log.info("job %s dropped while running: its client was silent for %.1f s", job.id, now - seen)

    def _check_idle(self, now: float) -> None:
        if (self.config.idle_exit > 0 and not self.stopping and self.queue.running is None
                and not self.queue.waiting() and now - self.last_activity > self.config.idle_exit):
            self.begin_stop(f"idle for {self.config.idle_exit:g} s")

    def _tell_positions(self) -> None:
        for job, pos in self.queue.positions():
            self._emit(job, "progress", {"position": pos, "step": 0, "total": 0,
                                         "message": f"waiting: {pos} job(s) ahead"})

    # ---- requests ----------------------------------------------------------------------------------
    def _handle(self, identity: bytes, frames: List[bytes]) -> None:
        now = time.monotonic()
        self.clients[identity] = now
        self.last_activity = now
        try:
            msg = decode(frames, self.limits, sender="client")
        except ProtocolError as e:
            self.counts["bad_messages"] += 1
            n = self.counts["bad_messages"]
            if n <= 10 or n % 100 == 0:
                log.warning("bad message #%d from a client: %s: %s", n, e.code, e.message)
            self._error(identity, e.code, e.message, re=_best_effort_id(frames))
            return
        rid = msg.get("id")
        try:
            getattr(self, f"_on_{msg.type}")(identity, msg, rid)
        except Exception as e:  # a bug must not take the daemon down
            log.error("internal error on %s: %s", msg.type, traceback.format_exc())
            self._error(identity, "internal", f"the daemon failed on this {msg.type} ({type(e).__name__}); "
                                              f"see its log {self.log_path}", re=rid)

    def hello_info(self) -> dict:
        info = {"protocol": PROTOCOL_VERSION, "daemon_version": __version__, "device": str(self.device),
                "state": self.state, "ready": self.state == "ready", "limits": self.limits.to_dict(),
                "pid": os.getpid(), "endpoint": self.config.endpoint, "log": str(self.log_path),
                "lease_s": self.config.lease, "preview_every_s": self.config.preview_every,
                "curve": self._auth is not None, "presets": sorted(engine.PRESETS)}
        if self.device.type == "cuda":
            import torch
            info["device_name"] = torch.cuda.get_device_name(self.device)
        return info

    def status_info(self) -> dict:
        running = self.queue.running
        return {**self.hello_info(),
                "uptime_s": round(time.time() - self.started, 1),
                "error": None if self.model_error is None else self.model_error[1],
                "queue": {"running": running.summary() if running else None,
                          "waiting": [j.summary() for j in self.queue.waiting()]},
                "jobs": dict(self.counts), "clients": len(self.clients),
                "cache": self.cache.stats(), "memory": json_safe(self._memory()),
                "stopping": self.stopping}

    def _memory(self) -> dict:
        try:
            return memory_status(self.device)
        except Exception as e:   # status must always answer
            return {"error": str(e)}

    def _on_hello(self, identity, msg, rid) -> None:
        self._reply(identity, "hello", self.hello_info(), rid)

    def _on_status(self, identity, msg, rid) -> None:
        self._reply(identity, "status", self.status_info(), rid)

    def _on_heartbeat(self, identity, msg, rid) -> None:
        mine = [j.id for j in self.jobs.values() if j.client == identity and j.state != "done"]
        self._reply(identity, "heartbeat", {"jobs": mine}, rid)

    def _on_stop(self, identity, msg, rid) -> None:
        self._reply(identity, "stop", {"stopping": True}, rid)
        self.begin_stop("stop asked by a client")

    def _on_cancel(self, identity, msg, rid) -> None:
        job = self.jobs.get(msg.fields["job"])
        if job is None or job.client != identity:
            self._error(identity, "unknown_job", f"there is no job {msg.fields['job']} of yours to cancel "
                                                 f"(it may have finished)", job=msg.fields["job"], re=rid)
            return
        self._reply(identity, "cancel", {"job": job.id, "found": True}, rid)
        if self.queue.remove(job):   # not started: its result is the content as it was
            self.jobs.pop(job.id, None)
            self.counts["cancelled"] += 1
            log.info("job %s cancelled while waiting", job.id)
            self._emit_image(job, "result", job.request["content"],
                             {"cancelled": True, "report": {"cancelled": True, "steps_done": 0}})
            self._tell_positions()
        else:
            job.cancel.set()

    def _on_submit(self, identity, msg, rid) -> None:
        if self.stopping:
            self._error(identity, "shutting_down", "the daemon is stopping; submit again in a moment", re=rid)
            return
        if self.state == "failed" and self.model_error:
            self._error(identity, self.model_error[0], self.model_error[1], re=rid)
            return
        if self.queue.full():
            self._error(identity, "queue_full", f"{self.config.max_waiting} jobs are already waiting; "
                                                f"try again when some have finished", re=rid)
            return
        f = msg.fields
        job = Job(id=new_job_id(), client=identity, request=f, label=f.get("label") or "")
        self.jobs[job.id] = job
        pos = self.queue.put(job)
        self._reply(identity, "accepted", {"job": job.id, "position": pos}, rid)

    # ---- the worker ----------------------------------------------------------------------------------
    def _model_for(self, device) -> Any:
        key = str(device)
        if key not in self.models:
            c = self.config
            self.models[key] = load_model(ModelSpec(weights=c.weights, pooling=c.pooling, device=key))
        return self.models[key]

    def _work(self) -> None:
        t0 = time.perf_counter()
        try:
            model = self._model_for(self.device)
            self.state = "ready"
            log.info("model ready on %s in %.1f s (%s)", self.device, time.perf_counter() - t0, model.source)
            warm_up = getattr(engine, "warm_up", None)   # the engine's own warm-up, where it has one
            if warm_up is not None:
                try:
                    t1 = time.perf_counter()
                    warm_up(model)
                    log.info("warmed up in %.1f s", time.perf_counter() - t1)
                except Exception as e:
                    log.warning("warm-up failed (jobs still run): %s", e)
        except EngineError as e:
            self.state, self.model_error = "failed", (e.code, str(e))
            log.error("cannot load the model: %s", e)
        except Exception as e:
            self.state = "failed"
            self.model_error = ("weights_unavailable", f"the daemon cannot load VGG-19 ({type(e).__name__}: {e})")
            log.error("cannot load the model: %s", traceback.format_exc())
        while True:
            job = self.queue.take(0.5)
            if job is None:
                if self.queue.closed:
                    break
                continue
            self._tell_positions()
            try:
                self._run(job)
            except Exception:
                log.error("job %s: internal error: %s", job.id, traceback.format_exc())
                self.counts["failed"] += 1
                self._emit(job, "error", {"code": "internal", "message": f"the daemon failed on this job; "
                                                                         f"see its log {self.log_path}"})
            finally:
                self.queue.finish(job)
                self.jobs.pop(job.id, None)
                job.request = {}
                if job.dropped:   # nobody waits for it: give its memory back at once
                    free_device_memory(self.device)
                self.last_activity = time.monotonic()
        sock = getattr(self._push_local, "sock", None)
        if sock is not None:
            sock.close()

    def _run(self, job: Job) -> None:
        req = job.request
        wait_s = job.started - job.created
        if self.state != "ready":
            code, message = self.model_error or ("weights_unavailable", "the model is not loaded")
            self.counts["failed"] += 1
            self._emit(job, "error", {"code": code, "message": message})
            log.info("job %s failed: %s", job.id, message)
            return
        if job.dropped:
            self.counts["dropped"] += 1
            log.info("job %s dropped before it started: its client vanished", job.id)
            return
        t0 = time.perf_counter()
        try:
            content, alpha = image_to_rgb(req["content"])
            styles = [image_to_rgb(s)[0] for s in req["styles"]]
            regions = to_regions(req["regions"])
            init = image_to_rgb(req["init"])[0] if req.get("init") is not None else None
            opts = options_from_dict(req["options"], content.shape[:2])
            opts.validate(len(styles))
            h, w = content.shape[:2]
            target = fit_long_edge(h, w, opts.size)
            result, notes, used = self._stylize_with_fallback(job, opts, content, styles, regions, init)
        except EngineError as e:
            self.counts["failed"] += 1
            self._emit(job, "error", {"code": e.code, "message": str(e)})
            log.info("job %s failed (%s): %s", job.id, e.code, e)
            return
        image = result.image
        if image.shape[:2] != tuple(target):
            image = resize_rgb(image, target)
        run_s = time.perf_counter() - t0
        report = dict(result.report)
        report.update(job=job.id, label=job.label, queue_wait_s=round(wait_s, 3), run_s=round(run_s, 3),
                      fallbacks=notes, requested_size=opts.size, worked_at=used,
                      output_size=[int(target[1]), int(target[0])],
                      daemon={"version": __version__, "protocol": PROTOCOL_VERSION, "cache": self.cache.stats()})
        status = "dropped" if job.dropped else ("cancelled" if result.cancelled else "done")
        self.counts[status] += 1
        if not job.dropped:
            self._emit_image(job, "result", rgb_to_image(image, alpha),
                             {"cancelled": bool(result.cancelled), "report": report})
        c = report.get("cache", {})
        log.info("job %s %s%s %dx%d -> %dx%d steps %s/%s levels %d on %s: wait %.2f s, run %.2f s; cache style "
                 "%s hit %s miss, content %s hit %s miss%s", job.id, status,
                 f" '{job.label}'" if job.label else "", w, h, target[1], target[0],
                 report.get("steps_done"), job.total_steps, opts.levels, used.get("device"), wait_s, run_s,
                 c.get("style_hits"), c.get("style_misses"), c.get("content_hits"), c.get("content_misses"),
                 ("; " + "; ".join(notes)) if notes else "")

    def _stylize_with_fallback(self, job: Job, opts, content, styles, regions, init):
        """Run the engine on the planned size/device; on out-of-memory lower the size, then use the CPU."""
        import dataclasses
        model = self._model_for(self.device)
        h, w = content.shape[:2]
        p = plan(h, w, opts, model.device, self.config.memory_budget)
        notes: List[str] = []
        size, device = p.size, p.device
        if p.message:
            notes.append(p.message)
            self._emit(job, "progress", {"step": 0, "total": 0, "message": p.message})
        while True:
            run_opts = dataclasses.replace(opts, size=size)
            model = self._model_for(device)
            try:
                result = stylize(model, content, styles, run_opts, regions=regions, init_image=init, cache=self.cache,
                                 callback=self._progress_callback(job), should_stop=job.should_stop)
                return result, notes, {"size": size, "device": str(device)}
            except (OutOfMemory, MemoryError, RuntimeError) as e:
                if isinstance(e, RuntimeError) and not _is_oom(e):
                    raise
                self.cache.clear()
                free_device_memory(device)
                if device.type == "cpu" and size <= max(64, int(opts.size * MIN_FRACTION)):
                    raise
                if device.type != "cpu" and size > max(64, int(opts.size * MIN_FRACTION)):
                    size = max(64, int(size * 0.7))
                    msg = f"{e}: retrying at {size} px"
                elif device.type != "cpu":
                    device = resolve_device("cpu")
                    msg = f"{e}: retrying on the CPU (slower)"
                else:
                    size = max(64, int(opts.size * MIN_FRACTION))
                    msg = f"{e}: retrying at {size} px"
                notes.append(msg)
                log.warning("job %s: %s", job.id, msg)
                self._emit(job, "progress", {"step": 0, "total": 0, "message": msg})

    def _progress_callback(self, job: Job):
        cfg = self.config
        want_preview = bool(job.request.get("preview"))
        every = max(cfg.preview_every, float(job.request.get("preview_every") or 0))
        psize = int(job.request.get("preview_size") or cfg.preview_size)
        alpha = image_to_rgb(job.request["content"])[1] if want_preview else None
        start = time.monotonic()
        state = {"progress": 0.0, "preview": start}

        def callback(p) -> None:
            if job.dropped:
                return
            job.done_steps, job.total_steps = p.done, p.job_total
            now = time.monotonic()
            if now - state["progress"] >= cfg.progress_every or p.step == p.total or p.done <= 1:
                state["progress"] = now
                eta = (now - start) / p.done * (p.job_total - p.done) if p.done else None
                self._emit(job, "progress", {
                    "step": p.step, "total": p.total, "level": p.level, "levels": p.levels, "done": p.done,
                    "job_total": p.job_total, "stage": p.stage, "size": list(p.size), "eta_s": eta,
                    "losses": {k: v for k, v in (p.losses or {}).items()
                               if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}})
            if want_preview and now - state["preview"] >= every and p.done < p.job_total:
                state["preview"] = now
                small = downscale(p.image(), psize)
                self._emit_image(job, "preview", rgb_to_image(small, alpha),
                                 {"step": p.step, "total": p.total, "level": p.level, "levels": p.levels,
                                  "done": p.done, "job_total": p.job_total})
        return callback


def _is_oom(e: BaseException) -> bool:
    """A RuntimeError that is really an out-of-memory (CPU allocator, MPS, CUDA outside the engine)."""
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text


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
