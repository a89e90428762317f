#!/usr/bin/env python3
"""Install the Resolve scripts: copies them into Resolve's per-user Fusion/Scripts folder and installs the vh
client (grpcio, protobuf, numpy + vh) with vh_resolve into a private site folder the scripts add to sys.path.

    python3 plugins/resolve/install.py                # this user's Resolve
    python3 plugins/resolve/install.py --dry-run      # print what would be copied
    python3 plugins/resolve/install.py --scripts-dir DIR --site DIR --no-pip

Per-OS script folders (Resolve's documented per-user locations):
    macOS:   ~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
    Windows: %APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts
    Linux:   ~/.local/share/DaVinciResolve/Fusion/Scripts
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def scripts_dir(platform=None, environ=None):
    platform = platform or sys.platform
    environ = os.environ if environ is None else environ
    home = environ.get("HOME") or os.path.expanduser("~")
    if platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "Blackmagic Design", "DaVinci Resolve",
                            "Fusion", "Scripts")
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
            pairs.append((os.path.join(HERE, "scripts", kind, name), os.path.join(target_scripts, kind, name)))
    pairs.append((os.path.join(HERE, "vh_resolve"), os.path.join(site, "vh_resolve")))
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description="Install the VHMAE Harmonize scripts into DaVinci Resolve.")
    parser.add_argument("--scripts-dir", default=scripts_dir(), help="Resolve's Fusion/Scripts folder")
    parser.add_argument("--site", default=default_site(), help="where the client packages go")
    parser.add_argument("--python", default=sys.executable, help="the Python Resolve uses (for pip)")
    parser.add_argument("--no-pip", action="store_true", help="copy the scripts only")
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
    if not args.no_pip and not args.dry_run:
        pip = [args.python, "-m", "pip", "install", "--upgrade", "--target", args.site]
        subprocess.check_call(pip + ["grpcio", "protobuf", "numpy"])
        subprocess.check_call(pip + ["--no-deps", REPO])
    print("installed; restart Resolve, then use Workspace > Scripts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
