"""Command line: argument parsing and dispatch only; each subcommand is a module of
:mod:`gradcheck_lab.commands` with ``add_parser(sub)`` (which sets ``run``).

``python -m gradcheck_lab cases/`` checks the reference engine on every case;
``--impl my_value.py`` checks another implementation. Options may come before or after
the cases. Exit status (:class:`Exit`): 0 when every check agrees, 1 when any
discrepancy was found, 2 for usage or input errors, 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import GradcheckError
from .version import __version__

__all__ = ["SUBCOMMANDS", "Exit", "build_parser", "main"]

#: Subcommand name -> module in gradcheck_lab.commands. The first is the default.
SUBCOMMANDS = {"check": "check", "explain": "explain", "grade": "grade", "diagnose": "diagnose",
               "check-nn": "check_nn", "exercise": "exercise", "check-table": "check_table"}


class Exit(enum.IntEnum):
    """Exit statuses, one meaning each (the README's table)."""

    OK = 0  #: every check agrees (kinks and domain errors are warnings)
    DISCREPANCY = 1  #: a discrepancy or a bug was found
    USAGE = 2  #: a usage or input error: nothing was checked, nothing written
    INTERRUPTED = 130  #: Ctrl-C: files already written are whole; nothing else was touched


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck_lab",
        description="Check scalar autograd engines (micrograd-style Value classes) against the truth.",
        epilog="Exit status: 0 all agree, 1 a discrepancy found, 2 usage or input error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"gradcheck_lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for module in SUBCOMMANDS.values():
        importlib.import_module(f".commands.{module}", __package__).add_parser(sub)
    return parser


def _with_command(argv: list[str]) -> list[str]:
    """``argv`` with ``check`` put first when it names no subcommand: ``cases/ -q``,
    ``--impl x.py cases/`` and ``-q cases/`` all mean ``check ...``.

    >>> _with_command(["--impl", "x.py", "cases/"]), _with_command(["grade", "subs/"])
    (['check', '--impl', 'x.py', 'cases/'], ['grade', 'subs/'])
    >>> _with_command(["--help"]), _with_command([])
    (['--help'], [])
    """
    if not argv or argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    return ["check", *argv]


def _keep_hypothesis_in_cache(cache_dir: str | None) -> None:
    """Hypothesis (the counterexample search) keeps its files in our cache folder, not in a
    ``.hypothesis/`` of the user's current folder: a tool writes only where it is told."""
    from .answer_keys import default_cache_dir

    where = Path(cache_dir) if cache_dir else default_cache_dir()
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(where / "hypothesis"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (:class:`Exit`)."""
    from .implementations import TimeLimit, limit_message

    try:
        parser = build_parser()
        args = parser.parse_args(_with_command(list(sys.argv[1:] if argv is None else argv)))
        if args.command is None:
            parser.print_help()
            return Exit.USAGE
        _keep_hypothesis_in_cache(getattr(args, "cache_dir", None))
        return int(args.run(args))
    except GradcheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except TimeLimit as exc:
        print(f"error: {limit_message(exc)}", file=sys.stderr)
        return Exit.USAGE
    except KeyboardInterrupt:
        print("\ninterrupted: every file already written is whole; nothing else was touched", file=sys.stderr)
        return Exit.INTERRUPTED
    except OSError as exc:  # a full disk, a folder that became read-only mid-run
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return Exit.USAGE
