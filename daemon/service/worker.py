"""The engine worker: one thread that loads VGG-19 and runs the queued jobs one at a time.

For each job, top-down (``Worker.run_job``):
  1. the model is loaded (``load``; the load is retried on the next job when it failed);
  2. the options are read and validated, and the placement (``memory.place``) chooses size and
     device, or refuses the job (``too_large``), before any image is converted;
  3. the submit field ``init: "last"`` is resolved here, never in the engine (``warm``): the last kept
     result for this content (``results``), resampled and re-masked to the new regions, becomes the
     init image and the job is planned as a warm start (``plan.plan_job``'s ``start``); with none kept
     the job starts from the content and says so (a progress message, the report's ``init``);
  4. before the first step, a progress message estimates the job's time from the device's measured
     speed (``speed``; ``estimate``), then the engine runs, streaming progress and previews
     (``progress_callback``); an out-of-memory goes to ``memory.after_oom`` for the next try;
  5. the result (scaled to the requested size, the content's alpha put back) and its report go
     to the client, one line to the log, and the report's level timings to the speed record; the
     image at its working size is kept as this content's last result (cancelled ones too).

The speed record starts from the warm-up (``load``: one forward + backward timed at two sizes).

The worker never touches the ROUTER socket: everything for a client goes through ``send``
(thread-safe, provided by the server).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from shared.protocol import PROTOCOL_VERSION, ImageData

from .. import __version__
from .. import engine
from ..engine import EngineError, ModelSpec, OutOfMemory, Report, TargetCache, load_model, resolve_device, stylize
from ..engine.plan import JobPlan, layers_to, plan_job
from ..engine.scale import fit_long_edge
from .convert import (downscale, image_alpha, image_to_rgb, options_from_dict, resize_rgb, rgb_to_image, to_regions,
                      working_rgb)
from .jobs import Job, JobQueue, job_message
from .memory import Placement, TooLarge, after_oom, available_bytes, free_device_memory, place
from .results import Kept, ResultStore, content_key, warm_start
from .speed import DEPTHS, Speed, plan_seconds, probe, seconds_left, sentence

SMALL_PREVIEW = 512       # a preview of at most this long edge is sent as often as the job asks
log = logging.getLogger("neural_style.daemon")

Send = Callable[[bytes, List[Any]], None]


@dataclasses.dataclass
class JobReport(Report):
    """The engine's ``Report`` extended by the service (docs/protocol.md, ``result``'s ``report``)."""

    job: str = ""
    label: str = ""
    queue_wait_s: float = 0.0
    run_s: float = 0.0                   # from taking the job to its result, the conversions included
    fallbacks: List[str] = dataclasses.field(default_factory=list)   # what the placement changed, in words
    requested_size: int = 0
    worked_at: Dict[str, Any] = dataclasses.field(default_factory=dict)   # the placed size and device
    output_size: List[int] = dataclasses.field(default_factory=list)     # [w, h] sent back
    daemon: Dict[str, Any] = dataclasses.field(default_factory=dict)     # version, protocol, cache, kept results
    init: Optional[str] = None           # a job that asked for "last": "last" or "content"; an init frame: "image"
    estimate_s: Optional[float] = None   # the price before it started
    stopped_by: Optional[str] = None     # a stopped job: "client" (its cancel) or "daemon" (the daemon stopping)


class Worker:
    def __init__(self, config, device, queue: JobQueue, cache: TargetCache, counts: Dict[str, int], send: Send,
                 log_path, on_job_done: Callable[[], None] = lambda: None, results: Optional[ResultStore] = None):
        self.config = config
        self.results = results if results is not None else ResultStore()   # the last result per content
        self.device = device
        self.queue = queue
        self.cache = cache
        self.counts = counts
        self.send = send
        self.log_path = log_path
        self.on_job_done = on_job_done
        self.models: Dict[str, Any] = {}
        self.state = "loading"                     # loading | ready | failed
        self.model_error: Optional[Tuple[str, str]] = None
        self.speed = Speed()                       # seconds per step per megapixel, per device
        self.thread = threading.Thread(target=self._loop, name="engine-worker", daemon=True)
        self.on_exit: Callable[[], None] = lambda: None

    def start(self) -> None:
        self.thread.start()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    # ---- messages to the job's client -------------------------------------------------------------
    def emit(self, job: Job, type_: str, fields: dict, image: Any = None) -> None:
        """A message about a job to its client (nothing when the client vanished)."""
        if not job.dropped:
            self.send(job.client, job_message(job, type_, fields, image))

    # ---- the model ---------------------------------------------------------------------------------
    def model_for(self, device) -> Any:
        key = str(device)
        if key not in self.models:
            c = self.config
            self.models[key] = load_model(ModelSpec(weights=c.weights, pooling=c.pooling, device=key))
        return self.models[key]

    def load(self) -> None:
        """Load the model on the daemon's device and warm it up; on failure ``state`` is "failed"."""
        t0 = time.perf_counter()
        try:
            model = self.model_for(self.device)
        except EngineError as e:
            self.state, self.model_error = "failed", (e.code, str(e))
            log.error("cannot load the model: %s", e)
            return
        except Exception as e:
            self.state = "failed"
            self.model_error = ("weights_unavailable", f"the daemon cannot load VGG-19 ({type(e).__name__}: {e})")
            log.error("cannot load the model: %s", traceback.format_exc())
            return
        self.state, self.model_error = "ready", None
        log.info("model ready on %s in %.1f s (%s)", self.device, time.perf_counter() - t0, model.source)
        warm_up = getattr(engine, "warm_up", None)   # the engine's own warm-up, where it has one
        if warm_up is not None:
            try:
                t1 = time.perf_counter()
                warm_up(model)
                log.info("warmed up in %.1f s", time.perf_counter() - t1)
                self.measure_speed(model, warm_up)
            except Exception as e:
                log.warning("warm-up failed (jobs still run): %s", e)

    def measure_speed(self, model, warm_up) -> None:
        """The device's first step rate: one warm forward + backward timed at two sizes, and at the larger
        one cut at each depth a plan uses (``speed.probe``). The sizes are large enough for the per-pixel
        cost to show over the overhead (a 64-px probe gave rates off by 5-20x), and the depth shares are
        taken at the larger one, since the shallow layers' share grows with the size (memory-bound)."""
        cpu = self.device.type == "cpu"
        sizes = [(128, 128), (384, 384)] if cpu else [(256, 256), (512, 512)]

        def run(size, depth="relu5_1"):
            warm_up(model, sizes=[size], layers=layers_to(depth))
        rate = probe(run, sizes, repeats=2, depths=DEPTHS)   # the first try at a size pays for its set-up
        self.speed.set(str(self.device), rate)
        log.info("speed on %s: %.3g s per step per megapixel + %.3g s per step (warm-up)", self.device,
                 rate.s_per_step_per_mp, rate.s_per_step)

    # ---- the loop ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        self.load()
        while True:
            job = self.queue.take(0.5)
            if job is None:
                if self.queue.closed:
                    break
                continue
            self.tell_positions()
            try:
                self.run_job(job)
            except Exception:
                log.error("job %s: internal error: %s", job.id, traceback.format_exc())
                self.counts["failed"] += 1
                self.emit(job, "error", {"code": "internal", "message": f"the daemon failed on this job; "
                                                                        f"see its log {self.log_path}"})
            finally:
                self.queue.finish(job)
                job.request = {}
                if job.dropped:   # nobody waits for it: give its memory back at once
                    free_device_memory(self.device)
                self.on_job_done()
        self.on_exit()

    def tell_positions(self) -> None:
        for job, pos in self.queue.positions():
            self.emit(job, "progress", {"position": pos, "step": 0, "total": 0,
                                        "message": f"waiting: {pos} job(s) ahead"})

    # ---- one job -----------------------------------------------------------------------------------
    def run_job(self, job: Job) -> None:
        req = job.request
        wait_s = job.started - job.created
        if job.dropped:
            self.counts["dropped"] += 1
            log.info("job %s dropped before it started: its client vanished", job.id)
            return
        if self.state != "ready":   # the load failed before: try again, and say why each time it fails
            self.load()
        if self.state != "ready":
            code, message = self.model_error or ("weights_unavailable", "the model is not loaded")
            self.counts["failed"] += 1
            self.emit(job, "error", {"code": code, "message": message})
            log.info("job %s failed: %s", job.id, message)
            return
        t0 = time.perf_counter()
        try:
            content_img = req["content"]
            h, w = content_img.height, content_img.width
            opts = options_from_dict(req["options"], (h, w))
            opts.validate(len(req["styles"]))
            key = f"{job.owner}|{content_key(content_img.data, w, h)}"   # each owner's own kept results
            kept, init_said = self.warm(job, opts, key)
            p = place(h, w, opts, self.model_for(self.device).device, self.job_budget(job),   # before any allocation
                      regions=len(req["regions"]), style_hws=[(s.height, s.width) for s in req["styles"]])
            # the content, its masks and init at the size the job works at, resampled in 8 bits before the
            # engine makes float copies of them (a 7000² photo worked at 512 px costs 512² floats, not 7000²)
            work_hw = fit_long_edge(h, w, min(p.size, max(h, w)))
            content, alpha = working_rgb(content_img, work_hw), image_alpha(content_img)
            styles = [image_to_rgb(s)[0] for s in req["styles"]]
            regions = to_regions(req["regions"], work_hw)
            init = working_rgb(req["init"], work_hw) if isinstance(req.get("init"), ImageData) else None
            if init is not None and init_said is None:
                init_said = "image"       # the job's own init frame (a result continued in GIMP)
            if kept is not None:
                init = warm_start(kept, content, fit_long_edge(h, w, p.size), regions, opts.color)
            target = fit_long_edge(h, w, opts.size)
            start = "warm" if kept is not None else ("image" if init is not None else "content")
            result, notes, used = self.stylize_planned(job, p, opts, content, styles, regions, init, start)
        except EngineError as e:
            self.counts["failed"] += 1
            self.emit(job, "error", {"code": e.code, "message": str(e)})
            log.info("job %s failed (%s): %s", job.id, e.code, e)
            return
        image = result.image
        if image.shape[:2] != tuple(target):
            image = resize_rgb(image, target)
        run_s = time.perf_counter() - t0
        self.keep(job, key, result, opts)
        report = JobReport(**vars(result.report), job=job.id, label=job.label, queue_wait_s=round(wait_s, 3),
                           run_s=round(run_s, 3), fallbacks=notes, requested_size=opts.size,
                           worked_at={"size": used["size"], "device": used["device"]},
                           output_size=[int(target[1]), int(target[0])],
                           daemon={"version": __version__, "protocol": PROTOCOL_VERSION,
                                   "cache": self.cache.stats(), "results": self.results.stats()},
                           init=init_said, estimate_s=used["estimate_s"],
                           stopped_by=("daemon" if job.shutdown else "client") if result.cancelled else None)
        self.speed.learn(used["device"], result.report, used["plan"])
        status = "dropped" if job.dropped else ("cancelled" if result.cancelled else "done")
        self.counts[status] += 1
        self.emit(job, "result", {"cancelled": bool(result.cancelled), "report": report.as_dict()},
                  image=rgb_to_image(image, alpha))
        c = report.cache
        log.info("job %s %s%s %dx%d -> %dx%d steps %s/%s levels %d on %s: wait %.2f s, run %.2f s; cache style "
                 "%s hit %s miss, content %s hit %s miss%s", job.id, status,
                 f" '{job.label}'" if job.label else "", w, h, target[1], target[0],
                 report.steps_done, job.total_steps, opts.levels, used["device"], wait_s, run_s,
                 c.get("style_hits"), c.get("style_misses"), c.get("content_hits"), c.get("content_misses"),
                 ("; " + "; ".join(notes)) if notes else "")

    def warm(self, job: Job, opts, key: str) -> Tuple[Optional[Kept], Optional[str]]:
        """The submit field ``init: "last"``: the kept result for this content and what the report's
        ``init`` says ("last", or "content" when none is kept). Says which start it is in a progress
        message. (None, None) when the job did not ask for its last result."""
        if job.request.get("init") != "last":
            return None, None
        kept = self.results.get(key)
        if kept is None:
            said = "content"
            message = "no earlier result for this content: starting from the content"
        else:
            said = "last"
            message = (f"starting from the last result for this content ({kept.size[1]}×{kept.size[0]}"
                       f"{', cancelled' if kept.cancelled else ''})")
        self.emit(job, "progress", {"step": 0, "total": 0, "message": message})
        return kept, said

    def keep(self, job: Job, key: str, result, opts) -> None:
        """This job's image (at the size the engine worked at) as the content's last result; a cancelled
        one too, so nothing the artist did is lost. Nothing when no step ran."""
        if not result.report.steps_done:
            return
        image = np.ascontiguousarray(result.image)
        self.results.put(key, Kept(image=image, options=opts.to_dict(), cancelled=bool(result.cancelled),
                                   job=job.id))

    def job_budget(self, job: Job) -> Optional[int]:
        """Bytes the job's work may use: its own ``memory_budget`` (submit field), capped by the daemon's,
        less what its images already hold (the request's frames, kept for the job's life, and one RGB
        copy of the content while it is resampled to the working size). TooLarge when that leaves nothing."""
        asked, cap = job.request.get("memory_budget"), self.config.memory_budget
        if not (asked or cap):
            return None
        budget = min(b for b in (asked, cap) if b)
        content = job.request["content"]
        held = job.nbytes + 3 * content.width * content.height
        if held >= budget:
            raise TooLarge(f"the job's images alone take {held / 2**20:.0f} MB of its "
                           f"{budget / 2**20:.0f} MB memory budget; send smaller images or raise the budget")
        return budget - held

    def stylize_planned(self, job: Job, p: Placement, opts, content, styles, regions, init, start="content"):
        """Run the engine at the placed size and device, on the job's plan (``engine.plan.plan_job``: the
        one the estimate prices and the engine runs); after an out-of-memory, ``after_oom`` says what next."""
        h, w = content.shape[:2]
        budget = self.job_budget(job)
        notes: List[str] = []
        if p.message:
            notes.append(p.message)
            self.emit(job, "progress", {"step": 0, "total": 0, "message": p.message})
        while True:
            model = self.model_for(p.device)
            o = dataclasses.replace(opts, size=p.size)
            avail = available_bytes(p.device, budget)   # tiles where a level would not fit
            job_plan = plan_job((h, w), o, [s.shape[:2] for s in styles], p.device, avail, len(regions), start)
            seconds = None
            try:
                seconds = self.estimate(job, job_plan, p.device)
            except Exception:   # an estimate never stops a job
                log.warning("job %s: no time estimate: %s", job.id, traceback.format_exc())
            try:
                result = stylize(model, content, styles, o, regions=regions, init_image=init, cache=self.cache,
                                 callback=self.progress_callback(job, job_plan, str(p.device)),
                                 should_stop=job.should_stop, memory_budget=avail, plan=job_plan)
                return result, notes, {"size": p.size, "device": str(p.device), "plan": job_plan,
                                       "estimate_s": None if seconds is None else round(seconds, 1)}
            except (OutOfMemory, MemoryError, RuntimeError) as e:
                if isinstance(e, RuntimeError) and not _is_oom(e):
                    raise
                self.cache.clear()
                free_device_memory(p.device)
                nxt = after_oom(h, w, opts, p.size, p.device, budget, regions=len(regions),
                                style_hws=[s.shape[:2] for s in styles])
                if nxt is None:
                    raise
                p = dataclasses.replace(nxt, device=resolve_device(str(nxt.device)))
                msg = f"{e}: {nxt.message}"
                notes.append(msg)
                log.warning("job %s: %s", job.id, msg)
                self.emit(job, "progress", {"step": 0, "total": 0, "message": msg})

    def estimate(self, job: Job, job_plan: JobPlan, device) -> Optional[float]:
        """Tell the client how long the job should take (progress with ``estimate_s`` and a sentence):
        its plan priced at the device's measured speed (``speed``). None when the rate is unknown."""
        device = str(device)
        seconds = self.speed.estimate(device, job_plan)
        if seconds is None:
            return None
        self.emit(job, "progress", {"step": 0, "total": 0, "estimate_s": round(seconds, 1),
                                    "message": sentence(seconds, device, self.speed.get(device))})
        return seconds

    def progress_callback(self, job: Job, job_plan: Optional[JobPlan] = None, device: str = "cpu"):
        cfg = self.config
        want_preview = bool(job.request.get("preview"))
        psize = int(job.request.get("preview_size") or cfg.preview_size)
        asked = float(job.request.get("preview_every") or cfg.preview_every)
        # a small preview (a dialog's live preview) as often as asked; a big one no more often than the
        # daemon's own setting, since each is a copy and a message of its size
        every = asked if psize <= SMALL_PREVIEW else max(cfg.preview_every, asked)
        alpha = image_alpha(job.request["content"]) if want_preview else None
        start = time.monotonic()
        state = {"progress": 0.0, "preview": start - every}   # the first step's image at once, then every ``every`` s
        rate = self.speed.get(device) if job_plan is not None else None
        whole = plan_seconds(rate, job_plan) if rate is not None else None

        def eta(p) -> Optional[float]:
            """The plan's price of what is left, scaled by how this job has run against its price so far."""
            if rate is None or whole is None:
                return (time.monotonic() - start) / p.done * (p.job_total - p.done) if p.done else None
            step = p.step - 1 + p.tile[0] / p.tile[1] if p.tile is not None else p.step   # a step under way
            left = seconds_left(rate, job_plan, p.level, step, p.stage == "mix")
            spent = whole - left
            ratio = (time.monotonic() - start) / spent if spent > 0 and p.done >= 2 else 1.0
            return max(0.0, left * ratio)

        def callback(p) -> None:
            if job.dropped:
                return
            now = time.monotonic()
            if p.tile is not None:   # between the tiles of a step under way: progress every few seconds
                if now - state["progress"] >= cfg.progress_every:
                    state["progress"] = now
                    self.emit(job, "progress", {
                        "step": p.step, "total": p.total, "level": p.level, "levels": p.levels, "done": p.done,
                        "job_total": p.job_total, "stage": p.stage, "size": list(p.size),
                        "tile": p.tile[0], "tiles": p.tile[1], "eta_s": eta(p)})
                return
            job.done_steps, job.total_steps = p.done, p.job_total
            if now - state["progress"] >= cfg.progress_every or p.step == p.total or p.done <= 1:
                state["progress"] = now
                self.emit(job, "progress", {
                    "step": p.step, "total": p.total, "level": p.level, "levels": p.levels, "done": p.done,
                    "job_total": p.job_total, "stage": p.stage, "size": list(p.size), "eta_s": eta(p),
                    "losses": {k: v for k, v in (p.losses or {}).items()
                               if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}})
            if want_preview and now - state["preview"] >= every and p.done < p.job_total:
                state["preview"] = now
                small = downscale(p.image(), psize)
                self.emit(job, "preview", {"step": p.step, "total": p.total, "level": p.level, "levels": p.levels,
                                           "done": p.done, "job_total": p.job_total},
                          image=rgb_to_image(small, alpha))
        return callback


def _is_oom(e: BaseException) -> bool:
    """A RuntimeError that is really an out-of-memory (CPU allocator, MPS, CUDA outside the engine)."""
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
