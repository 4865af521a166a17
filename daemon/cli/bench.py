"""``bench``: the benchmark's command-line arguments; the measuring is ``daemon.bench``."""
from __future__ import annotations

from .common import positive_int


def add_commands(sub) -> None:
    p = sub.add_parser("bench", help="speed: our engine against pastiche, side by side on one device")
    p.add_argument("--device", default="auto")
    p.add_argument("--pooling", default="avg", choices=["avg", "max"])
    p.add_argument("--sizes", help="long edges, comma-separated (default 256,512; on a GPU 256,512,1024,2048)")
    p.add_argument("--steps", type=int, help="timed steps per measurement (default 5 on CPU, 50 on GPU)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 2 on CPU, 10 on GPU)")
    p.add_argument("--repeats", type=int, help="measurements per size, ours and pastiche alternating; the median counts (default 3)")
    p.add_argument("--pastiche-max-size", type=int, default=4096, help="skip pastiche above this size")
    p.add_argument("--no-pastiche", action="store_true")
    p.add_argument("--presets", default="preview,standard,high")
    p.add_argument("--preset-sizes", help="sizes for preset wall times (default 256 on CPU, 512,1024 on GPU; '' = none)")
    p.add_argument("--through-daemon", action="store_true",
                   help="also time the presets from request to result through a real (warm) daemon")
    p.add_argument("--parity-size", type=int, default=0, help="also compare fast vs fp32 final loss at this size")
    p.add_argument("--parity-steps", type=int, default=100)
    p.add_argument("--ttq", "--time-to-quality", dest="ttq", action="store_true",
                   help="time to quality: the wall time until each preset (and --schedule) reaches the objective "
                        "of pastiche after --pastiche-steps L-BFGS steps, as a ratio of pastiche's time "
                        "(default sizes 256,512; uses --sizes, --presets, --pooling, --device, --json)")
    p.add_argument("--pastiche-steps", type=positive_int, default=300, metavar="N",
                   help="with --ttq: pastiche's L-BFGS steps, its final objective is the bar (default 300)")
    p.add_argument("--schedule", action="append", default=[], metavar="NAME=VALUE,...",
                   help="with --ttq: also time this schedule, e.g. levels=3,steps=60,coarse_steps=100 "
                        "(any stylize option; preset=NAME starts from a preset); repeatable")
    p.add_argument("--pastiche-from", metavar="JSON",
                   help="with --ttq: take pastiche's time and objective from an earlier --ttq --json of the same "
                        "machine, sizes and --pastiche-steps instead of running it again")
    p.add_argument("--stop-when-reached", action="store_true",
                   help="with --ttq: end each of our jobs once it reaches pastiche's objective (saves bench "
                        "time; the 'whole job' and final objective are then those at that moment)")
    p.add_argument("--warm", action="store_true",
                   help="warm re-runs: after a run with the previous settings, a change of style weight, "
                        "colour mode or region run cold with all steps and warm (init last, the plan's warm start), "
                        "through a real daemon, both scored by the same fp32 objective (default size 256; uses "
                        "--sizes, --pooling, --device, --json)")
    p.add_argument("--warm-schedule", default="preset=standard", metavar="NAME=VALUE,...",
                   help="with --warm: the cold job's options, as --schedule (default preset=standard)")
    p.add_argument("--warm-changes", default="weight,colour,region", metavar="LIST",
                   help="with --warm: which changes (default weight,colour,region; also region-grow, region-shrink)")
    p.add_argument("--warm-steps", type=positive_int, metavar="N",
                   help="with --warm: the warm run's steps (default the plan's warm rule: a quarter of the "
                        "working level's steps, at least 15)")
    p.add_argument("--full-size", action="store_true",
                   help="layers styled at their own pixels with the dialog's defaults (Detail: Auto) through a real "
                        "daemon: time against the estimate, peak memory, detail and fine style statistics "
                        "(uses --full-sizes, --content, --style, --compare, --stop-after, --json)")
    p.add_argument("--full-sizes", metavar="WxH,...", help="with --full-size: layer sizes (default 1024x768)")
    p.add_argument("--content", metavar="PATH", help="with --full-size: the photo (default examples/chelsea.png)")
    p.add_argument("--style", metavar="PATH", help="with --full-size: the painting (default examples/starry_night.jpg)")
    p.add_argument("--compare", action="store_true",
                   help="with --full-size: also a 512-px standard job scaled up, and a plain standard job at full "
                        "size (up to 1024 px)")
    p.add_argument("--stop-after", type=float, metavar="S",
                   help="with --full-size: also stop a job S seconds in (in its last level) and time the stop")
    p.add_argument("--depths", action="store_true",
                   help="one forward + backward cut at relu5_1 (full objective) and at the finishing levels' "
                        "depth, at each of --sizes (W or WxH, default 512x384,1024x768), best of --repeats")
    p.add_argument("--look", metavar="CONTENT:STYLE,...",
                   help="the paper's look: per pair, the default, the old alpha 30 and the authors' 500 steps at "
                        "alpha 1, scored by the same fp32 content and style losses (uses --look-size, --sheet, --json)")
    p.add_argument("--gallery", metavar="CONTENT,...",
                   help="the gallery's balance: each painting of the built-in gallery on each photo, the "
                        "standard preset, its content loss against the gallery's median (uses --look-size, --json)")
    p.add_argument("--look-size", type=positive_int, default=512, metavar="PX",
                   help="with --look or --gallery: the long edge (default 512, the authors')")
    p.add_argument("--sheet", metavar="DIR", help="with --look: write a side-by-side sheet per pair into DIR")
    p.add_argument("--json", help="write the results as JSON here")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from ..bench import (main_bench, main_depths, main_full_size, main_gallery, main_look, main_time_to_quality,
                         main_warm)

    if args.look:
        return main_look(args)
    if args.gallery:
        return main_gallery(args)
    if args.depths:
        return main_depths(args)
    if args.full_size:
        return main_full_size(args)
    if args.warm:
        return main_warm(args)
    return main_time_to_quality(args) if args.ttq else main_bench(args)
