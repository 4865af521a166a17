"""install.py's GIMP part: what lands in a GIMP profile, that it can be run again and undone, and
that GIMP 3 profiles are found where each kind of install keeps them (fake home folders)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import install  # noqa: E402

PLUGIN = "neural-style"


def run_install(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GIMP3_DIRECTORY", "XDG_CONFIG_HOME", "APPDATA")}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, str(ROOT / "install.py"), *args], capture_output=True, text=True,
                          env=env, cwd=str(home), timeout=120)


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_gimp_only_install_into_a_profile(tmp_path):
    profile = tmp_path / "GIMP" / "3.0"
    r = run_install("--gimp-only", "--gimp-dir", str(profile), home=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    dest = profile / "plug-ins" / PLUGIN
    main = dest / f"{PLUGIN}.py"
    # GIMP skips a plug-in silently unless it is NAME/NAME.py, executable, with a python3 shebang
    assert main.is_file()
    assert os.stat(main).st_mode & stat.S_IXUSR
    assert main.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    for f in dest.rglob("*.py"):
        assert b"\r\n" not in f.read_bytes(), f"{f} has CRLF line endings"
    # the shared package the plug-in imports travels with it
    assert (dest / "shared" / "client.py").is_file()
    assert (dest / "shared" / "protocol.py").is_file()
    # and the gallery's paintings, byte for byte (the dialog shows them; no line endings touched)
    for painting in (ROOT / "shared" / "gallery").glob("*.jpg"):
        assert (dest / "shared" / "gallery" / painting.name).read_bytes() == painting.read_bytes()
    assert (dest / "shared" / "gallery" / "LICENSES.md").is_file()
    cfg = json.loads((dest / "neural-style.json").read_text())
    assert cfg["python"] == str(install.venv_python())
    assert cfg["endpoint"].startswith("tcp://127.0.0.1:")
    assert "installed the plug-in" in r.stdout
    assert "Filters > Artistic > Neural Style Transfer" in r.stdout
    assert "restart GIMP" in r.stdout


def test_running_again_updates_in_place_and_uninstall_removes_it(tmp_path):
    profile = tmp_path / "profile"
    assert run_install("--gimp-only", "--gimp-dir", str(profile), home=tmp_path).returncode == 0
    dest = profile / "plug-ins" / PLUGIN
    first = tree(dest)
    (dest / "stale.py").write_text("left over from an older version\n")
    r = run_install("--gimp-only", "--gimp-dir", str(profile), "--endpoint", "tcp://127.0.0.1:5999",
                    home=tmp_path)
    assert r.returncode == 0
    assert "updated the plug-in" in r.stdout
    second = tree(dest)
    assert set(second) == set(first), "a second run leaves exactly the same files"
    assert json.loads(second["neural-style.json"])["endpoint"] == "tcp://127.0.0.1:5999"
    assert {k: v for k, v in second.items() if k != "neural-style.json"} == \
        {k: v for k, v in first.items() if k != "neural-style.json"}

    r = run_install("--uninstall", "--gimp-dir", str(profile), home=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not dest.exists()
    assert (profile / "plug-ins").is_dir(), "only the plug-in's own folder goes"
    r = run_install("--uninstall", "--gimp-dir", str(profile), home=tmp_path)
    assert r.returncode == 0 and "not installed" in r.stdout


def test_crlf_sources_are_installed_with_lf(tmp_path, monkeypatch):
    src = tmp_path / "src" / PLUGIN
    src.mkdir(parents=True)
    (src / f"{PLUGIN}.py").write_bytes(b"#!/usr/bin/env python3\r\nprint('hi')\r\n")
    monkeypatch.setattr(install, "PLUGIN_SRC", src)
    dest, action = install.install_plugin(tmp_path / "prof", Path("/x/python"), "tcp://127.0.0.1:5557")
    assert action == "installed"
    assert (dest / f"{PLUGIN}.py").read_bytes() == b"#!/usr/bin/env python3\nprint('hi')\n"


def test_gimp_dir_may_name_the_plug_ins_folder(tmp_path):
    assert install.plugin_dir_for(tmp_path / "3.0") == tmp_path / "3.0" / "plug-ins" / PLUGIN
    assert install.plugin_dir_for(tmp_path / "3.0" / "plug-ins") == tmp_path / "3.0" / "plug-ins" / PLUGIN


def make(*parts: Path) -> None:
    for p in parts:
        p.mkdir(parents=True)


def test_profiles_found_on_linux_native_flatpak_and_snap(tmp_path):
    home = tmp_path
    native = home / ".config" / "GIMP"
    flatpak = home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP"
    snap = home / "snap" / "gimp" / "current" / ".config" / "GIMP"
    make(native / "3.0", native / "3.2", native / "2.10", native / "sessionrc-not-a-version",
         flatpak / "3.0", snap / "3.2")
    found = install.find_gimp_profiles(home=home, system="Linux", env={})
    assert found == [native / "3.0", native / "3.2", flatpak / "3.0", snap / "3.2"]


def test_profiles_follow_xdg_config_home_and_gimp3_directory(tmp_path):
    xdg = tmp_path / "xdg"
    custom = tmp_path / "custom-profile"
    make(xdg / "GIMP" / "3.0", custom)
    env = {"XDG_CONFIG_HOME": str(xdg), "GIMP3_DIRECTORY": str(custom)}
    assert install.find_gimp_profiles(home=tmp_path, system="Linux", env=env) == [custom, xdg / "GIMP" / "3.0"]


def test_profiles_found_on_macos_and_windows(tmp_path):
    mac = tmp_path / "Library" / "Application Support" / "GIMP"
    make(mac / "3.0")
    assert install.find_gimp_profiles(home=tmp_path, system="Darwin", env={}) == [mac / "3.0"]
    appdata = tmp_path / "AppData" / "Roaming"
    make(appdata / "GIMP" / "3.2", appdata / "GIMP" / "2.10")
    assert install.find_gimp_profiles(home=tmp_path, system="Windows", env={}) == [appdata / "GIMP" / "3.2"]
    assert install.find_gimp_profiles(home=tmp_path / "elsewhere", system="Windows",
                                      env={"APPDATA": str(appdata)}) == [appdata / "GIMP" / "3.2"]


def test_no_profile_is_not_an_error_and_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # no gimp, no flatpak on PATH
    r = run_install("--gimp-only", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no GIMP 3 profile found" in r.stdout
    assert "--gimp-dir" in r.stdout


def test_torch_choice_follows_the_machine():
    cpu_build = {"version": "2.13.0+cpu", "cuda_built": False, "cuda": False, "mps": False}
    assert install.torch_fits(cpu_build, "cpu")
    assert not install.torch_fits(cpu_build, "cuda"), "a CPU build on an NVIDIA machine is replaced"
    assert not install.torch_fits(None, "cpu"), "no torch: install one"
    assert install.machine_accelerator(system="Darwin", machine="arm64") == "mps"
    assert install.machine_accelerator(system="Darwin", machine="x86_64") == "cpu"


@pytest.mark.slow
def test_check_does_a_real_round_trip_and_inspects_the_installed_copy(tmp_path):
    """--check starts the daemon (none answers on this fresh port), stylizes a tiny image through the
    plug-in's client and checks the installed plug-in folder."""
    import socket
    if not install.venv_python().exists():
        pytest.fail(f"{install.venv_python()} is missing: run 'python install.py' first")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    profile = tmp_path / "profile"
    assert run_install("--gimp-only", "--gimp-dir", str(profile), "--endpoint", endpoint,
                       home=tmp_path).returncode == 0
    try:
        r = subprocess.run([sys.executable, str(ROOT / "install.py"), "--check", "--gimp-dir", str(profile),
                            "--endpoint", endpoint], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "HOME": str(tmp_path), "NEURAL_STYLE_TRANSPORT": "zmtp",
                                "NEURAL_STYLE_LOG": str(tmp_path / "daemon.log")})
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"ok: {profile / 'plug-ins' / PLUGIN}" in r.stdout
        assert "stylized a 32x32 test image" in r.stdout and "(standard-library client)" in r.stdout
        assert "All good." in r.stdout
        # the transport line reports the client really used, not a guess: the same check over pyzmq
        r = subprocess.run([sys.executable, str(ROOT / "install.py"), "--check", "--gimp-dir", str(profile),
                            "--endpoint", endpoint], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "HOME": str(tmp_path), "NEURAL_STYLE_TRANSPORT": "pyzmq",
                                "NEURAL_STYLE_LOG": str(tmp_path / "daemon.log")})
        assert r.returncode == 0, r.stdout + r.stderr
        assert "(pyzmq client)" in r.stdout, r.stdout
    finally:
        subprocess.run([str(install.venv_python()), "-m", "daemon", "stop", "--endpoint", endpoint],
                       cwd=str(ROOT), capture_output=True, timeout=60)
