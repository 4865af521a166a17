"""Where the daemon keeps its log, on each system (standard library only).

- Linux and other Unix: ``$XDG_STATE_HOME/neural-style/daemon.log`` (default ``~/.local/state/...``)
- macOS: ``~/Library/Logs/neural-style/daemon.log``
- Windows: ``%LOCALAPPDATA%\\neural-style\\Logs\\daemon.log``

``NEURAL_STYLE_LOG`` overrides the file for everything (daemon, CLI, plug-in).

The session token (``session_token``) beside it says to the daemon which user a client acts for: kept
results and warm starts, a job's messages and ``status``'s details belong to it.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

APP = "neural-style"


def state_dir() -> Path:
    """The per-user folder for the daemon's log (not created here)."""
    home = Path.home()
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP / "Logs"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / APP
    base = os.environ.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(base) / APP


def default_log_path() -> Path:
    env = os.environ.get("NEURAL_STYLE_LOG")
    return Path(env) if env else state_dir() / "daemon.log"


def session_token() -> str:
    """This user's session token (``NEURAL_STYLE_SESSION``, else a random one kept in ``state_dir()``,
    readable by the user alone; created on first use): every client of the same user sends the same
    one, so a re-run from the command line or the plug-in finds its own kept results, and no other
    user's. Where the file cannot be kept, a token for this process only."""
    env = os.environ.get("NEURAL_STYLE_SESSION")
    if env:
        return env[:64]
    path = state_dir() / "session"
    try:
        token = path.read_text(encoding="ascii").strip()
        if 16 <= len(token) <= 64:
            return token
    except (OSError, UnicodeDecodeError):
        pass
    token = secrets.token_hex(16)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token)
    except OSError:
        pass
    return token
