"""``stylize`` and ``mix-styles``: restyle an image, here (``--local``) or through the daemon.

The transfer options are the engine's ``TransferOptions``: each of its fields is the flag of the same
name (``content_weight`` -> ``--content-weight``) with the field's default, so a new option needs a
field in the engine and one line of help here. Both ways of running end in ``finish``: write the
image (with the content's alpha), write the report, print one line, return the exit code. The first
Ctrl-C asks the run to stop and keeps the partial image (exit 130); a second one abandons it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from .. import __version__
from .common import (ENDPOINT_HELP, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, CliError, ProgressBar,
                     add_model_args, check_files, check_output_path, check_writable, endpoint_of, err, finite_float, float_list, memory_size,
                     model_spec, non_negative_int,
                     positive_int, progress_text, read_image, read_mask, resolve_weights, style_file, whole_number, write_image,
                     write_report)

# daemon error codes that mean "change the request" (exit 2) rather than "the daemon failed" (exit 1)
BAD_INPUT_CODES = {"bad_input", "empty_region", "bad_field", "bad_frames", "too_large", "not_finite", "bad_endpoint"}


# ---- the flags -----------------------------------------------------------------------------------
def _option_flags() -> dict:
    """TransferOptions field -> (help group, help text, argparse keywords). The flag's name, its
    default and (unless given here) its type come from the field itself."""
    from ..engine.options import COLOR_MODES, GUIDANCE_MODES, HISTOGRAM_METHODS, OPTIMIZERS, PROPAGATION_MODES
    from ..engine.presets import PRESETS, WORKING_SIZE
    from ..engine.scale import MIX_CUTS

    def preset(name):
        return "(default from --quality: " + ", ".join(f"{q} {p[name]}" for q, p in PRESETS.items() if name in p) + ")"

    return {
        "init": ("images", "content (the papers' start) | noise | last (start from the daemon's last result for "
                 "this content, resampled and re-masked: a quick re-run after changing a setting, --warm-steps) | "
                 "PATH of a starting image (its structure is kept: no coarse levels)", {}),
        "size": ("size and steps", "long edge of the output in pixels", dict(type=positive_int)),
        "steps": ("size and steps", f"optimisation steps at the working size {preset('steps')}",
                  dict(type=non_negative_int)),
        "levels": ("size and steps", f"coarse-to-fine pyramid levels, 1 = single scale {preset('levels')}",
                   dict(type=positive_int)),
        "coarse_steps": ("size and steps", f"steps at each coarser level {preset('coarse_steps')}",
                         dict(type=non_negative_int)),
        "working_size": ("size and steps", "long edge above which the pyramid goes on in finishing levels (fine "
                         f"style layers, the level below kept), each twice the last, up to --size; 0 = none "
                         f"(default from --quality: {WORKING_SIZE})", dict(type=non_negative_int, metavar="PX")),
        "finish_steps": ("size and steps", "steps of the first finishing level, halved at each further one "
                         f"{preset('finish_steps')}", dict(type=non_negative_int)),
        "warm_steps": ("size and steps", "steps at the working size of a warm start (--init last) "
                       "(default: a quarter of --steps, at least 15)", dict(type=non_negative_int)),
        "content_weight": ("loss", "alpha, weight of the content loss", {}),
        "style_weight": ("loss", "beta, weight of the style loss", {}),
        "style_blend": ("loss", "weights of the style images (default equal)", dict(type=float_list, metavar="W,W,...")),
        "style_scale": ("loss", "style image pixels relative to the output's (larger = finer strokes)", {}),
        "color": ("colour control", "full | luminance (keep the content's colours) | histogram (recolour the "
                  "style first)", dict(choices=COLOR_MODES)),
        "histogram_method": ("colour control", "colour matching for --color histogram", dict(choices=HISTOGRAM_METHODS)),
        "guidance": ("spatial control", "gram: guided Gram (quality) | sums: guided sums (cheap)",
                     dict(choices=GUIDANCE_MODES)),
        "propagation": ("spatial control", "guide propagation to the layers", dict(choices=PROPAGATION_MODES)),
        "guide_grow": ("spatial control", "grow (+K) or shrink (-K) the propagated guides by K feature pixels", {}),
        "global_guide": ("spatial control", "add the 2017 paper's global guidance channel", {}),
        "scale_mix": ("scale control", "use the mix of two --style images: coarse structure of COARSE, fine "
                      "texture of FINE", dict(nargs=2, type=whole_number, metavar=("COARSE", "FINE"))),
        "mix_steps": ("scale control", "steps of the style mixing (default: --steps)", dict(type=non_negative_int)),
        "mix_cut": ("scale control", "the deepest layer the fine style sets in the mix (default: by size, the "
                    "authors' rule: relu2_1 at 512 px, relu4_1 at 1024 px)", dict(choices=MIX_CUTS)),
        "optimizer": ("optimiser", "lbfgs | adam", dict(choices=OPTIMIZERS)),
        "lbfgs_history": ("optimiser", "L-BFGS history length", dict(type=positive_int)),
        "learning_rate": ("optimiser", "Adam step in 0-255 pixel units", {}),
        "seed": ("optimiser", "random seed (same seed + CPU = same result)", {}),
        "fast": ("optimiser", "fp32 everywhere (no bf16 on the GPU)", dict(flag="--precise")),
        "tile": ("memory", "run each level in exact tiles of at most PX pixels (a multiple of 16; the same "
                 "result as untiled). 0 = only when the level would not fit the memory budget",
                 dict(type=non_negative_int, metavar="PX")),
    }


def _add_option(group, f: dataclasses.Field, help_text: str, kw: dict) -> None:
    """One TransferOptions field as a flag. Its value stays None unless given, so --quality's preset
    and then the field's default apply (build_job)."""
    kw = dict(kw)
    flag = kw.pop("flag", "--" + f.name.replace("_", "-"))
    if isinstance(f.default, bool):   # a switch that turns the default around
        kw["action"] = "store_false" if f.default else "store_true"
    else:
        kw.setdefault("type", {int: whole_number, float: finite_float}.get(type(f.default), str))
        if f.default is not None and "(default" not in help_text:
            help_text += f" (default {f.default})"
    group.add_argument(flag, dest=f.name, default=None, help=help_text, **kw)


def add_stylize_args(p) -> None:
    from ..engine import PRESETS, TransferOptions

    flags = _option_flags()
    groups = {}

    def group(name):
        if name not in groups:
            groups[name] = p.add_argument_group(name)
        return groups[name]

    def options_of(name):
        for f in dataclasses.fields(TransferOptions):
            if f.name in flags and flags[f.name][0] == name:
                _add_option(group(name), f, *flags[f.name][1:])

    g = group("images")
    g.add_argument("-c", "--content", required=True, help="the image to restyle")
    g.add_argument("-s", "--style", required=True, action="append", type=style_file,
                   help="a style image, or gallery:NAME for a painting of the built-in gallery (`python -m daemon "
                        "gallery` lists them); repeat for several, indices 0, 1, ...")
    g.add_argument("-o", "--output", required=True, help="where to write the result (.png keeps the content's alpha)")
    options_of("images")
    group("size and steps").add_argument("--quality", default="standard", choices=list(PRESETS),
                                         help="preset for levels and steps; --steps/--levels override it (default standard)")
    for name in ("size and steps", "loss", "colour control"):
        options_of(name)
    group("spatial control").add_argument(
        "--region", action="append", metavar="CONTENT_MASK=K[:STYLE_MASK]",
        help="style K (0-based --style index) inside CONTENT_MASK (white = inside), optionally taken from "
             "STYLE_MASK of that style; repeatable")
    for name in ("spatial control", "scale control", "optimiser", "memory"):
        options_of(name)
    group("memory").add_argument(
        "--memory-budget", type=memory_size, default=None, metavar="SIZE",
        help="most memory the job may use, e.g. 2GB or 500MB: a level over it runs in exact tiles "
             "(through the daemon its own budget, `serve --memory-budget`, still caps it)")
    missing = set(f.name for f in dataclasses.fields(TransferOptions)) - set(flags)
    assert not missing, f"TransferOptions fields without a flag: {sorted(missing)}"
    g = group("output and progress")
    g.add_argument("--preview-dir", help="save an intermediate image every few steps into this folder")
    g.add_argument("--preview-every", type=positive_int, default=10, help="steps between previews (default 10)")
    g.add_argument("--report", help="write a JSON report (options, steps and time per level, losses, device)")
    g.add_argument("--keep-partial", action="store_true",
                   help="when the daemon stops before the job ends, still write the image so far over --output "
                        "(otherwise nothing is written; Ctrl-C always writes the image so far)")
    g.add_argument("--local", action="store_true", help="run in this process instead of the daemon")
    add_model_args(p)
    p.add_argument("--endpoint", default=None, help=ENDPOINT_HELP)


def add_commands(sub) -> None:
    """Register ``stylize`` and ``mix-styles``. The stylize flags come from the engine's options, so
    they are added (and the engine imported) only when ``stylize`` is the command."""
    p = sub.add_parser("stylize", help="restyle an image", description="Restyle --content in the style of --style image(s).",
                       add_arguments=add_stylize_args)
    p.set_defaults(func=cmd_stylize)
    p = sub.add_parser("mix-styles", help="mix two styles: coarse structure of one, fine texture of the other")
    p.add_argument("--coarse", required=True, type=style_file, help="style image (or gallery:NAME) giving the coarse structure")
    p.add_argument("--fine", required=True, type=style_file, help="style image (or gallery:NAME) giving the fine texture")
    p.add_argument("--output", required=True, help="where to write the mixed style image")
    p.add_argument("--size", type=positive_int, default=512, help="long edge in pixels (default 512)")
    p.add_argument("--steps", type=non_negative_int, default=200, help="optimisation steps (default 200)")
    p.add_argument("--seed", type=whole_number, default=0)
    add_model_args(p)
    p.set_defaults(func=cmd_mix_styles)
    p = sub.add_parser("gallery", help="list the built-in gallery's paintings (--style gallery:NAME)")
    p.set_defaults(func=cmd_gallery)




# ---- the job -------------------------------------------------------------------------------------
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
    last: bool = False                  # --init last: the daemon's kept result for this content


def _parse_region(spec: str, n_styles: int, read: list):
    """A --region flag -> an engine Region; the mask files it reads are added to ``read``."""
    from ..engine import Region

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
    read.append(("region mask", mask_path))
    if style_mask_path:
        read.append(("style mask", style_mask_path))
    return Region(content_mask=read_mask(mask_path, "region mask"), style=index,
                  style_mask=read_mask(style_mask_path, "style mask") if style_mask_path else None)


def build_job(args) -> Job:
    """The parsed flags -> a Job: images read, options = the field defaults, then the --quality preset,
    then every flag given."""
    from ..engine import TransferOptions, apply_preset
    from ..engine.options import INIT_MODES

    check_output_path(args.output)
    if args.weights:
        args.weights = resolve_weights(args.weights)
    content, alpha = read_image(args.content, "content image")
    styles = [read_image(p, "style image")[0] for p in args.style]
    read = [("content image", args.content)] + [("style image", p) for p in args.style]
    regions = [_parse_region(spec, len(styles), read) for spec in args.region or []]
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TransferOptions)
             if getattr(args, f.name, None) is not None}
    init_image, last = None, given.get("init") == "last"
    if last:                                   # the submit field init: "last", not an engine option
        given["init"] = "content"
    elif given.get("init") not in (None, *INIT_MODES):
        init_image = read_image(given["init"], "initial image")[0]
        read.append(("initial image", given["init"]))
        given["init"] = "content"
    base = TransferOptions()
    base = apply_preset(base, args.quality)
    options = dataclasses.replace(base, **given)
    options.validate(len(styles), content.shape[:2])
    check_files({"output": args.output, "report": args.report}, read)   # nothing of the user's destroyed
    check_writable(args.output, "output")       # before the job: nothing computed is then lost
    if args.report:
        check_writable(args.report, "report")
    if args.preview_dir:
        check_writable(args.preview_dir, "preview folder", folder=True)
    return Job(content=content, content_alpha=alpha, styles=styles, regions=regions, init_image=init_image,
               options=options, output=args.output, report=args.report, preview_dir=args.preview_dir,
               preview_every=args.preview_every,
               names={"content": args.content, "styles": list(args.style)}, last=last)


# ---- stylize -------------------------------------------------------------------------------------
def cmd_stylize(args) -> int:
    if not args.local:
        endpoint_of(args)
    job = build_job(args)
    return run_local(job, args) if args.local else run_remote(job, args)


def finish(job: Job, rgb, report: dict, cancelled: bool, t0: float, **about) -> int:
    """The end of every stylize: the image (with the content's alpha), the report, one line, the exit code."""
    write_image(job.output, rgb, job.content_alpha)
    wall = time.perf_counter() - t0
    report = dict(report, output=os.path.abspath(job.output), wall_seconds=round(wall, 3), inputs=job.names,
                  version=__version__, **about)
    if job.report:
        write_report(job.report, report)
    cache = report.get("cache") or {}
    reused = " (style targets reused from the daemon's cache)" if cache.get("style_hits") and \
        not cache.get("style_misses") else ""
    print(f"wrote {job.output} ({rgb.shape[1]}×{rgb.shape[0]}) in {wall:.1f} s{reused}"
          + (" (cancelled: partial result)" if cancelled else ""))
    return EXIT_CANCELLED if cancelled else EXIT_OK


def _write_preview(job: Job, done: int, rgb) -> None:
    write_image(os.path.join(job.preview_dir, f"preview_{done:05d}.png"), rgb)


@contextlib.contextmanager
def _first_interrupt_stops(bar: ProgressBar):
    """While inside: the first Ctrl-C only asks to stop (``should_stop()`` turns True), the second
    raises KeyboardInterrupt as usual."""
    stop = threading.Event()
    noted = []

    def should_stop() -> bool:
        if stop.is_set() and not noted:   # said here, not in the handler: no write inside a write
            noted.append(True)
            bar.note("cancelling (Ctrl-C again to abandon the job)...")
        return stop.is_set()

    def on_interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield should_stop
        return
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield should_stop
    finally:
        signal.signal(signal.SIGINT, previous)


def run_local(job: Job, args) -> int:
    """``stylize --local``: the engine in this process."""
    from ..engine import load_model, stylize

    about = {}
    if job.last:   # no daemon, no kept results: the content, and say so
        sys.stderr.write("note: --init last needs the daemon's kept results; --local starts from the content\n")
        about["init"] = "content"
    bar = ProgressBar()
    model = load_model(model_spec(args))
    if job.preview_dir:
        os.makedirs(job.preview_dir, exist_ok=True)

    def callback(p):
        if p.tile is not None:   # between the tiles of a step under way
            if bar.due(p.done, p.job_total):
                bar.update(p.done, p.job_total, progress_text(p.stage, p.level, p.levels, p.step, p.total)
                           + f" tile {p.tile[0]}/{p.tile[1]}")
            return
        if bar.due(p.done, p.job_total):
            bar.update(p.done, p.job_total,
                       progress_text(p.stage, p.level, p.levels, p.step, p.total, p.losses["total"]))
        if job.preview_dir and (p.done % job.preview_every == 0 or p.done == p.job_total):
            _write_preview(job, p.done, p.image())

    t0 = time.perf_counter()
    with _first_interrupt_stops(bar) as should_stop:
        result = stylize(model, job.content, job.styles, job.options, regions=job.regions,
                         init_image=job.init_image, callback=callback, should_stop=should_stop,
                         memory_budget=getattr(args, "memory_budget", None))
    bar.close()
    return finish(job, result.image, result.report.as_dict(), result.cancelled, t0, mode="local", **about)


def _daemon_args(args) -> list:
    """The model flags that differ from the defaults, for a daemon started on demand."""
    extra = []
    for opt, default in (("device", "auto"), ("weights", "original"), ("pooling", "avg")):
        v = getattr(args, opt, default)
        if v is not None and v != default:
            extra += [f"--{opt}", str(v)]
    return extra


def run_remote(job: Job, args) -> int:
    """``stylize`` through the daemon at args.endpoint, starting it (detached) when none answers."""
    from shared.client import DaemonClient, DaemonError, ensure_daemon
    from ..service.convert import image_to_rgb, submit_fields
    from ..service.server import INSTALL

    endpoint = endpoint_of(args)
    t0 = time.perf_counter()
    try:
        info = ensure_daemon(endpoint, sys.executable, timeout=180.0, extra_args=_daemon_args(args), install=INSTALL)
    except DaemonError as e:
        err(e.message)
        return EXIT_ERROR
    want = args.device
    if want not in (None, "auto") and str(info.get("device")) != want:
        sys.stderr.write(f"note: the daemon at {endpoint} runs on {info.get('device')}; --device {want} applies "
                         f"when it starts (`python -m daemon stop` first, or use --local)\n")
    bar = ProgressBar()
    result = None
    if job.preview_dir:
        os.makedirs(job.preview_dir, exist_ok=True)
    try:
        with DaemonClient(endpoint, timeout=30.0) as c:
            c.hello("neural-style cli")
            fields = submit_fields(job.content, job.styles, job.options, job.content_alpha, job.regions,
                                   job.init_image, preview=bool(job.preview_dir))
            if job.last:   # the daemon's last result for this content
                fields["init"] = "last"
            job_id = c.submit(label=os.path.basename(job.output), memory_budget=getattr(args, "memory_budget", None),
                              **fields)
            cancelling = False
            while result is None:
                try:
                    for ev in c.events(job_id):
                        result = _on_event(ev, job, bar)
                        if result is not None:
                            break
                    else:
                        break
                except KeyboardInterrupt:
                    if cancelling:
                        raise
                    cancelling = True
                    bar.note("cancelling (Ctrl-C again to abandon the job)...")
                    c.cancel(job_id)
    except DaemonError as e:
        bar.close()
        err(e.message)
        return EXIT_BAD_INPUT if e.code in BAD_INPUT_CODES else EXIT_ERROR
    bar.close()
    if result is None:
        err(f"the daemon at {endpoint} ended the job without a result; see its log (`python -m daemon status`)")
        return EXIT_ERROR
    if result.get("type") == "error":
        err(result.get("message", "the daemon failed"))
        return EXIT_BAD_INPUT if result.get("code") in BAD_INPUT_CODES else EXIT_ERROR
    report = result.get("report") or {}
    if report.get("stopped_by") == "daemon" and not args.keep_partial:
        err(f"the daemon at {endpoint} stopped before the job finished ({report.get('steps_done', 0)} steps "
            f"done); nothing was written (--keep-partial writes the image so far)")
        return EXIT_ERROR
    rgb, _alpha = image_to_rgb(result["image"])
    return finish(job, rgb, report, bool(result.get("cancelled")), t0, mode="daemon", endpoint=endpoint)


def _on_event(ev: dict, job: Job, bar: ProgressBar) -> Optional[dict]:
    """Show one event; returns it when it ends the job (result or error)."""
    from ..service.convert import image_to_rgb

    t = ev.get("type")
    if t in ("result", "error"):
        return ev
    if t == "accepted" and ev.get("position"):
        sys.stderr.write(f"queued: {ev['position']} job(s) ahead\n")
    elif t == "progress":
        if ev.get("message"):
            bar.note(ev["message"])
        if ev.get("job_total"):
            text = progress_text(ev.get("stage"), int(ev.get("level") or 0), ev.get("levels") or 1, ev.get("step"),
                                 ev.get("total"), (ev.get("losses") or {}).get("total"))
            if ev.get("tiles"):
                text += f" tile {ev.get('tile')}/{ev['tiles']}"
            bar.update(ev.get("done") or 0, ev["job_total"], text, ev.get("eta_s"))
    elif t == "preview" and job.preview_dir:
        _write_preview(job, int(ev.get("done") or 0), image_to_rgb(ev["image"])[0])
    return None


# ---- mix-styles ----------------------------------------------------------------------------------
def cmd_gallery(args) -> int:
    """The gallery's paintings: the name to give --style, the painting, its size and file."""
    from shared import gallery
    width = max(len(p.name) for p in gallery.PAINTINGS)
    for p in gallery.PAINTINGS:
        hint = "; recommended: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in p.recommended.items()) \
            if p.recommended else ""
        print(f"gallery:{p.name:<{width}}  {p.caption}, {p.size[0]}×{p.size[1]}{hint}")
    print(f"\nfiles and licences: {gallery.FOLDER} (LICENSES.md); use as --style gallery:NAME")
    return EXIT_OK


def cmd_mix_styles(args) -> int:
    from ..engine import load_model, mix_styles

    check_output_path(args.output)
    coarse, _ = read_image(args.coarse, "coarse style image")
    fine, _ = read_image(args.fine, "fine style image")
    check_files({"output": args.output}, [("coarse style image", args.coarse), ("fine style image", args.fine)])
    check_writable(args.output, "output")
    model = load_model(model_spec(args))
    bar = ProgressBar()
    mixed = mix_styles(model, coarse, fine, size=args.size, steps=args.steps, seed=args.seed,
                       callback=lambda p: bar.update(p.done, p.job_total, f"step {p.step}/{p.total}"))
    bar.close()
    write_image(args.output, mixed)
    print(f"wrote {args.output} ({mixed.shape[1]}×{mixed.shape[0]})")
    return EXIT_OK
