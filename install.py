#!/usr/bin/env python3
"""One-command set-up: ``python install.py``.

1. Creates ``.venv`` in this folder and installs the project and its dependencies there. A torch that
   is already installed and fits the machine is kept; otherwise the build that fits is installed
   (CUDA where an NVIDIA GPU answers, MPS on Apple silicon, else CPU).
2. Stylizes the bundled example through the daemon and says where the result is.
3. Installs the GIMP plug-in into every GIMP 3.x profile it finds (Linux, macOS, Windows, Flatpak,
   Snap): the plug-in folder (executable, LF line endings), a copy of the ``shared`` package the
   plug-in imports, and ``neural-style.json`` naming the daemon's Python and endpoint.

Other uses:
    python install.py --check          a real round trip through the daemon, as the plug-in does it
    python install.py --uninstall      remove the plug-in from the GIMP profiles
    python install.py --gimp-dir DIR   use this GIMP profile folder (repeatable) instead of searching
    python install.py --gimp-only      only the GIMP part (no venv, no demo)
    python install.py --no-gimp / --no-demo

Standard library only; Python 3.10 or newer. Running it again is safe: it updates what is there.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PLUGIN_NAME = "neural-style"
PLUGIN_SRC = ROOT / "gimp_plugin" / PLUGIN_NAME
SHARED_SRC = ROOT / "shared"
CONFIG_NAME = "neural-style.json"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
FLATPAK_ID = "org.gimp.GIMP"
TESTED_TORCH = "2.13.0"   # the version CI runs; its CPU build is asked for first on a CPU-only Linux/Windows
DEMO_CONTENT = ROOT / "examples" / "chelsea.png"
DEMO_STYLE = ROOT / "examples" / "starry_night.jpg"
DEMO_OUTPUT = ROOT / "out" / "example.png"


class InstallError(Exception):
    """A step failed; str() says what to do. Printed without a traceback."""


def say(msg: str = "") -> None:
    print(msg, flush=True)


def step(msg: str) -> None:
    say(f"==> {msg}")


# ---- the virtual environment -------------------------------------------------------------------

def venv_python(venv: Path = VENV) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def runs(cmd: List[str]) -> bool:
    try:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_venv(venv: Path = VENV) -> Path:
    py = venv_python(venv)
    if py.exists() and runs([str(py), "-c", "import sys; assert sys.version_info >= (3, 10)"]) \
            and runs([str(py), "-m", "pip", "--version"]):
        say(f"    reusing {venv}")
        return py
    if venv.exists():
        say(f"    {venv} is broken or too old: recreating it")
        shutil.rmtree(venv)
    r = subprocess.run([sys.executable, "-m", "venv", str(venv)])
    if r.returncode != 0 or not py.exists():
        raise InstallError(
            f"could not create a virtual environment in {venv} with {sys.executable}; on Debian/Ubuntu "
            "install the venv module first (sudo apt install python3-venv), then run install.py again")
    say(f"    created {venv}")
    return py


def pip(py: Path, args: List[str], check: bool = True) -> bool:
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check"] + args
    say("    $ " + " ".join(["pip", "install"] + args))
    r = subprocess.run(cmd)
    if r.returncode != 0 and check:
        raise InstallError(f"pip could not install {' '.join(a for a in args if not a.startswith('-'))} "
                           "(see pip's message above); check the network, then run install.py again")
    return r.returncode == 0


# ---- torch: keep one that fits, else install the build for this machine ------------------------

TORCH_PROBE = r"""
import json
try:
    import torch
except Exception:
    print(json.dumps(None))
else:
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    print(json.dumps({
        "version": torch.__version__,
        "cuda_built": bool(torch.version.cuda),
        "cuda": bool(torch.cuda.is_available()),
        "mps": bool(mps is not None and mps.is_available()),
    }))
"""


def torch_status(py: Path) -> Optional[dict]:
    try:
        out = subprocess.run([str(py), "-c", TORCH_PROBE], capture_output=True, text=True, timeout=300)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None


def machine_accelerator(system: Optional[str] = None, machine: Optional[str] = None) -> str:
    """'cuda' where an NVIDIA GPU answers, 'mps' on Apple silicon, else 'cpu'."""
    system = system or platform.system()
    machine = machine or platform.machine()
    if system == "Darwin":
        return "mps" if machine in ("arm64", "aarch64") else "cpu"
    smi = shutil.which("nvidia-smi")
    if smi and runs([smi, "-L"]):
        return "cuda"
    return "cpu"


def torch_fits(status: Optional[dict], accel: str) -> bool:
    if not status:
        return False
    if accel == "cuda":
        return status["cuda"]
    if accel == "mps":
        return status["mps"]
    return True  # any build runs on the CPU


def ensure_torch(py: Path, want: str, index_args: List[str] = ()) -> dict:
    """Keep a torch that fits this machine, else install one. Packages come from where pip's own
    configuration (pip.conf, PIP_INDEX_URL) says, or from the indexes the user named
    (``--index-url`` / ``--extra-index-url``, passed through to pip); no index is named here."""
    accel = machine_accelerator() if want == "auto" else want
    status = torch_status(py)
    if torch_fits(status, accel):
        say(f"    keeping torch {status['version']} (fits this machine: {accel})")
        return status
    if status:
        say(f"    torch {status['version']} is installed but cannot use {accel}: replacing it")
        subprocess.run([str(py), "-m", "pip", "uninstall", "-y", "torch"])
    index_args = list(index_args)
    system = platform.system()
    if index_args:
        pip(py, ["torch"] + index_args)
    elif accel == "cpu" and system in ("Linux", "Windows"):
        # The default Linux torch is the multi-GB CUDA build: ask for the tested CPU build first (found
        # where the configured index carries PyTorch's CPU wheels), else take the default build.
        if not pip(py, [f"torch=={TESTED_TORCH}+cpu"], check=False):
            say("    no CPU build of torch in the configured indexes: installing the default build (a large "
                "download; it runs on the CPU too). To get the small CPU build instead, run install.py again "
                "with --index-url set to PyTorch's CPU wheel index (see PyTorch's installation page)")
            pip(py, ["torch"])
    else:
        if accel == "cuda" and system == "Windows":
            say("    note: the default Windows torch has no CUDA; for the GPU, run install.py again with "
                "--index-url set to PyTorch's CUDA wheel index (see PyTorch's installation page)")
        pip(py, ["torch"])  # Linux CUDA and macOS (MPS) builds are the default ones
    status = torch_status(py)
    if not status:
        raise InstallError("torch was installed but cannot be imported in .venv; see the messages above")
    if not torch_fits(status, accel):
        say(f"    note: torch {status['version']} cannot use {accel} here; the daemon will run on the CPU")
    else:
        say(f"    installed torch {status['version']} ({accel})")
    return status


# ---- the demo ----------------------------------------------------------------------------------

def run_demo(py: Path, steps: int, size: int, output: Path = DEMO_OUTPUT) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    args = ["--content", rel(DEMO_CONTENT), "--style", rel(DEMO_STYLE), "--output", rel(output),
            "--quality", "preview", "--size", str(size), "--steps", str(steps)]
    cmd = [str(py), "-m", "daemon", "stylize"] + args
    say("    $ " + " ".join([rel(py), "-m", "daemon", "stylize"] + args))
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=str(ROOT))
    if r.returncode != 0 or not output.exists():
        raise InstallError("the example could not be stylized (see the message above); "
                           "'python install.py --check' tells more")
    say(f"    done in {time.monotonic() - t0:.0f} s")
    return output


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


# ---- GIMP profiles -----------------------------------------------------------------------------

_VERSION_DIR = re.compile(r"^3\.\d+$")


def profile_bases(home: Path, system: str, env: Mapping[str, str]) -> List[Path]:
    """Folders that hold GIMP's per-version profile folders (``3.0``, ``3.2``...) on this system."""
    if system == "Windows":
        appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
        return [Path(appdata) / "GIMP"]
    if system == "Darwin":
        return [home / "Library" / "Application Support" / "GIMP"]
    xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [
        Path(xdg) / "GIMP",
        home / ".var" / "app" / FLATPAK_ID / "config" / "GIMP",   # Flatpak
        home / "snap" / "gimp" / "current" / ".config" / "GIMP",  # Snap
    ]


def version_key(p: Path):
    return tuple(int(x) for x in p.name.split("."))


def find_gimp_profiles(home: Optional[Path] = None, system: Optional[str] = None,
                       env: Optional[Mapping[str, str]] = None) -> List[Path]:
    """Every GIMP 3.x profile folder that exists (GIMP3_DIRECTORY first when set)."""
    home = Path(home) if home is not None else Path.home()
    system = system or platform.system()
    env = os.environ if env is None else env
    found: List[Path] = []
    if env.get("GIMP3_DIRECTORY"):
        found.append(Path(env["GIMP3_DIRECTORY"]))
    for base in profile_bases(home, system, env):
        if base.is_dir():
            found.extend(sorted((d for d in base.iterdir() if d.is_dir() and _VERSION_DIR.match(d.name)),
                                key=version_key))
    unique: List[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def installed_gimp_versions(system: Optional[str] = None) -> List[tuple]:
    """(base folder kind, 'major.minor') for GIMP 3 installs found without a profile: used to create
    the profile folder of a GIMP that was never started."""
    system = system or platform.system()
    found = []
    names = ["gimp-3.2", "gimp-3.0", "gimp", "gimp-console-3.2", "gimp-console-3.0"]
    if system == "Windows":
        names = [n + ".exe" for n in names]
    for name in names:
        exe = shutil.which(name)
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r"version (3\.\d+)", out)
        if m:
            found.append(("native", m.group(1)))
            break
    if not found and system == "Darwin":
        import plistlib
        for plist in sorted(Path("/Applications").glob("GIMP*.app/Contents/Info.plist")):
            try:
                version = plistlib.loads(plist.read_bytes()).get("CFBundleShortVersionString", "")
            except Exception:  # noqa: BLE001 - an unreadable bundle is just not counted
                continue
            m = re.match(r"(3\.\d+)", version)
            if m:
                found.append(("native", m.group(1)))
                break
    if not found and system == "Windows":
        local = os.environ.get("LOCALAPPDATA", "")
        for base in (os.environ.get("ProgramFiles", r"C:\Program Files"), local and os.path.join(local, "Programs")):
            if not base:
                continue
            for exe in sorted(Path(base).glob("GIMP 3*/bin/gimp-3.*.exe"), reverse=True):
                m = re.match(r"gimp-(3\.\d+)\.exe$", exe.name, re.I)
                if m:
                    found.append(("native", m.group(1)))
                    break
            if found:
                break
    flatpak = shutil.which("flatpak")
    if flatpak and system == "Linux":
        try:
            out = subprocess.run([flatpak, "info", FLATPAK_ID], capture_output=True, text=True, timeout=60).stdout
            m = re.search(r"Version:\s*(3\.\d+)", out)
            if m:
                found.append(("flatpak", m.group(1)))
        except (OSError, subprocess.TimeoutExpired):
            pass
    if system == "Linux" and Path("/snap/gimp/current").exists():
        try:
            out = subprocess.run(["snap", "list", "gimp"], capture_output=True, text=True, timeout=60).stdout
            m = re.search(r"gimp\s+(3\.\d+)", out)
            if m:
                found.append(("snap", m.group(1)))
        except (OSError, subprocess.TimeoutExpired):
            pass
    return found


def default_profiles_for_installed_gimp(home: Optional[Path] = None, system: Optional[str] = None,
                                        env: Optional[Mapping[str, str]] = None) -> List[Path]:
    home = Path(home) if home is not None else Path.home()
    system = system or platform.system()
    env = os.environ if env is None else env
    bases = profile_bases(home, system, env)
    where = {"native": bases[0]}
    if len(bases) == 3:
        where.update(flatpak=bases[1], snap=bases[2])
    out = []
    for kind, version in installed_gimp_versions(system):
        if kind not in where:
            continue
        base = where[kind]
        older = [d.name for d in base.iterdir() if d.is_dir()] if base.is_dir() else []
        if older:
            # GIMP migrates an older profile (2.10) only when its own folder does not exist yet:
            # creating it now would lose the user's settings. Let GIMP start once first.
            say(f"    GIMP {version} is installed but has not been started yet, and {base} holds settings of "
                f"GIMP {', '.join(sorted(older))} that it will take over on its first start.")
            say("    Start GIMP once and quit it, then run: python install.py --gimp-only")
            continue
        out.append(base / version)
    return out


def plugin_dir_for(target: Path) -> Path:
    """Where the plug-in folder goes for a --gimp-dir: a profile folder (``.../GIMP/3.0``) or its
    ``plug-ins`` folder."""
    target = Path(target).expanduser()
    if target.name == "plug-ins":
        return target / PLUGIN_NAME
    return target / "plug-ins" / PLUGIN_NAME


# ---- installing the plug-in --------------------------------------------------------------------

def _copy_lf(src: Path, dst: Path, mode: int) -> None:
    """Copy with LF line endings for text (GIMP runs the .py files); binary files (the gallery) as they are."""
    data = src.read_bytes()
    if src.suffix in (".py", ".md"):
        data = data.replace(b"\r\n", b"\n")
    dst.write_bytes(data)
    os.chmod(dst, mode)


def plugin_files() -> List[tuple]:
    """(source, relative destination, mode) of everything the plug-in folder holds."""
    files = [(PLUGIN_SRC / f"{PLUGIN_NAME}.py", Path(f"{PLUGIN_NAME}.py"), 0o755)]
    for src in sorted(PLUGIN_SRC.glob("*.py")):   # the modules beside it (request, gimp_io, dialog, ...)
        if src.name != f"{PLUGIN_NAME}.py":
            files.append((src, Path(src.name), 0o644))
    for src in sorted(SHARED_SRC.rglob("*.py")):
        if "__pycache__" in src.parts:
            continue
        files.append((src, Path("shared") / src.relative_to(SHARED_SRC), 0o644))
    for src in sorted((SHARED_SRC / "gallery").iterdir()):    # the built-in gallery's paintings
        files.append((src, Path("shared") / "gallery" / src.name, 0o644))
    return files


def plugin_config(python: Path, endpoint: str) -> dict:
    return {
        "python": str(python),
        "endpoint": endpoint,
        "project": str(ROOT),
        "installed_by": "install.py",
    }


def install_plugin(target: Path, python: Path, endpoint: str) -> tuple:
    """Install (or update) the plug-in for one profile. Returns (plug-in folder, 'installed'|'updated')."""
    dest = plugin_dir_for(target)
    action = "updated" if dest.exists() or dest.is_symlink() else "installed"
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for src, relpath, mode in plugin_files():
        out = dest / relpath
        out.parent.mkdir(parents=True, exist_ok=True)
        _copy_lf(src, out, mode)
    cfg = json.dumps(plugin_config(python, endpoint), indent=2) + "\n"
    (dest / CONFIG_NAME).write_bytes(cfg.encode("utf-8"))
    return dest, action


def uninstall_plugin(target: Path) -> Optional[Path]:
    dest = plugin_dir_for(target)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
        return dest
    if dest.exists():
        shutil.rmtree(dest)
        return dest
    return None


def gimp_targets(args) -> List[Path]:
    if args.gimp_dir:
        return [Path(d).expanduser().resolve() for d in args.gimp_dir]
    targets = find_gimp_profiles()
    if not targets and not args.uninstall:
        targets = default_profiles_for_installed_gimp()
    return targets


def do_gimp(args, python: Path) -> List[Path]:
    targets = gimp_targets(args)
    if not targets:
        say("    no GIMP 3 profile found (looked in ~/.config/GIMP/3.x, Flatpak, Snap, macOS and Windows"
            " folders) and no GIMP 3 on PATH.")
        say("    Install GIMP 3, start it once, then run: python install.py --gimp-only")
        say("    (or name the profile folder: python install.py --gimp-only --gimp-dir ~/.config/GIMP/3.0)")
        return []
    done = []
    for t in targets:
        dest, action = install_plugin(t, python, args.endpoint)
        say(f"    {action} the plug-in in {dest}")
        done.append(dest)
    if not python.exists():
        say(f"    note: {python} does not exist yet; run 'python install.py' (without --gimp-only) "
            "so the plug-in can start the daemon")
    return done


def do_uninstall(args) -> int:
    targets = gimp_targets(args)
    removed = [p for p in (uninstall_plugin(t) for t in targets) if p]
    for p in removed:
        say(f"    removed {p}")
    if not removed:
        say("    the plug-in was not installed in any GIMP 3 profile found")
    py = venv_python()
    if py.exists():
        subprocess.run([str(py), "-m", "daemon", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd=str(ROOT), timeout=60)
    say(f"The project itself ({ROOT}, with its .venv) is left in place; delete the folder to remove it.")
    return 0


# ---- --check: a real round trip ----------------------------------------------------------------

def do_check(args) -> int:
    """Start the daemon if needed and stylize a tiny image through the same client the plug-in uses."""
    ok = True
    py = venv_python()
    step("Python environment")
    if not py.exists():
        say(f"    FAIL: {py} does not exist: run 'python install.py' first")
        return 1
    st = torch_status(py)
    if not st:
        say("    FAIL: torch cannot be imported in .venv: run 'python install.py' again")
        return 1
    dev = "CUDA" if st["cuda"] else ("MPS" if st["mps"] else "CPU")
    say(f"    {py}: torch {st['version']}, accelerator: {dev}")

    step("GIMP plug-in")
    targets = gimp_targets(args)
    if not targets:
        say("    no GIMP 3 profile found: run 'python install.py --gimp-only' after starting GIMP 3 once")
    for t in targets:
        dest = plugin_dir_for(t)
        main = dest / f"{PLUGIN_NAME}.py"
        if not main.exists():
            say(f"    not installed in {t}")
            continue
        problems = []
        if os.name != "nt" and not os.access(main, os.X_OK):
            problems.append("not executable")
        if b"\r\n" in main.read_bytes():
            problems.append("CRLF line endings")
        if not (dest / "shared" / "client.py").exists():
            problems.append("shared/ missing")
        missing = [str(rel_dest) for _src, rel_dest, _mode in plugin_files() if not (dest / rel_dest).exists()]
        if missing:
            problems.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        try:
            cfg = json.loads((dest / CONFIG_NAME).read_text(encoding="utf-8"))
            if not Path(cfg.get("python", "")).exists():
                problems.append(f"its daemon python {cfg.get('python')} does not exist")
        except (OSError, ValueError):
            problems.append(f"{CONFIG_NAME} missing or unreadable")
        if problems:
            ok = False
            say(f"    PROBLEM in {dest}: {', '.join(problems)}: run 'python install.py --gimp-only'")
        else:
            say(f"    ok: {dest}")

    step(f"Daemon round trip at {args.endpoint}")
    sys.path.insert(0, str(ROOT))
    try:
        from shared import client as C
    except ImportError as e:
        say(f"    FAIL: cannot import the shared client: {e}")
        return 1
    try:
        t0 = time.monotonic()
        C.ensure_daemon(args.endpoint, str(py), timeout=180.0, install=str(ROOT))
        c = C.DaemonClient(endpoint=args.endpoint, timeout=30.0)
        try:
            info = c.hello()
            say(f"    daemon answers ({time.monotonic() - t0:.1f} s): {_short_info(info)}")
            size = 32
            content = bytes(v for y in range(size) for x in range(size)
                            for v in (x * 8 % 256, y * 8 % 256, 128, 255))
            style = bytes(v for y in range(size) for x in range(size)
                          for v in ((255, 200, 0, 255) if (x // 4 + y // 4) % 2 else (0, 40, 120, 255)))
            t1 = time.monotonic()
            job = c.submit(content=C.ImageData(size, size, content), styles=[C.ImageData(size, size, style)],
                           regions=[], options={"quality": "preview", "size": size, "steps": 5},
                           init=None, preview=False)
            result = None
            for ev in c.events(job, timeout=300.0):
                if ev.get("type") == "error":
                    raise C.DaemonError(ev.get("message") or ev.get("code"))
                if ev.get("type") == "result":
                    result = ev["image"]
                    break
            if result is None or (result.width, result.height) != (size, size):
                ok = False
                say("    FAIL: the daemon did not return a 32x32 image")
            else:
                say(f"    ok: stylized a {size}x{size} test image in {time.monotonic() - t1:.1f} s "
                    f"({'pyzmq' if c.transport == 'pyzmq' else 'standard-library'} client)")
        finally:
            c.close()
    except C.DaemonError as e:
        say(f"    FAIL: {e}")
        say("    the daemon's log: run '.venv/bin/python -m daemon status' (or see the log folder in README)")
        return 1
    say("All good." if ok else "Some checks failed: see above.")
    return 0 if ok else 1


def _short_info(info) -> str:
    if isinstance(info, dict):
        keys = ("version", "protocol", "device", "torch")
        return ", ".join(f"{k} {info[k]}" for k in keys if k in info) or "hello"
    return str(info)


# ---- main --------------------------------------------------------------------------------------

def default_endpoint() -> str:
    return os.environ.get("NEURAL_STYLE_ENDPOINT") or DEFAULT_ENDPOINT


def pip_index_args(args) -> List[str]:
    """The user's own --index-url / --extra-index-url, for pip."""
    out = ["--index-url", args.index_url] if args.index_url else []
    for url in args.extra_index_url:
        out += ["--extra-index-url", url]
    return out


def parse_args(argv: Optional[Iterable[str]] = None):
    p = argparse.ArgumentParser(
        prog="python install.py",
        description="Set up neural style transfer: .venv with its dependencies, a stylized example, "
                    "and the GIMP 3 plug-in.")
    p.add_argument("--gimp-dir", action="append", metavar="DIR",
                   help="GIMP profile folder to install into, e.g. ~/.config/GIMP/3.0 (repeatable; "
                        "default: every GIMP 3.x profile found)")
    p.add_argument("--check", action="store_true",
                   help="check the set-up with a real round trip through the daemon, then exit")
    p.add_argument("--uninstall", action="store_true", help="remove the plug-in from the GIMP profiles")
    p.add_argument("--gimp-only", action="store_true",
                   help="only install the GIMP plug-in (no venv, no dependencies, no demo)")
    p.add_argument("--no-gimp", action="store_true", help="skip the GIMP plug-in")
    p.add_argument("--no-demo", action="store_true", help="skip stylizing the bundled example")
    p.add_argument("--endpoint", default=default_endpoint(),
                   help="where the plug-in finds the daemon (default: %(default)s)")
    p.add_argument("--torch", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="which torch build to install when none fits (default: detect)")
    p.add_argument("--index-url", metavar="URL",
                   help="package index for pip to use instead of its configured one (passed through to pip; "
                        "default: pip's own configuration, e.g. pip.conf or PIP_INDEX_URL)")
    p.add_argument("--extra-index-url", action="append", metavar="URL", default=[],
                   help="another package index for pip (passed through to pip; repeatable)")
    p.add_argument("--demo-steps", type=int, default=80, help="optimisation steps of the demo (default: 80)")
    p.add_argument("--demo-size", type=int, default=256, help="long edge of the demo output (default: 256)")
    return p.parse_args(argv)


def main(argv: Optional[Iterable[str]] = None) -> int:
    if sys.version_info < (3, 10):
        print(f"install.py needs Python 3.10 or newer (this is {platform.python_version()}).", file=sys.stderr)
        return 1
    args = parse_args(argv)
    try:
        if args.check:
            return do_check(args)
        if args.uninstall:
            step("Removing the GIMP plug-in")
            return do_uninstall(args)
        py = venv_python()
        demo = None
        if not args.gimp_only:
            step(f"Python environment in {rel(VENV)}")
            py = ensure_venv()
            step("torch")
            ensure_torch(py, args.torch, pip_index_args(args))
            step("The project and its dependencies")
            pip(py, ["-e", f"{ROOT}[test]"] + pip_index_args(args))
            if not args.no_demo:
                step("Stylizing the bundled example through the daemon (about a minute on a small CPU)")
                demo = run_demo(py, args.demo_steps, args.demo_size)
        installed: List[Path] = []
        if not args.no_gimp:
            step("GIMP 3 plug-in")
            installed = do_gimp(args, py)
        say()
        say("Done.")
        if demo is not None:
            say(f"  The stylized example is {demo}")
        if not args.gimp_only:
            say(f"  Command line: {rel(py)} -m daemon stylize --content PHOTO --style PAINTING --output OUT.png")
            say(f"  Tests: {rel(py)} -m pytest")
        if installed:
            say("  Next: restart GIMP, open an image, select a layer (and an area, if you like), then")
            say("        Filters > Artistic > Neural Style Transfer...")
            say("  Check the whole chain at any time with: python install.py --check")
        return 0
    except InstallError as e:
        print(f"install.py: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("install.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
