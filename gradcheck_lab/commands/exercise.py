"""``exercise``: write each student's personal backprop-by-hand exercise (seed 000's format).

    python -m gradcheck_lab exercise --student ada --student bob [--size 7] [--ops add mul log sin]

writes ``exercises/ID.md``, ``ID.html`` and ``ID.csv`` (the table to fill) and the answer key
``exercise-keys/ID.key.csv``, for the instructor only. The same id, size, ops and seed give the
same exercise.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ..exercises import DEFAULT_OPS

    p = sub.add_parser("exercise", help="write personal backprop-by-hand exercises (tables to fill, and keys)",
                       description="Write a personal backprop exercise per student: an expression, a point, blank "
                                   "forward and backward tables (Markdown, HTML, CSV); the answer key goes apart.")
    p.add_argument("--student", action="append", required=True, metavar="ID", help="a student id (repeatable)")
    p.add_argument("--size", type=int, default=7, metavar="N", help="operations in the expression (default: 7)")
    p.add_argument("--ops", nargs="+", default=list(DEFAULT_OPS), metavar="OP",
                   help=f"the ops to draw from (default: {' '.join(DEFAULT_OPS)}; also sub div relu sigmoid)")
    p.add_argument("--seed", type=int, default=0, help="another seed gives everyone another exercise (default: 0)")
    p.add_argument("--out-dir", default="exercises", metavar="DIR", help="the students' files (default: exercises)")
    p.add_argument("--key-dir", default="exercise-keys", metavar="DIR",
                   help="the answer keys, for the instructor only (default: exercise-keys)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..exercises import make_exercise, write_exercise

    for student in args.student:
        exercise = make_exercise(student, args.size, args.ops, args.seed)
        paths = write_exercise(exercise, args.out_dir, args.key_dir)
        print(f"{student}: {', '.join(str(p) for p in paths[:3])} (key: {paths[3]})", file=sys.stderr)
    return 0
