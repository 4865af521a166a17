"""Jobs and the FIFO queue: one job runs at a time per device, the others wait and know their place.

The queue is the one record of the jobs the daemon holds (waiting or running): ``find`` a job by
id, the jobs ``held_by`` a client (what a heartbeat reply lists). ``job_message`` is the frames of a
message about a job for its client.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, List, Optional, Tuple

from shared.protocol import encode

from .convert import json_safe

_counter = itertools.count(1)
_prefix = os.urandom(2).hex()   # job ids differ across daemon restarts


LABEL_MOST = 80      # characters of a label kept for the log and status


def new_job_id() -> str:
    return f"{_prefix}-{next(_counter)}"


def clean_label(text: str, most: int = LABEL_MOST) -> str:
    """A label safe for one log line: characters that are not printable (newlines, controls, lone
    surrogates...) written as escapes (\\n, \\x1b, \\ud800), at most ``most`` characters."""
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return out if len(out) <= most else out[: most - 1] + "\u2026"


@dataclass
class Job:
    id: str
    client: bytes                      # ROUTER identity of the client that submitted it
    request: dict                      # the decoded submit fields (ImageData/MaskData inside)
    label: str = ""                    # clean_label'd
    nbytes: int = 0                    # the bytes of its images, held while it waits
    owner: str = ""                    # who it belongs to (server.owner_of): its kept result, its details
    created: float = field(default_factory=time.monotonic)
    started: Optional[float] = None
    state: str = "queued"              # queued | running | done
    cancel: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False              # its client vanished: nothing more is sent
    shutdown: bool = False             # cancelled because the daemon is stopping, not by its client
    done_steps: int = 0
    total_steps: int = 0

    def should_stop(self) -> bool:
        return self.cancel.is_set()

    def summary(self, with_label: bool = True) -> dict:
        """What ``status`` shows; the label only to the job's own client."""
        now = time.monotonic()
        out = {"job": self.id, "state": self.state, "label": self.label if with_label else "",
               "waited_s": round((self.started or now) - self.created, 2)}
        if self.started is not None:
            out.update(running_s=round(now - self.started, 2), done=self.done_steps, job_total=self.total_steps)
        return out


def job_message(job: Job, type_: str, fields: dict, image: Any = None) -> List[Any]:
    """The frames of a ``type_`` message about ``job`` (with an image for previews and results)."""
    body = {**json_safe(fields), "job": job.id}
    if image is not None:
        body["image"] = image
    return encode(type_, body)


class JobQueue:
    """FIFO of waiting jobs plus the running one; thread-safe (main thread adds, worker takes).

    What may wait (``refusal``): at most ``max_waiting`` jobs holding ``max_bytes`` of images in all,
    and one client at most half of each (at least one job), so another client always finds room.
    """

    def __init__(self, max_waiting: int = 32, max_bytes: Optional[int] = None):
        self.max_waiting = max_waiting
        self.max_bytes = max_bytes
        self.client_places = max(1, max_waiting // 2)
        self.client_bytes = None if max_bytes is None else max_bytes // 2
        self._waiting: Deque[Job] = deque()
        self.running: Optional[Job] = None
        self._cond = threading.Condition()
        self.closed = False

    def put(self, job: Job) -> int:
        """Add a job; returns its position (number of jobs ahead of it, the running one included)."""
        with self._cond:
            self._waiting.append(job)
            pos = len(self._waiting) - 1 + (1 if self.running is not None else 0)
            self._cond.notify()
            return pos

    def full(self) -> bool:
        with self._cond:
            return len(self._waiting) >= self.max_waiting

    def refusal(self, client: bytes, nbytes: int) -> Optional[Tuple[str, str]]:
        """(code, sentence) when a job of ``nbytes`` from ``client`` may not wait now; None when it may."""
        mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
        with self._cond:
            mine = [j for j in self._waiting if j.client == client]
            mine_bytes = sum(j.nbytes for j in mine)
            all_bytes = sum(j.nbytes for j in self._waiting)
            n = len(self._waiting)
        if self.client_bytes is not None and nbytes > self.client_bytes:
            return "too_large", (f"this job's images are {mb(nbytes)}; one client may have at most "
                                 f"{mb(self.client_bytes)} waiting")
        if len(mine) >= self.client_places:
            return "busy", (f"you already have {len(mine)} jobs waiting, the most one client may have "
                            f"(others need room too); submit again when one has finished")
        if self.client_bytes is not None and mine_bytes + nbytes > self.client_bytes:
            return "busy", (f"your waiting jobs hold {mb(mine_bytes)} of images and this one {mb(nbytes)}; one "
                            f"client may have at most {mb(self.client_bytes)} waiting; submit again when one "
                            f"has finished")
        if n >= self.max_waiting:
            return "queue_full", f"{self.max_waiting} jobs are already waiting; try again when some have finished"
        if self.max_bytes is not None and all_bytes + nbytes > self.max_bytes:
            return "queue_full", (f"the waiting jobs already hold {mb(all_bytes)} of images (at most "
                                  f"{mb(self.max_bytes)}); try again when some have finished")
        return None

    def take(self, timeout: float = 0.5) -> Optional[Job]:
        """Next job for the worker (marks it running), or None after ``timeout`` / when closed."""
        with self._cond:
            if not self._waiting and not self.closed:
                self._cond.wait(timeout)
            if not self._waiting or self.closed:
                return None
            job = self._waiting.popleft()
            job.state, job.started = "running", time.monotonic()
            self.running = job
            return job

    def finish(self, job: Job) -> None:
        with self._cond:
            job.state = "done"
            if self.running is job:
                self.running = None

    def remove(self, job: Job) -> bool:
        """Take a waiting job out of the queue; False when it is not waiting (running or done)."""
        with self._cond:
            try:
                self._waiting.remove(job)
            except ValueError:
                return False
            job.state = "done"
            return True

    def held(self) -> List[Job]:
        """Every job still held: the running one first, then the waiting ones in order."""
        with self._cond:
            return ([self.running] if self.running is not None else []) + list(self._waiting)

    def find(self, job_id: str) -> Optional[Job]:
        return next((j for j in self.held() if j.id == job_id), None)

    def held_by(self, client: bytes) -> List[Job]:
        return [j for j in self.held() if j.client == client]

    def waiting(self) -> List[Job]:
        with self._cond:
            return list(self._waiting)

    def positions(self) -> List[tuple]:
        """(job, position) for each waiting job."""
        with self._cond:
            ahead = 1 if self.running is not None else 0
            return [(j, ahead + i) for i, j in enumerate(self._waiting)]

    def close(self) -> List[Job]:
        """Stop handing out jobs; returns the ones still waiting (removed)."""
        with self._cond:
            self.closed = True
            left = list(self._waiting)
            self._waiting.clear()
            for j in left:
                j.state = "done"
            self._cond.notify_all()
            return left
