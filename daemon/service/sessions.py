"""Client sessions and their leases.

A client is known by its ROUTER identity. Every message it sends renews its lease; a client silent
for longer than ``lease`` seconds has lost it, and the server drops its jobs (a GIMP plug-in that was
killed sends no cancel, only silence). ``clock`` is injectable so leases can be tested without
waiting.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Tuple


class Sessions:
    def __init__(self, lease: float, clock: Callable[[], float] = time.monotonic):
        self.lease = lease
        self.clock = clock
        self._seen: Dict[bytes, float] = {}

    def touch(self, client: bytes) -> None:
        """``client`` just sent a message: its lease starts again."""
        self._seen[client] = self.clock()

    def expire(self) -> List[Tuple[bytes, float]]:
        """Forget the clients whose lease ran out; returns (client, seconds silent) for each."""
        now = self.clock()
        gone = [(c, now - seen) for c, seen in self._seen.items() if now - seen > self.lease]
        for c, _ in gone:
            del self._seen[c]
        return gone

    def __contains__(self, client: bytes) -> bool:
        return client in self._seen

    def __len__(self) -> int:
        return len(self._seen)
