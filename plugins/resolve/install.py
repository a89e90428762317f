#!/usr/bin/env python3
"""Install the Resolve scripts: copies the Python and Lua scripts into Resolve's per-user Fusion/Scripts
folder, vh_resolve and vh_outproc (standard library only) into a private site folder the Python scripts add to
sys.path, and sets up the vh installation the jobs run in (out of process: no gRPC in Resolve's Python):

- `--vh-python PATH`: an existing Python with vh installed; or
- by default, a virtual environment (~/.vh/venv, `--venv`) made with `--python` (3.10+) holding the thin
  client: grpcio, protobuf, numpy, OpenImageIO (EXR frames) and vh itself without its heavy dependencies (no
  torch).

Its path goes into ~/.vh/host.json (`--config`), which the Python and Lua scripts read ($VH_PYTHON overrides).

    python3 plugins/resolve/install.py                # this user's Resolve
    python3 plugins/resolve/install.py --dry-run      # print what would be copied
    python3 plugins/resolve/install.py --scripts-dir DIR --site DIR --no-pip

Per-OS script folders (Resolve's documented per-user locations):
    macOS:   ~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
    Windows: %APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts
    Linux:   ~/.local/share/DaVinciResolve/Fusion/Scripts
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IN_HOST = os.path.join(REPO, "client", "inhost")
VH_HOME = os.path.join(os.path.expanduser("~"), ".vh")


def scripts_dir(platform=None, environ=None):
    platform = platform or sys.platform
    environ = os.environ if environ is None else environ
    home = environ.get("HOME") or os.path.expanduser("~")
    if platform == "darwin":
        return os.path.join(
            home,
            "Library",
            "Application Support",
            "Blackmagic Design",
            "DaVinci Resolve",
            "Fusion",
            "Scripts",
        )
    if platform == "win32":
        appdata = environ.get("APPDATA") or os.path.join(home, "AppData", "Roaming")
        return os.path.join(appdata, "Blackmagic Design", "DaVinci Resolve", "Support", "Fusion", "Scripts")
    return os.path.join(home, ".local", "share", "DaVinciResolve", "Fusion", "Scripts")


def default_site():
    return os.environ.get("VH_RESOLVE_SITE") or os.path.join(os.path.expanduser("~"), ".vh", "resolve-site")


def plan(target_scripts, site):
    """(source, destination) pairs to copy."""
    pairs = []
    for kind in ("Comp", "Utility"):
        for name in sorted(os.listdir(os.path.join(HERE, "scripts", kind))):
            pairs.append(
                (os.path.join(HERE, "scripts", kind, name), os.path.join(target_scripts, kind, name))
            )
    pairs.append((os.path.join(HERE, "vh_resolve"), os.path.join(site, "vh_resolve")))
    pairs.append((os.path.join(IN_HOST, "vh_outproc.py"), os.path.join(site, "vh_outproc.py")))
    return pairs


def venv_python(venv):
    return (
        os.path.join(venv, "Scripts", "python.exe")
        if os.name == "nt"
        else os.path.join(venv, "bin", "python")
    )


def make_vh_venv(python, venv):
    """A virtual environment with the thin client (vh --no-deps, and what vh.client needs); returns its
    Python."""
    version = subprocess.check_output(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], universal_newlines=True
    ).strip()
    if tuple(int(x) for x in version.split(".")) < (3, 10):
        raise SystemExit(
            "the vh client needs Python 3.10+ (grpcio/protobuf wheels); %s is %s: pass --python"
            % (python, version)
        )
    subprocess.check_call([python, "-m", "venv", venv])
    pip = [venv_python(venv), "-m", "pip", "install", "--upgrade"]
    # numpy, gRPC and protobuf for the client; OpenImageIO (and vh.core.io's OCIO and PyAV) for the EXR frames
    subprocess.check_call(pip + ["grpcio", "protobuf", "numpy", "OpenImageIO", "opencolorio", "av"])
    subprocess.check_call(pip + ["--no-deps", REPO])
    return venv_python(venv)


def write_config(config, python):
    os.makedirs(os.path.dirname(config), exist_ok=True)
    with open(config, "w") as f:
        json.dump({"python": python}, f, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Install the VHMAE Harmonize scripts into DaVinci Resolve.")
    parser.add_argument("--scripts-dir", default=scripts_dir(), help="Resolve's Fusion/Scripts folder")
    parser.add_argument("--site", default=default_site(), help="where vh_resolve and vh_outproc go")
    parser.add_argument("--vh-python", help="an existing Python with vh installed, to run the jobs in")
    parser.add_argument(
        "--python", default=sys.executable, help="the Python (3.10+) to make the vh venv with"
    )
    parser.add_argument("--venv", default=os.path.join(VH_HOME, "venv"), help="where to make the vh venv")
    parser.add_argument(
        "--config", default=os.path.join(VH_HOME, "host.json"), help="where to record the vh Python"
    )
    parser.add_argument("--no-pip", action="store_true", help="copy the scripts only (no venv is made)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    for src, dst in plan(args.scripts_dir, args.site):
        print("%s -> %s" % (src, dst))
        if args.dry_run:
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(src):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    python = args.vh_python
    if python is None and not args.no_pip and not args.dry_run:
        python = make_vh_venv(args.python, args.venv)
    if python is not None:
        print("vh jobs run in %s (recorded in %s)" % (python, args.config))
        if not args.dry_run:
            write_config(args.config, python)
    print("installed; restart Resolve, then use Workspace > Scripts (Lua in Resolve free, Python in Studio)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
