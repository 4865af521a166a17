"""What the daemon and its clients share: the wire protocol and the clients.

Standard library only: the GIMP plug-in imports this package with GIMP's bundled Python, which has
no numpy and (on Windows and macOS) no pyzmq.

- ``shared.protocol``: the versioned message format (a JSON header frame + raw pixel frames).
- ``shared.zmtp``: a small ZMTP 3.0 DEALER client, used when pyzmq cannot be imported.
- ``shared.client``: ``DaemonClient``, ``ensure_daemon`` — what the CLI and the plug-in use.
- ``shared.paths``: where the daemon writes its log on each system.
"""
