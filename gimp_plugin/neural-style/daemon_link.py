"""The plug-in's conversation with the daemon, through ``shared.client`` (docs/protocol.md).

Finds the installer's settings and the ``shared`` package, makes sure a daemon answers (starting a
detached one with the configured Python), submits, and follows the job's events: ``accepted``
(``position``: jobs ahead), ``progress`` (``position`` while waiting; ``estimate_s``, the whole job's
time estimated before its first step; level, step, ``eta_s`` while running), ``preview``, and one
``result`` or ``error``. The socket work runs in a worker thread;
everything the user sees goes through a ``feedback`` object called on the caller's (GIMP's main)
thread, so this module needs no GIMP at all.
"""
import json
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_NAME = "neural-style.json"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"

HINTS = {
    "no_daemon": "Run 'python install.py --check' in the project folder to see why it does not start.",
    "daemon_failed": "Run 'python install.py --check' in the project folder to see why it does not start.",
    "timeout": "The daemon stopped answering; its log is shown by 'python -m daemon status'.",
    "version_mismatch": "The plug-in and the daemon are from different versions: run "
                        "'python install.py' in the project folder again and restart GIMP.",
    "out_of_memory": "Lower 'Size' or choose a lower 'Quality', then try again.",
    "empty_region": "Select part of the layer (or select nothing to style all of it).",
    "weights_unavailable": "Run 'python install.py --check' in the project folder.",
    "queue_full": "Wait for the running jobs to finish, then try again.",
    "busy": "Wait for your other jobs to finish, then try again.",
    "too_large": "Lower 'Size', then try again.",
    "job_lost": "Nothing was changed in the image: run the filter again (Filters > Repeat).",
    "bad_endpoint": "Run 'python install.py --endpoint tcp://127.0.0.1:PORT' in the project folder to fix it.",
}


class UserError(Exception):
    """A problem the user can fix; its text is shown as a GIMP message (raised by every part of the
    plug-in; it lives here because this module needs no GIMP)."""


@dataclass
class Submission:
    """Exactly the fields of ``DaemonClient.submit`` (docs/protocol.md)."""
    content: object                       # ImageData: the source layer's pixels
    styles: List[object]                  # ImageData: main style first, then outside / fine styles
    regions: List[dict] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    preview: bool = False
    init: object = None                   # ImageData of the content's size to start from (None: the content)

    def send(self, daemon):
        """Submit to a connected ``DaemonClient``; returns the job id."""
        return daemon.submit(content=self.content, styles=self.styles, regions=self.regions,
                             options=self.options, init=self.init, preview=self.preview)


# ---- settings and the shared client -----------------------------------------------------------

def load_settings():
    """The installer's settings beside this file (python, endpoint, project), with env overrides."""
    cfg = {}
    path = os.path.join(HERE, CONFIG_NAME)
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
        except (OSError, ValueError):
            cfg = {}
    if os.environ.get("NEURAL_STYLE_ENDPOINT"):
        cfg["endpoint"] = os.environ["NEURAL_STYLE_ENDPOINT"]
    if os.environ.get("NEURAL_STYLE_PYTHON"):
        cfg["python"] = os.environ["NEURAL_STYLE_PYTHON"]
    return cfg


def import_client(cfg):
    """Import ``shared.client``: the installed copy beside this file, the project named in the
    settings, or the repository this file sits in (gimp_plugin/neural-style/ -> ../..)."""
    candidates = [HERE]
    if cfg.get("project"):
        candidates.append(cfg["project"])
    candidates.append(os.path.dirname(os.path.dirname(HERE)))
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "shared", "client.py")):
            if folder not in sys.path:
                sys.path.insert(0, folder)
            break
    try:
        from shared import client
    except ImportError as e:
        raise UserError(
            "The neural style plug-in cannot find its 'shared' package (%s). "
            "Run 'python install.py' in the project folder again, then restart GIMP." % e)
    return client


def daemon_python(cfg):
    """The Python that runs the daemon: the settings', else the project's .venv, else python3."""
    if cfg.get("python"):
        return cfg["python"]
    root = cfg.get("project") or os.path.dirname(os.path.dirname(HERE))
    for rel in ((".venv", "bin", "python"), (".venv", "Scripts", "python.exe")):
        p = os.path.join(root, *rel)
        if os.path.isfile(p):
            return p
    return "python3"


def configured_endpoint(client, cfg):
    """The daemon's endpoint: the settings', else the client's default."""
    endpoint = cfg.get("endpoint")
    if not endpoint:
        default = getattr(client, "default_endpoint", None)
        endpoint = default() if callable(default) else DEFAULT_ENDPOINT
    return endpoint


def ensure_daemon(client, cfg):
    """The endpoint of a daemon that answers, started (detached) when none does."""
    endpoint = configured_endpoint(client, cfg)
    try:
        client.ensure_daemon(endpoint, daemon_python(cfg), timeout=float(cfg.get("start_timeout", 120.0)))
    except client.DaemonError as e:
        raise UserError(describe_error(getattr(e, "code", "daemon_failed"),
                                       "the daemon at %s does not answer and could not be started (%s)"
                                       % (endpoint, e)))
    return endpoint


# ---- the estimate before the run, and the detail it suggests -----------------------------------

AUTO_TARGET_S = 60.0     # "Auto": the best quality that takes about a minute at full size on this device

DETAIL_CHOICES = (
    ("auto", "Auto: full size, about a minute",
     "The area's own pixels, in the best quality up to Quality that takes about a minute here "
     "(the time is shown when even the preview quality takes longer)"),
    ("full", "Full size, chosen quality", "The layer's (or the selection's) own pixels, in the Quality chosen"),
    ("size", "Custom size", "Size below: the long edge, in pixels, of what is computed, scaled up to the layer"),
)


def estimate(client, endpoint, width, height, options, timeout=3.0, target_s=AUTO_TARGET_S):
    """The daemon's estimate for a job of this size (``DaemonClient.estimate``), or None when no
    daemon answers, it has not measured its speed yet, or it is too old to know the request."""
    try:
        with client.DaemonClient(endpoint=endpoint, timeout=timeout) as daemon:
            info = daemon.estimate(width, height, options, target_s=target_s)
    except Exception:  # noqa: BLE001 - no estimate is never an error
        return None
    return info if info.get("seconds") is not None else None


def detail_size(detail, size, info, long_edge):
    """The Size to send for the Detail choice: "auto" and "full" -> 0 (the area's own pixels: the
    daemon's time budget decides the steps, never the size), "size" -> Size as given (a working
    size, scaled up to the layer)."""
    if detail in ("auto", "full"):
        return 0
    return int(size)


def detail_quality(detail, quality, info):
    """The quality preset to send: for Auto, the best one up to the chosen Quality that takes about a
    minute at full size (the daemon's ``fit_quality``; Quality itself when nothing is known)."""
    if detail == "auto" and info is not None and info.get("fit_quality"):
        return info["fit_quality"]
    return quality


def detail_text(detail, info, box):
    """The estimate line for the Detail choice (``info``: the daemon's estimate; for Auto its
    ``fit_quality`` and ``fit_seconds`` at the area's own size). Names the size actually computed."""
    w, h = box
    if info is None:
        return estimate_text(None, w, h)
    device = info.get("device", "?")
    if detail == "auto":
        quality = info.get("fit_quality")
        seconds = info.get("fit_seconds") if info.get("fit_seconds") is not None else info["seconds"]
        took = format_duration(seconds, coarse=True)
        what = ", %s quality" % quality if quality else ""
        if seconds > AUTO_TARGET_S * 1.5:
            return "Auto: %d×%d px (full size)%s takes about %s on %s." % (w, h, what, took, device)
        return "Auto: %d×%d px (full size)%s, about %s on %s." % (w, h, what, took, device)
    if detail == "full":
        return "Full size, %d×%d px: about %s on %s." % (
            w, h, format_duration(info["seconds"], coarse=True), device)
    return estimate_text(info, w, h)


def estimate_text(info, width, height):
    """The dialog's line: "About 3 h 10 min at 1920×1280 on cpu (the daemon's measured speed)"."""
    if info is None:
        return "The time is estimated once the daemon runs (it starts when you press OK)."
    size = int(info.get("size") or max(width, height))
    return "About %s at %d px on %s." % (format_duration(info["seconds"], coarse=True), size, info.get("device", "?"))


# ---- what the events say ----------------------------------------------------------------------

def describe_error(code, message):
    """The daemon's error as a message that says what to do."""
    text = "Neural style transfer failed: %s" % (message or code)
    if not text.endswith("."):
        text += "."
    hint = HINTS.get(code)
    return text + (" " + hint if hint else "")


def format_duration(seconds, coarse=False):
    """A time for a person: "40 s", "3 min 20 s", "5 h 06 min" (hours from 60 min on). ``coarse``
    (an estimate, not a count-down): whole minutes from 2 min on, "4 min"."""
    s = max(0, int(round(float(seconds))))
    if s >= 3600:
        m = int(round(s / 60.0))
        return "%d h %02d min" % (m // 60, m % 60)
    if s >= 120 and coarse:
        return "%d min" % int(round(s / 60.0))
    if s >= 60:
        return "%d min %02d s" % (s // 60, s % 60)
    return "%d s" % s


def format_eta(seconds):
    """The time left, as the progress text ends: ", about 3 min 20 s left", ", about 5 h 06 min left"."""
    if seconds is None:
        return ""
    return ", about %s left" % format_duration(seconds)


def size_note(size, width, height):
    """What the dialog and the progress say when the artist asked for a working size smaller than the
    layer: the result is scaled up to the layer. "" at full resolution (Size 0 or at least the layer)."""
    longest = max(int(width), int(height))
    if not size or int(size) >= longest:
        return ""
    return "working at %d px, scaled up to %d px" % (int(size), longest)


def queue_text(position, note=""):
    """``position`` = jobs ahead in the daemon's queue (0 = it runs now)."""
    if position:
        return "Neural style: waiting for %d job(s) ahead" % position
    return "Neural style: started" + (" (%s)" % note if note else "")


def job_estimate_text(seconds, note=""):
    """The daemon's estimate of the whole job, before its first step: "Neural style: about 4 min (estimated)"."""
    return "Neural style: %sabout %s (estimated)" % (note + "; " if note else "", format_duration(seconds, coarse=True))


def progress_text(ev, note=""):
    """One line for an ``accepted`` or ``progress`` event; ``note`` = ``size_note`` of the run."""
    if ev.get("type") == "accepted" or ev.get("position") is not None:
        return queue_text(ev.get("position") or 0, note)
    if ev.get("estimate_s") is not None:
        return job_estimate_text(ev["estimate_s"], note)
    if ev.get("message"):
        return "Neural style: %s" % ev["message"]
    parts = ["mixing the styles"] if ev.get("stage") == "mix" else []
    if ev.get("levels", 1) and ev.get("levels", 1) > 1:
        parts.append("level %d/%d" % (ev.get("level", 0) + 1, ev["levels"]))
    if ev.get("total"):
        parts.append("step %d/%d" % (ev.get("step", 0), ev["total"]))
    if ev.get("tiles"):     # a large step, between its tiles
        parts.append("tile %d/%d" % (ev.get("tile", 0), ev["tiles"]))
    return "Neural style: " + ", ".join(parts) + format_eta(ev.get("eta_s"))


def progress_fraction(ev):
    """How far the whole job is, 0..1, or None when the event does not say (a waiting job)."""
    if not ev.get("total"):
        return None
    if ev.get("job_total"):
        return min(1.0, float(ev.get("done", 0)) / float(ev["job_total"]))
    levels = max(1, int(ev.get("levels") or 1))
    total = max(1, int(ev.get("total") or 1))
    return min(1.0, (int(ev.get("level") or 0) + float(ev.get("step") or 0) / total) / levels)


# ---- the conversation -------------------------------------------------------------------------

class Conversation:
    """The daemon conversation in a worker thread (socket work only, never libgimp); ``events``
    receives every event, then ``{"type": "_done"}``. ``stop()`` makes the worker send a cancel:
    the daemon then answers with the image as it is."""

    def __init__(self, client, endpoint, submission):
        self.client = client
        self.endpoint = endpoint
        self.submission = submission
        self.events = queue.Queue()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="neural-style-daemon", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        daemon = None
        try:
            daemon = self.client.DaemonClient(endpoint=self.endpoint, timeout=30.0)
            job = self.submission.send(daemon)
            cancelled = False
            for ev in daemon.events(job, timeout=120.0):
                if self._stop.is_set() and not cancelled:
                    cancelled = True
                    daemon.cancel(job)
                self.events.put(ev)
                if ev.get("type") in ("result", "error"):
                    break
        except self.client.DaemonError as e:
            self.events.put({"type": "error", "code": getattr(e, "code", "internal"), "message": str(e)})
        except Exception as e:  # noqa: BLE001 - reported to the user, never lost
            self.events.put({"type": "error", "code": "internal", "message": "%s: %s" % (type(e).__name__, e)})
        finally:
            self.events.put({"type": "_done"})
            if daemon is not None:
                try:
                    daemon.close()
                except Exception:  # noqa: BLE001
                    pass


def stylize(client, endpoint, submission, feedback, report=None):
    """Submit and follow the job to its end; returns (ImageData, stopped).

    ``feedback`` (called on this thread): ``pump()`` between events, ``stop_requested`` (the user
    asked to stop and keep the image), ``show(event)`` for accepted/progress/preview events.
    ``report``: a dict that receives the result's report (docs/protocol.md, ``result``).
    """
    talk = Conversation(client, endpoint, submission)
    talk.start()
    result = error = None
    while True:
        feedback.pump()
        if feedback.stop_requested:
            talk.stop()
        try:
            ev = talk.events.get(timeout=0.05)
        except queue.Empty:
            continue
        kind = ev.get("type")
        if kind == "_done":
            break
        if kind == "result":
            result = (ev["image"], bool(ev.get("cancelled")))
            if report is not None:
                report.update(ev.get("report") or {})
        elif kind == "error":
            error = describe_error(ev.get("code"), ev.get("message"))
        else:
            feedback.show(ev)
    if error is not None:
        raise UserError(error)
    if result is None:
        raise UserError("Neural style transfer failed: the daemon ended the job without a result.")
    return result
