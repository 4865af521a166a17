"""The daemon: a ZeroMQ service around the engine (``python -m daemon serve``).

- ``server``: the ROUTER loop and one handler per message type; ``serve`` starts it.
- ``jobs``: jobs and the FIFO queue (one job at a time per device), the record of the jobs held.
- ``sessions``: client sessions and their heartbeat leases.
- ``worker``: the engine thread: model load, memory plan, progress, previews, result.
- ``convert``: wire frames <-> numpy arrays, option dicts <-> TransferOptions.
- ``memory``: the memory estimate before a job and the out-of-memory policy (all of it).

The wire format itself lives in ``shared.protocol`` (standard library only, shared with the
plug-in); docs/protocol.md describes it. The commands that start, query and stop the daemon are
the command line's (``daemon.cli.daemon_cmds``); this package never imports the command line.
"""
