"""The ``tunespace`` command line: a thin layer over the library.

Each module in this package is one subcommand. It defines::

    NAME: str                                   # e.g. "corpus"
    HELP: str                                   # one line for ``tunespace --help``
    def add_arguments(parser: argparse.ArgumentParser) -> None
    def run(args: argparse.Namespace) -> int    # calls library functions, returns exit status

Expected failures raise :class:`tunespace.errors.TunespaceError`; :func:`main` prints them as
one line on stderr and exits with their exit code (2 for usage and config errors). Ctrl-C
(SIGINT) and SIGTERM (``kill``, Slurm at a job's time limit, torchrun stopping the other ranks
when one fails) unwind the command like an exception, so that its clean-up runs (a study
cancels the jobs and processes it started, locks are released), and end it with one line and
status 130 or 143.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from ..errors import TunespaceError


class _UsageExit(Exception):
    """A command line argparse could not parse (already reported on stderr)."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


class _Parser(argparse.ArgumentParser):
    """argparse, with a parse error reported as one line (and status 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise _UsageExit(message)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one subparser per command module."""
    parser = _Parser(
        prog="tunespace",
        description="Music audio embeddings: train with chosen augmentation, embed, "
        "and measure which musical properties the neighbourhoods are organised by.",
    )
    parser.add_argument("--version", action="version", version=f"tunespace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageExit:
        return 2
    # the program itself (``tunespace ...``, ``python -m tunespace``), not a Python caller's main(argv):
    # that caller's process keeps SIGTERM's default action
    catch = (
        argv is None
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
    if catch:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args._run(args) or 0)
    except TunespaceError as e:
        print(f"tunespace {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except _Terminated:
        print(f"tunespace {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"tunespace {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the machine refused (disk full, read-only, permission): one line, status 1
        where = f"{e.filename}: " if e.filename else ""
        print(f"tunespace {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    finally:
        if catch:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
