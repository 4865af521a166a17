"""The command line as a user runs it: real processes, real weights, tiny images."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .images import EXAMPLES

CONTENT = str(EXAMPLES / "chelsea.png")
STYLE = str(EXAMPLES / "starry_night.jpg")
MASK = str(EXAMPLES / "chelsea_ellipse.png")


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=timeout)


def stylize(*args, **kw):
    return run("stylize", "--local", *args, **kw)


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


def test_missing_file(tmp_path):
    assert_one_line_error(stylize("--content", "nope.png", "--style", STYLE, "--output", str(tmp_path / "o.png")),
                          "content image not found", "nope.png")


def test_unreadable_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert_one_line_error(stylize("--content", CONTENT, "--style", str(bad), "--output", str(tmp_path / "o.png")),
                          "cannot read style image", "bad.png")


def test_mask_index_out_of_range(tmp_path):
    assert_one_line_error(stylize("--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--region", f"{MASK}=1"), "style index 1 is out of range")


@pytest.mark.parametrize("flag,value", [("--style-weight", "inf"), ("--content-weight", "nan"),
                                        ("--style-blend", "1,nan"), ("--style-weight", "-1")])
def test_weights_not_finite_or_negative(tmp_path, flag, value):
    extra = ["--style", STYLE] if flag == "--style-blend" else []
    proc = stylize("--content", CONTENT, "--style", STYLE, *extra, "--output", str(tmp_path / "o.png"), flag, value)
    assert_one_line_error(proc)
    assert "weight" in proc.stderr or "finite" in proc.stderr


def test_size_zero(tmp_path):
    assert_one_line_error(stylize("--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--size", "0"), "--size")


def test_an_image_of_one_pixel(tmp_path):
    tiny = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny)
    assert_one_line_error(stylize("--content", str(tiny), "--style", STYLE, "--output", str(tmp_path / "o.png")),
                          "too small", "1×1")


def test_an_empty_region(tmp_path):
    black = tmp_path / "black.png"
    Image.new("L", (20, 20), 0).save(black)
    assert_one_line_error(stylize("--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.png"),
                                  "--region", f"{black}=0", "--size", "32", "--steps", "1"), "selects nothing")


def test_unknown_output_type(tmp_path):
    assert_one_line_error(stylize("--content", CONTENT, "--style", STYLE, "--output", str(tmp_path / "o.xyz")),
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
    assert "--content-weight CONTENT_WEIGHT alpha, weight of the content loss (default 30.0)" in text
    assert "--lbfgs-history LBFGS_HISTORY L-BFGS history length (default 20)" in text
    assert "--steps STEPS optimisation steps at the final size (default from --quality: preview 60" in text


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
