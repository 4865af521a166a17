"""Where the daemon keeps its log, on each system (standard library only).

- Linux and other Unix: ``$XDG_STATE_HOME/neural-style/daemon.log`` (default ``~/.local/state/...``)
- macOS: ``~/Library/Logs/neural-style/daemon.log``
- Windows: ``%LOCALAPPDATA%\\neural-style\\Logs\\daemon.log``

``NEURAL_STYLE_LOG`` overrides the file for everything (daemon, CLI, plug-in).
"""
from __future__ import annotations

import os
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
