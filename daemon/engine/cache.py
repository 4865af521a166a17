"""A bounded LRU of computed targets (style Gram targets per style image/mask/size, content
features per content image/size), so a re-run with small changes skips recomputing them.

Keys are tuples built by the engine from a hash of the pixels and every option the value depends
on; values are dicts of tensors. Bounded by bytes; the least recently used entries go first.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Hashable, Optional

import numpy as np
import torch


def pixel_hash(array: Optional[np.ndarray]) -> str:
    if array is None:
        return "none"
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(str((a.shape, a.dtype.str)).encode())
    h.update(a.data)
    return h.hexdigest()


def _nbytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 64


class TargetCache:
    def __init__(self, max_bytes: int = 2 << 30):
        self.max_bytes = max_bytes
        self._items: "OrderedDict[Hashable, tuple]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.counts = {"style_hits": 0, "style_misses": 0, "content_hits": 0, "content_misses": 0}

    def get(self, kind: str, key: Hashable):
        with self._lock:
            item = self._items.get((kind, key))
            if item is None:
                self.counts[f"{kind}_misses"] += 1
                return None
            self._items.move_to_end((kind, key))
            self.counts[f"{kind}_hits"] += 1
            return item[0]

    def put(self, kind: str, key: Hashable, value) -> None:
        n = _nbytes(value)
        if n > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop((kind, key), None)
            if old is not None:
                self._bytes -= old[1]
            self._items[(kind, key)] = (value, n)
            self._bytes += n
            while self._bytes > self.max_bytes and self._items:
                _, (_, m) = self._items.popitem(last=False)
                self._bytes -= m

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> dict:
        with self._lock:
            kinds = [k for k, _ in self._items]
            return {"entries": len(self._items), "bytes": self._bytes, "max_bytes": self.max_bytes,
                    "style_entries": kinds.count("style"), "content_entries": kinds.count("content"),
                    **self.counts}
