"""The daemon: a ZeroMQ service around the engine (``python -m daemon serve``).

- ``server``: the ROUTER loop, job queue, heartbeat lease, previews, caches, memory fallback, log.
- ``jobs``: jobs and the FIFO queue (one job at a time per device).
- ``convert``: wire frames <-> numpy arrays, option dicts <-> TransferOptions.
- ``memory``: the memory estimate before a job and the fallback plan.

The wire format itself lives in ``shared.protocol`` (standard library only, shared with the
plug-in); docs/protocol.md describes it.
"""
