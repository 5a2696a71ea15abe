"""Command line: argument parsing and dispatch only; each subcommand is a module of
:mod:`gradcheck_lab.commands` with ``add_parser(sub)`` (which sets ``run``).

``python -m gradcheck_lab cases/`` checks the reference engine on every case;
``--impl my_value.py`` checks another implementation. Exit status: 0 when every check
agrees, 1 when any discrepancy was found, 2 for usage or input errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import GradcheckError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: Subcommand name -> module in gradcheck_lab.commands. The first is the default.
SUBCOMMANDS = {"check": "check", "explain": "explain", "grade": "grade", "diagnose": "diagnose",
               "check-nn": "check_nn"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck_lab",
        description="Check scalar autograd engines (micrograd-style Value classes) against the truth.",
    )
    parser.add_argument("--version", action="version", version=f"gradcheck_lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for module in SUBCOMMANDS.values():
        importlib.import_module(f".commands.{module}", __package__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "check")  # `python -m gradcheck_lab cases/` means `check cases/`
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except GradcheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
