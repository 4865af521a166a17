"""The dialog's live preview: the area being styled, re-rendered by the daemon whenever a setting
changes, with no GIMP and no GTK here.

A worker thread owns its own daemon connection (a ``DaemonClient`` is used from one thread only).
The dialog calls ``request(submission)`` on every change of a setting; the newest request wins:

- requests closer together than ``debounce`` seconds are one request (a slider being dragged);
- a running job whose settings are outdated is cancelled (the daemon answers with its image so far);
- a first render of some content runs the preview preset from the photo (at the preview's size, at
  most 384 px); a re-render of content this preview has already rendered asks for ``init: "last"``,
  the daemon's kept result (this preview's own picture, resampled and re-masked), and the daemon
  plans it as a warm start (``plan.plan_job``: fewer steps, no coarse levels). A preview never starts
  from a picture it did not make: a new dialog's first render is from the photo;
- the daemon's ``preview`` events (every step: a preview is small) and its result come back as
  ``{"type": "image", ...}`` events, and what runs as ``{"type": "status", "text": ...}``.

The dialog drains ``events()`` on its own (GTK's) thread, e.g. from ``GLib.timeout_add``, so socket
work never blocks the dialog. When the daemon is busy, restarts or does not answer, the preview says
so and tries again; an error the artist must fix (no style, an empty region) is shown and not retried.
"""
import queue
import threading
import time
from dataclasses import replace

LONG_EDGE = 384            # the preview's long edge at most
DEBOUNCE_S = 0.3
RETRY_S = 2.0
QUALITY = "preview"        # the preview's preset; the quality the artist chose is what OK renders
RETRIED = ("no_daemon", "timeout", "job_lost", "busy", "queue_full", "daemon_failed", "out_of_memory")


def preview_size(options, width, height, long_edge=LONG_EDGE):
    """The preview's working long edge: the job's own size (0 = the content's), at most ``long_edge``."""
    full = max(int(width), int(height))
    asked = int(options.get("size") or 0) or full
    return max(16, min(asked, full, long_edge))


def preview_options(options, width, height, long_edge=LONG_EDGE, steps=None):
    """The daemon options of a preview of an area ``width`` × ``height`` whose run would send
    ``options``: its size (``preview_size``), the preview preset's own schedule (the daemon's warm
    rule on a re-render), ``steps`` when given."""
    options = dict(options)
    options["size"] = preview_size(options, width, height, long_edge)
    for name in ("levels", "steps", "coarse_steps"):
        options.pop(name, None)
    options["quality"] = QUALITY
    if steps is not None:
        options["steps"] = steps
    return options


class GalleryWarmer:
    """Warms the daemon's target cache with the gallery's style statistics for this dialog's preview,
    so that the first preview of a painting the artist picks starts with them. The statistics depend
    only on the painting and on the level's size (``engine.targets.style_targets``: keyed by the
    style's pixels and its size, not by the content), so each painting gets a job of zero steps on a
    plain grey picture of the preview's size; ``styles`` read the paintings as the dialog reads a
    picked one (the same pixels, the same cache key), one at a time. One job at a time, in a thread of its own;
    ``stop()`` (the artist asked for a render) cancels the job in flight and ends it."""

    LABEL = "gallery warm-up"

    def __init__(self, client, endpoint, styles, width, height, options, wanted=lambda: True):
        self.client, self.endpoint = client, endpoint
        self.wanted = wanted                # False once the artist has asked for a render
        self.styles = list(styles)
        w, h = int(width), int(height)
        self.options = preview_options(options, w, h, steps=0)
        s = self.options["size"] / float(max(w, h))
        self.size = max(1, int(round(w * s))), max(1, int(round(h * s)))   # the preview's level, as the daemon fits it
        self.options["size"] = max(self.size)
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="neural-style-gallery-warmer", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        w, h = self.size
        grey = self.client.ImageData(w, h, b"\x80\x80\x80\xff" * (w * h))
        try:
            with self.client.DaemonClient(endpoint=self.endpoint, timeout=10.0) as daemon:
                for read in self.styles:
                    if self._stop.is_set() or not self.wanted():
                        return
                    style = read()
                    job = daemon.submit(content=grey, styles=[style], options=self.options, label=self.LABEL)
                    for ev in daemon.events(job, timeout=60.0):
                        if self._stop.is_set():
                            daemon.cancel(job)
                            return
                        if ev.get("type") in ("result", "error"):
                            break
                    self.done += 1
        except Exception:  # noqa: BLE001 - a warm cache is a nicety: without it the preview only starts later
            return


class LivePreview:
    """Re-renders the newest submission in a worker thread; see the module's docstring."""

    def __init__(self, client, endpoint, long_edge=LONG_EDGE, debounce=DEBOUNCE_S, retry=RETRY_S,
                 steps=None, warm=True):
        self.client = client
        self.endpoint = endpoint
        self.long_edge = long_edge
        self.debounce = debounce
        self.retry = retry
        self.steps = steps                  # the preview's steps (None: what the quality says)
        self.warm = warm                    # start each re-render from this preview's last picture
        self.latest = None                  # the newest image shown (ImageData)
        self._rendered = None               # the content the daemon last rendered for us
        self._events = queue.Queue()
        self._lock = threading.Condition()
        self._wanted = None                 # (serial, submission, asked_at): the newest request
        self._serial = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="neural-style-preview", daemon=True)
        self._thread.start()

    # ---- the dialog's side (any thread) ---------------------------------------------------------
    def request(self, submission):
        """Render ``submission`` (a link.Submission); replaces any older request."""
        with self._lock:
            self._serial += 1
            self._wanted = (self._serial, submission, time.monotonic())
            self._lock.notify_all()

    def events(self):
        """Everything that happened since the last call (never blocks)."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout=5.0):
        """Stop: the running job is cancelled; returns once the worker ended (or ``timeout``)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout)

    # ---- the worker -----------------------------------------------------------------------------
    def _post(self, **ev):
        self._events.put(ev)

    def _newest(self):
        with self._lock:
            return self._wanted

    def _wait_for_request(self, after):
        """The newest request newer than serial ``after``, once no newer one came for ``debounce``
        seconds; None when closed."""
        with self._lock:
            while not self._closed and (self._wanted is None or self._wanted[0] <= after):
                self._lock.wait(0.5)
            if self._closed:
                return None
        while True:   # let a burst of changes settle
            with self._lock:
                if self._closed:
                    return None
                quiet = time.monotonic() - self._wanted[2]
                if quiet >= self.debounce:
                    return self._wanted
            time.sleep(self.debounce - quiet)

    def _outdated(self, serial):
        with self._lock:
            return self._closed or (self._wanted is not None and self._wanted[0] > serial)

    def _run(self):
        daemon, done = None, 0
        while True:
            wanted = self._wait_for_request(done)
            if wanted is None:
                break
            serial, submission, asked = wanted
            try:
                if daemon is None:
                    daemon = self.client.DaemonClient(endpoint=self.endpoint, timeout=10.0)
                    daemon.hello("neural-style live preview")
                self._render(daemon, serial, submission, asked)
                done = serial
            except self.client.DaemonError as e:
                code = getattr(e, "code", "internal")
                if daemon is not None:
                    try:
                        daemon.close()
                    except Exception:  # noqa: BLE001
                        pass
                    daemon = None
                if code in RETRIED:
                    self._post(type="status", text=_retry_text(code, self.retry), retrying=True)
                    self._sleep_unless_newer(serial, self.retry)
                else:
                    self._post(type="error", code=code, text=str(getattr(e, "message", e)))
                    done = serial
            except Exception as e:  # noqa: BLE001 - shown in the dialog, never a crash of GIMP's dialog
                self._post(type="error", code="internal", text="%s: %s" % (type(e).__name__, e))
                done = serial
        if daemon is not None:
            try:
                daemon.close()
            except Exception:  # noqa: BLE001
                pass

    def _sleep_unless_newer(self, serial, seconds):
        """Wait ``seconds`` before a retry, less when closed or when a newer request came."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._outdated(serial):
            time.sleep(0.05)

    def _render(self, daemon, serial, submission, asked):
        content = submission.content
        options = preview_options(submission.options, content.width, content.height, self.long_edge, self.steps)
        key = (content.width, content.height, hash(bytes(content.data)))
        again = self.warm and key == self._rendered     # this preview's own picture of this content
        sub = replace(submission, options=options, preview=True)
        job = daemon.submit(content=sub.content, styles=sub.styles, regions=sub.regions, options=sub.options,
                            init="last" if again else None, preview=True, preview_every=0.1,
                            preview_size=options["size"], label="live preview")
        self._post(type="status", text="Starting...", job=job)
        started, cancelled, first = time.monotonic(), False, True
        for ev in daemon.events(job, timeout=60.0):
            kind = ev.get("type")
            if not cancelled and self._outdated(serial):
                cancelled = True
                daemon.cancel(job)
            if kind == "progress":
                if ev.get("position"):
                    self._post(type="status", text="Waiting for %d job(s) ahead..." % ev["position"])
                elif ev.get("message"):
                    self._post(type="status", text=str(ev["message"]))
                elif ev.get("step") is not None:
                    self._post(type="status", text=_step_text(ev, time.monotonic() - started))
            elif kind in ("preview", "result") and ev.get("image") is not None:
                self.latest = ev["image"]
                self._rendered = key      # the daemon now holds a result for this content
                now = time.monotonic()
                self._post(type="image", image=ev["image"], final=kind == "result",
                           outdated=cancelled, first=first, since_request_s=now - asked,
                           step=ev.get("step"), total=ev.get("total"), level=ev.get("level"),
                           levels=ev.get("levels"))
                first = False
                if kind == "result" and not cancelled:
                    self._post(type="status", text="Preview ready (%.1f s)" % (now - started), settled=True,
                               since_request_s=now - asked)
            elif kind == "error":
                raise self.client.DaemonError(ev.get("code", "internal"), ev.get("message", ""))
            if kind in ("result", "error"):
                break


def _step_text(ev, elapsed):
    level = ""
    if (ev.get("levels") or 1) > 1:
        level = "level %d/%d, " % (int(ev.get("level") or 0) + 1, ev["levels"])
    return "Preview: %sstep %d/%d, %.1f s" % (level, int(ev.get("step") or 0), int(ev.get("total") or 0), elapsed)


def _retry_text(code, seconds):
    why = {
        "busy": "The daemon is busy with other work",
        "queue_full": "The daemon is busy with other work",
        "job_lost": "The daemon restarted",
        "timeout": "The daemon stopped answering",
        "out_of_memory": "The daemon ran out of memory",
    }.get(code, "The daemon does not answer")
    return "%s; the preview tries again in %g s..." % (why, seconds)
