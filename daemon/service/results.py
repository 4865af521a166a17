"""Kept results: the last image of recent jobs, so that a re-run can start where the artist left off.

An artist changes a weight, the colour mode or the selection and runs again; the new optimum lies
close to the last result, not to the photo. The daemon keeps the last result of each recent content
(``ResultStore``: keyed by its owner, the user a client acts for (``server.owner_of``), and the
content's pixels, bounded by bytes, least recently used dropped first)
and a submit with ``init: "last"`` starts from it (``warm_start``): the kept image resampled and
re-masked to the new regions, its luminance retuned where the run turns luminance-only, by the
engine's ``engine.warm`` (the maths and its equations live there). The engine gets the result as an
ordinary init image and knows nothing of this store.

A cancelled job's image is kept too (nothing the artist did is lost); a result larger than the whole
bound is simply not kept.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from ..engine import warm

DEFAULT_KEEP_BYTES = 256 * 10 ** 6   # ~85 results of 1 megapixel


def content_key(data: bytes, width: int, height: int) -> str:
    """The store's key: a hash of the content's pixel bytes (the wire's RGBA) and its size."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{width}x{height}:".encode())
    h.update(data)
    return h.hexdigest()


@dataclass
class Kept:
    """One kept result: the image at the size the engine worked at, and what it was made with."""

    image: np.ndarray                      # uint8 H×W×3, the working size
    options: dict                          # the TransferOptions it ran with (to_dict)
    cancelled: bool = False
    job: str = ""
    at: float = field(default_factory=time.time)

    @property
    def size(self) -> Tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + 512

    def describe(self) -> dict:
        return {"job": self.job, "size": [self.size[1], self.size[0]], "cancelled": self.cancelled,
                "age_s": round(time.time() - self.at, 1)}


class ResultStore:
    """content key -> Kept, at most ``max_bytes`` in all (0 keeps nothing); thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_KEEP_BYTES):
        self.max_bytes = max(0, int(max_bytes))
        self._items: "OrderedDict[str, Kept]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.counts = {"kept": 0, "not_kept": 0, "evicted": 0, "hits": 0, "misses": 0}

    def put(self, key: str, kept: Kept) -> bool:
        """Keep ``kept`` as the last result of ``key`` (replacing the one before); False when it is
        larger than the whole bound (then the earlier one is dropped too: it is no longer the last)."""
        n = kept.nbytes
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if n > self.max_bytes:
                self.counts["not_kept"] += 1
                return False
            self._items[key] = kept
            self._bytes += n
            self.counts["kept"] += 1
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
                self.counts["evicted"] += 1
            return True

    def get(self, key: str) -> Optional[Kept]:
        with self._lock:
            kept = self._items.get(key)
            if kept is None:
                self.counts["misses"] += 1
                return None
            self._items.move_to_end(key)
            self.counts["hits"] += 1
            return kept

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes, "max_bytes": self.max_bytes, **self.counts}


def warm_start(kept: Kept, content: np.ndarray, size_hw: Tuple[int, int], regions=(),
               color: str = "full") -> np.ndarray:
    """The init image of a warm re-run at ``size_hw`` from ``kept`` (``engine.warm.warm_start``): its
    luminance is retuned where the new run is luminance-only and the kept one was not. uint8 H×W×3."""
    retune = color == "luminance" and kept.options.get("color") != "luminance"
    return warm.warm_start(kept.image, content, size_hw, regions, retune)
