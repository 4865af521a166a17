"""``python -m daemon`` (and the ``neural-style`` script): the command line.

    python -m daemon stylize --content C --style S [--style S2 ...] --output OUT [options]
    python -m daemon mix-styles --coarse A --fine B --output M [--size PX]
    python -m daemon serve | status | stop
    python -m daemon bench                         (speed, side by side with pastiche)

One module per command group: ``stylize`` (stylize, mix-styles), ``daemon_cmds`` (serve, status,
stop), ``bench`` (the benchmark's flags); what they share (exit codes, argument types, image files,
the progress bar) is in ``common``. The command line uses the engine, the service's conversions and
``shared.client``; nothing in ``daemon.service`` or the engine imports it.

``stylize`` goes through the daemon (started on demand) unless ``--local`` runs it in this process.
Bad input exits with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import sys

from .. import __version__
from . import bench, daemon_cmds, stylize
from .common import (EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, CliError, Parser, ProgressBar,
                     add_model_args, int_at_least, read_image, read_mask, write_image, write_report)
from .stylize import Job, build_job

__all__ = ["main", "make_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_BAD_INPUT", "EXIT_CANCELLED", "CliError",
           "ProgressBar", "add_model_args", "int_at_least", "read_image", "read_mask", "write_image",
           "write_report", "Job", "build_job"]


def make_parser() -> Parser:
    parser = Parser(prog="python -m daemon",
                    description="Neural style transfer (Gatys et al.) for GIMP: engine, daemon and command line.")
    parser.add_argument("--version", action="version", version=f"neural-style {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    stylize.add_commands(sub)
    daemon_cmds.add_commands(sub)
    bench.add_commands(sub)
    return parser


def _is_bad_input(e: Exception) -> bool:
    """A CliError, or the engine's refusal (only possible once the engine is imported)."""
    errors = sys.modules.get(__package__.rpartition(".")[0] + ".engine.errors")
    return isinstance(e, CliError) or (errors is not None and isinstance(e, errors.EngineError))


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_CANCELLED
    except Exception as e:
        if not _is_bad_input(e):
            raise
        sys.stderr.write(f"\nerror: {e}\n" if getattr(sys.stderr, "isatty", lambda: False)() else f"error: {e}\n")
        return EXIT_BAD_INPUT
