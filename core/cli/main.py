"""`vh`: harmonize shots, evaluate models, build datasets and train, from one command.

Each subcommand is a module with `add_arguments(parser)` and `run(args) -> int`. Modules keep their top-level
imports light (torch, cv2 and friends are imported inside `run`) so that `vh --help` is instant. Expected
failures (`VhError`) print one line, `vh: error: ...`, and exit 2; nothing half-written is left behind."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# name -> (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "harmonize": ("vh.core.cli.harmonize", "harmonize a shot (image sequence or video) with a matte"),
    "detect": ("vh.core.cli.detect", "predict a disharmony matte for a shot (Huang et al. discriminator)"),
    "eval": (
        "vh.core.cli.evaluate",
        "measure models on a HYouTube-layout folder (MSE, fMSE, PSNR, fSSIM, TL, flicker)",
    ),
    "models": (
        "vh.core.cli.models",
        "list the models, their options with ranges, and whether their weights are here",
    ),
    "demo": ("vh.core.cli.demo", "build a small composite from the bundled lemur photo and harmonize it"),
    "make-dataset": ("vh.training.cli", "build a HYouTube-layout training set from images+masks or DAVIS"),
    "train": ("vh.training.cli", "train a model from a YAML config"),
    "remote": ("vh.server.cli", "run a job through a vh-server (e.g. `vh remote harmonize ...`)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vh",
        description="Video harmonization for compositors: repaint a pasted foreground to match its plate.",
        epilog="Run `vh COMMAND --help` for the options of one command.",
    )
    from vh.core import __version__

    parser.add_argument("--version", action="version", version=f"vh {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not built in this installation
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p, name) if _takes_name(module.add_arguments) else module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _takes_name(fn) -> bool:
    return fn.__code__.co_argcount >= 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return run_command(args._module.run, args)


def run_command(run: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """`run(args)` as every vh command runs: an expected failure (VhError) is one line and exit 2; Ctrl-C
    exits 130 and SIGTERM 143, each after the command's own cleanup has run."""
    from vh.core.errors import VhError

    try:
        with _terminate_as_interrupt():
            return int(run(args) or 0)
    except VhError as exc:
        print(f"vh: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"vh: {'terminated' if signum == signal.SIGTERM else 'interrupted'}", file=sys.stderr)
        return 128 + signum


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a farm's or a pipeline's stop) unwinds the command like Ctrl-C: partial outputs are removed
    instead of left behind by an abrupt exit. Commands that stop gracefully (vh train) set their own handler
    inside; the previous one is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    from vh.core.errors import Terminated

    def terminate(_signum, _frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
