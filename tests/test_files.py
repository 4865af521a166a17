"""Nothing a user owns is destroyed by the command line: inputs are never written, an output that
cannot be written is refused in one line before any work, files are written whole or not at all, and
inputs that would hang or exhaust memory are refused before they are decoded. Every input file is
checksummed before and after the command that names it."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from .helpers import in_process
from .images import EXAMPLES


def checksums(*paths):
    return {str(p): hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths}


@pytest.fixture
def inputs(tmp_path):
    """A content, a style and a mask of the user's, copied so that a bad run could only harm copies."""
    content, style, mask = tmp_path / "photo.png", tmp_path / "painting.jpg", tmp_path / "mask.png"
    Image.open(EXAMPLES / "chelsea.png").convert("RGB").resize((48, 32)).save(content)
    shutil.copy(EXAMPLES / "starry_night.jpg", style)
    Image.fromarray(np.full((32, 48), 255, np.uint8)).save(mask)
    return content, style, mask


def local(capsys, *args):
    return in_process(capsys, "stylize", "--local", *args)


def refused(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("target", ["content", "style", "mask"])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path, capsys, inputs, target):
    content, style, mask = inputs
    before = checksums(*inputs)
    named = {"content": content, "style": style, "mask": mask}[target]
    proc = local(capsys, "--content", str(content), "--style", str(style), "--region", f"{mask}=0",
                 "--output", str(named.with_suffix(named.suffix)), "--size", "32", "--steps", "1")
    refused(proc, "same file as")
    assert checksums(*inputs) == before


def test_a_report_naming_the_content_or_the_output_is_refused(tmp_path, capsys, inputs):
    content, style, _ = inputs
    before = checksums(content, style)
    proc = local(capsys, "--content", str(content), "--style", str(style), "--output", str(tmp_path / "o.png"),
                 "--report", str(content), "--size", "32", "--steps", "1")
    refused(proc, "report", "same file as")
    proc = local(capsys, "--content", str(content), "--style", str(style), "--output", str(tmp_path / "o.png"),
                 "--report", str(tmp_path / "o.png"), "--size", "32", "--steps", "1")
    refused(proc, "report", "same file as the output")
    assert checksums(content, style) == before and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("ext", [".xbm", ".msp", ".palm", ".h5", ".grib", ".bufr", ".wmf", ".emf", ".blp",
                                 ".mpeg", ".fits", ".xpm"])
def test_an_output_format_pillow_cannot_write_in_colour_is_refused_before_the_job(tmp_path, capsys, inputs, ext):
    """The input of that format stays whole (it was once truncated to 0 bytes), and no traceback."""
    content, style, _ = inputs
    same_type = tmp_path / f"pic{ext}"
    same_type.write_bytes(b"the user's own file")
    proc = local(capsys, "--content", str(content), "--style", str(style), "--output", str(same_type),
                 "--size", "32", "--steps", "1")
    refused(proc, "cannot write")
    assert same_type.read_bytes() == b"the user's own file"


def test_outputs_that_cannot_be_written_are_refused_before_the_job(tmp_path, capsys, inputs):
    content, style, _ = inputs
    common = ["--content", str(content), "--style", str(style), "--size", "32", "--steps", "1"]
    refused(local(capsys, *common, "--output", str(tmp_path / ("x" * 300 + ".png"))), "longer than")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    refused(local(capsys, *common, "--output", str(fifo)), "not a regular file")
    if os.path.exists("/dev/full"):
        refused(local(capsys, *common, "--output", "/dev/full"), "cannot write")
    refused(local(capsys, *common, "--output", str(tmp_path / "o.png"), "--report", str(fifo)),
            "not a regular file")


def test_a_fifo_as_an_input_is_refused_at_once(tmp_path, capsys, inputs):
    """Reading a FIFO would block forever: it is refused without being opened (the test would hang)."""
    _, style, _ = inputs
    fifo = tmp_path / "content.png"
    os.mkfifo(fifo)
    done = {}
    worker = threading.Thread(target=lambda: done.update(proc=local(
        capsys, "--content", str(fifo), "--style", str(style), "--output", str(tmp_path / "o.png"))), daemon=True)
    worker.start()
    worker.join(60)                       # a guard: the refusal takes milliseconds
    assert not worker.is_alive(), "the command line blocks on a FIFO"
    refused(done["proc"], "not a regular file")


def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, capsys, inputs):
    """A 69-byte PNG whose header says 1 × 80,000,000 pixels is refused from its header alone."""
    import struct
    import zlib

    _, style, _ = inputs

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = tmp_path / "bomb.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 80_000_000, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    proc = local(capsys, "--content", str(png), "--style", str(style), "--output", str(tmp_path / "o.png"))
    refused(proc, "1×80000000 pixels")


def test_an_output_is_written_whole_or_not_at_all(tmp_path, capsys, inputs):
    """An existing output is replaced in one rename: never left truncated, and no temporary file stays."""
    content, style, _ = inputs
    out = tmp_path / "result.png"
    out.write_bytes(b"an older result")
    proc = local(capsys, "--content", str(content), "--style", str(style), "--output", str(out),
                 "--report", str(tmp_path / "r.json"), "--size", "32", "--steps", "1", "--levels", "1")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (32, 21) and json.loads((tmp_path / "r.json").read_text())["steps_done"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


def test_a_fuzzer_over_output_paths_and_formats_never_harms_an_input(tmp_path, capsys, inputs):
    """Generated --output / --report pairs (inputs named again, each other, formats Pillow can and
    cannot write, unknown ones, FIFOs, folders, paths under a file, read-only files, names too long):
    every command ends with a result (exit 0: a readable image of the asked size, a JSON report) or one
    line and exit 2; no input or unrelated file changes; no partial file stays behind."""
    import random

    content, style, mask = inputs
    other = tmp_path / "someone-elses.png"
    Image.new("RGB", (8, 8), "red").save(other)
    readonly = tmp_path / "readonly.png"
    Image.new("RGB", (8, 8), "blue").save(readonly)
    readonly.chmod(0o444)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "a folder.png").mkdir()
    watched = [content, style, mask, other, readonly]
    before = checksums(*watched)
    exts = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".webp", ".gif", ".ppm", ".xbm", ".msp", ".palm", ".h5",
            ".blp", ".mpeg", ".fits", ".xpm", ".abc", ""]

    def path(rng, n):
        kind = rng.choice(["new", "new", "new", "input", "fifo", "folder", "under a file", "long", "readonly"])
        return {"new": lambda: str(tmp_path / f"out{n}{rng.choice(exts)}"),
                "input": lambda: str(rng.choice([content, style, mask])),
                "fifo": lambda: str(fifo), "folder": lambda: str(tmp_path / "a folder.png"),
                "under a file": lambda: str(other / "x.png"), "long": lambda: str(tmp_path / ("y" * 260 + ".png")),
                "readonly": lambda: str(readonly)}[kind]()
    rng = random.Random(29)
    codes = []
    for n in range(24):
        output = path(rng, n)
        report = rng.choice([None, None, output, path(rng, n).rsplit(".", 1)[0] + ".json", str(content)])
        args = ["--content", str(content), "--style", str(style), "--region", f"{mask}=0", "--output", output,
                "--size", "24", "--steps", "1", "--levels", "1"] + (["--report", report] if report else [])
        proc = local(capsys, *args)
        assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, (output, report, proc.stderr)
        codes.append(proc.returncode)
        if proc.returncode == 0:
            assert Image.open(output).size == (24, 16), output
            if report:
                assert json.loads(open(report).read())["steps_done"] == 1
        else:
            assert len([l for l in proc.stderr.splitlines() if l.strip()]) == 1, proc.stderr
        assert checksums(*watched) == before, (output, report)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]
    assert 0 in codes and 2 in codes, codes          # the generator reaches both outcomes
