"""The command line as a user runs it: real processes, real weights, tiny images."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .helpers import in_process
from .images import EXAMPLES

CONTENT = str(EXAMPLES / "chelsea.png")
STYLE = str(EXAMPLES / "starry_night.jpg")
MASK = str(EXAMPLES / "chelsea_ellipse.png")


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=timeout)


def stylize(*args, **kw):
    return run("stylize", "--local", *args, **kw)


def local(capsys, *args):
    return in_process(capsys, "stylize", "--local", *args)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_local_run_writes_output_report_and_previews(tmp_path):
    out, report, previews = tmp_path / "out.png", tmp_path / "r.json", tmp_path / "prev"
    proc = stylize("--content", CONTENT, "--style", STYLE, "--output", str(out), "--size", "48", "--steps", "4",
                   "--levels", "2", "--coarse-steps", "2", "--region", f"{MASK}=0", "--color", "luminance",
                   "--report", str(report), "--preview-dir", str(previews), "--preview-every", "2")
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    assert Image.open(out).size == (48, 32)
    r = json.loads(report.read_text())
    assert r["options"]["color"] == "luminance" and r["device"] == "cpu"
    assert [lv["steps"] for lv in r["levels"]] == [2, 4] and all(lv["seconds"] > 0 for lv in r["levels"])
    assert set(r["losses"]) >= {"content", "style", "total", "regions"} and len(r["losses"]["regions"]) == 1
    assert len(list(previews.glob("*.png"))) == 3


def test_content_alpha_is_kept(tmp_path):
    rgba = np.dstack([np.asarray(Image.open(CONTENT).convert("RGB").resize((48, 32))), np.full((32, 48), 255, np.uint8)])
    rgba[:, :10, 3] = 0
    src, out = tmp_path / "a.png", tmp_path / "o.png"
    Image.fromarray(rgba, "RGBA").save(src)
    proc = stylize("--content", str(src), "--style", STYLE, "--output", str(out), "--size", "48", "--steps", "2", "--levels", "1")
    assert proc.returncode == 0, proc.stderr
    alpha = np.asarray(Image.open(out))[:, :, 3]
    assert (alpha[:, :10] == 0).all() and (alpha[:, 12:] == 255).all()


def test_mix_styles_writes_the_mixed_style(tmp_path):
    out = tmp_path / "mix.png"
    proc = run("mix-styles", "--coarse", STYLE, "--fine", str(EXAMPLES / "brick.png"), "--output", str(out),
               "--size", "48", "--steps", "3")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (48, 30)


def test_missing_file(tmp_path, capsys):
    assert_one_line_error(local(capsys, "--content", "nope.png", "--style", STYLE, "--output", str(tmp_path / "o.png")),
                          "content image not found", "nope.png")


def test_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert_one_line_error(local(capsys, "--content", CONTENT, "--style", str(bad), "--output", str(tmp_path / "o.png")),
                          "cannot read style image", "bad.png")


def test_mask_index_out_of_range(tmp_path, capsys):
    assert_one_line_error(local(capsys, "--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--region", f"{MASK}=1"), "style index 1 is out of range")


@pytest.mark.parametrize("flag,value", [("--style-weight", "inf"), ("--content-weight", "nan"),
                                        ("--style-blend", "1,nan"), ("--style-weight", "-1")])
def test_weights_not_finite_or_negative(tmp_path, capsys, flag, value):
    extra = ["--style", STYLE] if flag == "--style-blend" else []
    proc = local(capsys, "--content", CONTENT, "--style", STYLE, *extra, "--output", str(tmp_path / "o.png"), flag, value)
    assert_one_line_error(proc)
    assert "weight" in proc.stderr or "finite" in proc.stderr


def test_size_zero(tmp_path, capsys):
    assert_one_line_error(local(capsys, "--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--size", "0"), "--size")


def test_an_image_of_one_pixel(tmp_path, capsys):
    tiny = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny)
    assert_one_line_error(local(capsys, "--content", str(tiny), "--style", STYLE, "--output", str(tmp_path / "o.png")),
                          "too small", "1×1")


def test_an_empty_region(tmp_path, capsys):
    black = tmp_path / "black.png"
    Image.new("L", (20, 20), 0).save(black)
    assert_one_line_error(local(capsys, "--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--region", f"{black}=0", "--size", "32", "--steps", "1"), "selects nothing")


def test_unknown_output_type(tmp_path, capsys):
    assert_one_line_error(local(capsys, "--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.xyz")),
                          "unknown image type")


def test_torchvision_weights_say_what_is_missing(tmp_path):
    """Where torchvision cannot be imported, --weights torchvision is one line naming it and the fix.
    A torchvision that fails to import is put first on the path, so this holds on every machine."""
    broken = tmp_path / "site" / "torchvision"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('torchvision is not installed here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(broken.parent), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "daemon", "stylize", "--local", "--content", CONTENT, "--style", STYLE,
                           "--output", str(tmp_path / "o.png"), "--weights", "torchvision", "--size", "32",
                           "--steps", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert_one_line_error(proc, "--weights torchvision needs a working torchvision", "pip install")
    assert not (tmp_path / "o.png").exists()


def test_torchvision_weights_work_where_torchvision_and_its_weights_are_there(tmp_path):
    try:
        import torch
        import torchvision  # noqa: F401
    except Exception:
        pytest.skip("torchvision is not installed")
    if not list(Path(torch.hub.get_dir(), "checkpoints").glob("vgg19-*.pth")):
        pytest.skip("torchvision's VGG-19 weights are not downloaded")
    out = tmp_path / "o.png"
    proc = stylize("--content", CONTENT, "--style", STYLE, "--output", str(out), "--weights", "torchvision",
                   "--size", "32", "--steps", "1", "--levels", "1")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (32, 21)


def test_ctrl_c_in_a_local_run_keeps_the_partial_image(tmp_path):
    """The first Ctrl-C asks the engine to stop: the current image is written and the exit status is
    the cancelled one (130), as through the daemon."""
    out, report = tmp_path / "o.png", tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "stylize", "--local", "--content", CONTENT,
                             "--style", STYLE, "--output", str(out), "--report", str(report), "--size", "48",
                             "--levels", "1", "--steps", "100000", "--optimizer", "adam"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:          # wait for the first progress line: the run is under way
            seen.append(line)
            if "step" in line:
                break
        assert any("step" in l for l in seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "cancelling" in stderr
    assert "(cancelled: partial result)" in stdout
    assert Image.open(out).size == (48, 32)
    r = json.loads(report.read_text())
    assert r["mode"] == "local" and 0 < r["steps_done"] < 100000


def test_help_shows_every_transfer_option_with_its_default():
    from daemon.engine import TransferOptions

    proc = run("stylize", "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for f in dataclasses.fields(TransferOptions):
        flag = "--precise" if f.name == "fast" else "--" + f.name.replace("_", "-")
        assert flag in text, flag
    defaults = TransferOptions()
    assert f"alpha, weight of the content loss (default {defaults.content_weight})" in text
    assert f"L-BFGS history length (default {defaults.lbfgs_history})" in text
    # the presets' step counts, as the presets table has them (not copied here)
    from daemon.engine.presets import PRESETS
    for name in ("steps", "coarse_steps", "finish_steps"):
        listed = ", ".join(f"{q} {p[name]}" for q, p in PRESETS.items() if name in p)
        assert f"(default from --quality: {listed}" in text, name


def test_every_control_reaches_the_engine_from_the_command_line(tmp_path):
    """One small run with the less common options together: each is parsed and honoured."""
    out, report = tmp_path / "o.png", tmp_path / "r.json"
    proc = stylize("--content", CONTENT, "--style", STYLE, "--style", str(EXAMPLES / "brick.png"),
                   "--output", str(out), "--size", "40", "--steps", "2", "--levels", "1", "--mix-steps", "2",
                   "--init", str(EXAMPLES / "coffee.png"), "--scale-mix", "0", "1", "--style-blend", "1,1",
                   "--color", "histogram", "--histogram-method", "ot", "--region", f"{MASK}=1:{MASK}",
                   "--guidance", "sums", "--propagation", "inside", "--guide-grow", "-1", "--global-guide",
                   "--optimizer", "adam", "--learning-rate", "3", "--pooling", "max", "--seed", "5",
                   "--style-scale", "1.5", "--content-weight", "2", "--style-weight", "3", "--precise",
                   "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    o = r["options"]
    assert (o["scale_mix"], o["style_blend"], o["color"], o["histogram_method"]) == ([0, 1], [1.0, 1.0], "histogram", "ot")
    assert (o["guidance"], o["propagation"], o["guide_grow"], o["global_guide"]) == ("sums", "inside", -1, True)
    assert (o["optimizer"], o["learning_rate"], o["seed"], o["style_scale"]) == ("adam", 3.0, 5, 1.5)
    assert (o["content_weight"], o["style_weight"], o["fast"]) == (2.0, 3.0, False)
    assert r["model"]["pooling"] == "max" and r["mix"]["steps"] == 2 and r["regions"] == 1


# ---- image files of every kind (issue 10) ---------------------------------------------------------
def _save(im, path):
    im.save(path)
    return str(path)


def _grey16(v, size=(32, 24)):
    return Image.fromarray(np.full(size[::-1], v, np.uint16))           # mode I;16


def _palette(transparent: bool):
    im = Image.new("P", (32, 24), 0)
    im.putpalette([200, 30, 10, 10, 200, 30] + [0] * 762)
    im.paste(1, (0, 0, 10, 24))
    if transparent:
        im.info["transparency"] = 1
    return im


@pytest.mark.parametrize("make,ext,rgb,alpha", [
    (lambda: _grey16(32896), "png", (128, 128, 128), None),                         # 16-bit: mid-grey, not 255
    (lambda: Image.fromarray(np.full((24, 32), 16448, np.int32)), "tif", (64, 64, 64), None),   # 32-bit int
    (lambda: Image.fromarray(np.full((24, 32), 0.75, np.float32)), "tif", (191, 191, 191), None),  # float 0-1
    (lambda: _palette(False), "png", (200, 30, 10), None),
    (lambda: _palette(True), "png", (200, 30, 10), "left columns transparent"),
    (lambda: Image.new("CMYK", (32, 24), (0, 255, 255, 0)), "tif", (255, 0, 0), None),
    (lambda: Image.new("CMYK", (32, 24), (0, 255, 255, 0)), "jpg", (255, 0, 0), None),
    (lambda: Image.new("LA", (32, 24), (90, 128)), "png", (90, 90, 90), "half"),
    (lambda: Image.new("RGBA", (32, 24), (10, 20, 30, 0)), "png", (10, 20, 30), "none"),
], ids=["I;16", "I", "F", "P", "P+transparency", "CMYK-tif", "CMYK-jpg", "LA", "RGBA"])
def test_every_image_mode_reads_as_its_colours(tmp_path, make, ext, rgb, alpha):
    """What content, style and init images go through (read_image): the right colours and alpha."""
    from daemon.cli.common import read_image

    path = _save(make(), tmp_path / f"im.{ext}")
    got, got_alpha = read_image(path, "content image")
    assert got.shape == (24, 32, 3) and got.dtype == np.uint8
    tol = 6 if ext == "jpg" else 1
    assert np.abs(got[5, 20].astype(int) - rgb).max() <= tol, got[5, 20]
    if alpha is None:
        assert got_alpha is None
    elif alpha == "left columns transparent":
        assert (got_alpha[:, :10] == 0).all() and (got_alpha[:, 10:] == 255).all()
    elif alpha == "half":
        assert (got_alpha == 128).all()
    else:
        assert (got_alpha == 0).all()


@pytest.mark.parametrize("make,ext,value", [
    (lambda: _grey16(65535), "png", 1.0), (lambda: _grey16(32896), "png", 0.5),
    (lambda: Image.fromarray(np.full((24, 32), 0.25, np.float32)), "tif", 0.25),
    (lambda: Image.new("LA", (32, 24), (255, 0)), "png", 1.0), (lambda: _palette(False), "png", 79 / 255),
], ids=["I;16-white", "I;16-grey", "F", "LA", "P"])
def test_every_mask_mode_reads_as_its_grey(tmp_path, make, ext, value):
    from daemon.cli.common import read_mask

    m = read_mask(_save(make(), tmp_path / f"m.{ext}"), "region mask")
    assert m.shape == (24, 32) and abs(float(m[5, 20]) - value) < 0.01, m[5, 20]


def test_a_16_bit_grey_content_and_a_palette_init_come_out_right(tmp_path):
    """The real command, 0 steps: the output is the initial image, with the content's alpha (the
    first run in histogram colour mode, whose start is the content itself, not recoloured)."""
    content = np.full((24, 32), 32896, np.uint16)                   # 16-bit mid-grey
    content[:, :8] = 65535
    _save(Image.fromarray(content), tmp_path / "c.png")
    la = Image.merge("LA", [Image.fromarray(np.full((24, 32), 100, np.uint8)),
                            Image.fromarray(np.where(np.arange(32) < 16, 0, 255).astype(np.uint8)[None].repeat(24, 0))])
    _save(la, tmp_path / "la.png")
    out, out2 = tmp_path / "o.png", tmp_path / "o2.png"
    proc = stylize("--content", str(tmp_path / "c.png"), "--style", STYLE, "--output", str(out), "--size", "32",
                   "--steps", "0", "--levels", "1", "--color", "histogram")
    assert proc.returncode == 0, proc.stderr
    o = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(o[:, 12:] - 128).max() <= 2 and np.abs(o[:, :6] - 255).max() <= 2
    proc = stylize("--content", str(tmp_path / "la.png"), "--style", _save(Image.fromarray(np.full((24, 32), 0.5, np.float32)), tmp_path / "s.tif"),
                   "--init", _save(_palette(True), tmp_path / "p.png"), "--output", str(out2), "--size", "32",
                   "--steps", "0", "--levels", "1", "--region", f"{_save(_grey16(65535), tmp_path / 'm.png')}=0")
    assert proc.returncode == 0, proc.stderr
    o = np.asarray(Image.open(out2))
    assert o.shape == (24, 32, 4)
    assert (o[:, :16, 3] == 0).all() and (o[:, 16:, 3] == 255).all()          # the LA content's alpha
    assert np.abs(o[5, 20, :3].astype(int) - (200, 30, 10)).max() <= 2        # the palette init's colour


# ---- refused in one line, before any work ----------------------------------------------------------
@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 20000×20000 1-bit PNG: a few KB on disk, 400 million pixels for PIL's bomb check."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = bytes(1 + 20000 // 8)
    idat = b"".join(z.compress(row) for _ in range(20000)) + z.flush()
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    assert path.stat().st_size < 200_000
    return str(path)


@pytest.mark.parametrize("role", ["content", "style", "mask"])
def test_a_decompression_bomb_is_one_line(tmp_path, bomb, role):
    content = bomb if role == "content" else CONTENT
    style = bomb if role == "style" else STYLE
    extra = ["--region", f"{bomb}=0"] if role == "mask" else []
    proc = stylize("--content", content, "--style", style, "--output", str(tmp_path / "o.png"), *extra)
    assert_one_line_error(proc, "bomb.png", "too large", "400,000,000 pixels")


def _unwritable(tmp_path, case):
    if case == "under a file":
        return "/etc/hostname/x.png"
    if case == "under a file, two folders down":
        (tmp_path / "f").write_text("x")
        return str(tmp_path / "f" / "sub" / "x.png")
    if case == "a folder":
        (tmp_path / "d.png").mkdir()
        return str(tmp_path / "d.png")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro / "x.png")


@pytest.mark.parametrize("case", ["under a file", "under a file, two folders down", "a folder", "read-only folder"])
def test_an_unwritable_output_is_refused_before_the_job(tmp_path, case):
    """100000 steps: refused after the job, this would not finish within the test's time."""
    out = _unwritable(tmp_path, case)
    args = ["stylize", "--local", "--content", CONTENT, "--style", STYLE, "--output", out, "--size", "32",
            "--levels", "1", "--steps", "100000", "--optimizer", "adam"]
    if case == "read-only folder" and os.geteuid() == 0:
        # root writes into a folder without write permission (CI runs as root): the folder is made
        # read-only where no one can write, a read-only bind mount in a mount namespace of the run's own
        ro = os.path.dirname(out)
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"',
                               "sh", ro, sys.executable, "-m", "daemon", *args],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 2 and "mount" in proc.stderr and "cannot write" not in proc.stderr:
            pytest.skip(f"root, and no read-only bind mount here to test with: {proc.stderr.strip()[-300:]}")
    else:
        proc = run(*args)
    assert_one_line_error(proc, "cannot write the output")


def test_an_unwritable_report_is_refused_before_the_job(tmp_path):
    proc = stylize("--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                   "--report", "/etc/hostname/r.json", "--size", "32", "--levels", "1", "--steps", "100000",
                   "--optimizer", "adam")
    assert_one_line_error(proc, "cannot write the report", "/etc/hostname is a file")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("command,endpoint,says", [
    ("stylize", "garbage", "is not an endpoint"),
    ("stylize", "tcp://127.0.0.1:abc", "is not a whole number"),
    ("stylize", "tcp://127.0.0.1:99999", "from 1 to 65535"),
    ("status", "garbage", "is not an endpoint"),
    ("stop", "tcp://:5557", "has no host"),
    ("serve", "tcp://127.0.0.1:99999", "from 1 to 65535"),
])
def test_a_bad_endpoint_is_one_line(tmp_path, command, endpoint, says):
    args = ["--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png")] if command == "stylize" else []
    proc = run(command, *args, "--endpoint", endpoint, timeout=120)
    assert_one_line_error(proc, endpoint, says)


def test_a_relative_weights_path_is_the_users_not_the_daemons(tmp_path):
    """A daemon started on demand runs in the project's folder: the CLI hands it the absolute path."""
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "w.pt").write_text("not a state dict")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
               NEURAL_STYLE_LOG=str(tmp_path / "daemon.log"))
    try:
        proc = subprocess.run([sys.executable, "-m", "daemon", "stylize", "--endpoint", endpoint, "--content", CONTENT,
                               "--style", STYLE, "--output", "o.png", "--weights", "w.pt", "--device", "cpu",
                               "--size", "32", "--steps", "1", "--levels", "1"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run([sys.executable, "-m", "daemon", "stop", "--endpoint", endpoint], cwd=root, env=env,
                       capture_output=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cannot read weights file {tmp_path / 'w.pt'}" in proc.stderr, proc.stderr


def test_the_gallery_lists_its_paintings_and_a_style_names_one(tmp_path):
    """`gallery` lists the built-in paintings with their titles and sizes; `--style gallery:NAME`
    styles with one (the file that ships, which stays unchanged); an unknown name is one line that
    lists the names, before any work."""
    from shared import gallery
    listed = run("gallery")
    assert listed.returncode == 0, listed.stderr
    for p in gallery.PAINTINGS:
        assert f"gallery:{p.name}" in listed.stdout and p.title in listed.stdout
        assert Image.open(p.path).size == p.size and max(p.size) <= 1024
    painting = gallery.find("udnie").path
    before = painting.read_bytes()
    out = tmp_path / "out.png"
    proc = stylize("--content", CONTENT, "--style", "gallery:udnie", "--output", str(out), "--size", "32",
                   "--steps", "1", "--levels", "1")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (32, 21) and painting.read_bytes() == before
    proc = stylize("--content", CONTENT, "--style", "gallery:mona-lisa", "--output", str(out))
    assert proc.returncode == 2 and "no painting 'mona-lisa' in the gallery" in proc.stderr
    assert "starry-night" in proc.stderr and "Traceback" not in proc.stderr
