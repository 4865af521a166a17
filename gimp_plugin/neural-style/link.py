"""The plug-in's conversation with the daemon, through ``shared.client`` (docs/protocol.md).

Finds the installer's settings and the ``shared`` package, makes sure a daemon answers (starting a
detached one with the configured Python), asks for estimates, submits, and follows the job's events:
``accepted`` (``position``: jobs ahead), ``progress`` (``position`` while waiting; ``estimate_s``, the
whole job's time estimated before its first step; level, step, ``eta_s`` while running), ``preview``,
and one ``result`` or ``error``. The socket work runs in a worker thread; everything the user sees goes
through a ``feedback`` object called on the caller's (GIMP's main) thread, so this module needs no
GIMP at all. What the events say in words is ``texts``.
"""
import json
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import List

from arguments import AUTO_TARGET_S
from texts import describe_error

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_NAME = "neural-style.json"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"


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
        client.ensure_daemon(endpoint, daemon_python(cfg), timeout=float(cfg.get("start_timeout", 120.0)),
                             install=cfg.get("project"))
    except client.DaemonError as e:
        raise UserError(describe_error(getattr(e, "code", "daemon_failed"),
                                       "the daemon at %s does not answer and could not be started (%s)"
                                       % (endpoint, e)))
    return endpoint


# ---- the estimate before the run --------------------------------------------------------------

def estimate(client, endpoint, width, height, options, timeout=3.0, target_s=AUTO_TARGET_S):
    """The daemon's estimate for a job of this size (``DaemonClient.estimate``), or None when no
    daemon answers, it has not measured its speed yet, or it is too old to know the request."""
    try:
        with client.DaemonClient(endpoint=endpoint, timeout=timeout) as daemon:
            info = daemon.estimate(width, height, options, target_s=target_s)
    except Exception:  # noqa: BLE001 - no estimate is never an error
        return None
    return info if info.get("seconds") is not None else None


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
