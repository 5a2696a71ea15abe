"""``check-table``: check filled backprop tables line by line (see :mod:`gradcheck_lab.exercises.table`).

    python -m gradcheck_lab check-table ada.csv                 # what is wrong, line by line
    python -m gradcheck_lab check-table filled/ --report-dir reports [--key-dir exercise-keys]

One file prints its wrong lines and exits 1 if any; several (or a folder) are graded as a
batch: one point per line, ``grades.csv`` and each student's feedback (``tables/ID.txt``) in
``--report-dir`` and, for one file, ``--gradescope results.json`` (a test per part of the
table). With ``--key-dir``, a table whose expression or point is not its student's exercise
(``ID.csv`` against ``ID.key.csv``) earns nothing and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import GradcheckError

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check-table", help="check filled backprop tables line by line (and grade them)",
                       description="Check a filled backprop table (CSV) line by line, as a hand calculation rounds; "
                                   "several tables are graded as a batch (grades.csv, Gradescope).")
    p.add_argument("tables", nargs="+", help="filled CSV files, or folders of them")
    p.add_argument("--digits", type=int, default=4, metavar="N", help="decimals a hand calculation keeps (default: 4)")
    p.add_argument("--key-dir", metavar="DIR", help="the answer keys (ID.key.csv): check each table is its exercise")
    p.add_argument("--report-dir", metavar="DIR", help="write grades.csv here")
    p.add_argument("--gradescope", metavar="PATH", help="write Gradescope's results.json here (one table)")
    p.set_defaults(run=run)


def _tables(given: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in given:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.csv") if not p.name.endswith(".key.csv"))
        elif path.is_file():
            found.append(path)
        else:
            raise GradcheckError(f"{name}: no such file or folder")
    if not found:
        raise GradcheckError("no CSV tables found")
    return found


def run(args: argparse.Namespace) -> int:
    from ..atomic import write_text
    from ..exercises.table import TableCheck, check_table, table_grade
    from ..report.grades import grades_csv_text
    from ..report.gradescope import results_json

    paths = _tables(args.tables)
    if args.gradescope and len(paths) != 1:
        raise GradcheckError("--gradescope writes one table's results: give one file")
    grades, checks, worst = [], [], 0
    for path in paths:
        try:
            check = check_table(path, args.digits)
        except GradcheckError as exc:
            if len(paths) == 1:
                raise
            check = TableCheck("", {}, [], args.digits, [str(exc)])  # in a batch: graded 0, the batch goes on
        if args.key_dir and check.source:
            key = Path(args.key_dir) / f"{path.stem}.key.csv"
            if not key.is_file():
                check.notes.append(f"no answer key {key}: is {path.stem} a student id?")
            else:
                exercise = check_table(key, args.digits)
                if (exercise.source, exercise.point) != (check.source, check.point):
                    check.notes.append(f"this table's expression or point is not {path.stem}'s exercise")
                    check.lines = [replace(w, ok=False) for w in check.lines]  # no credit for another's table
        grade = table_grade(check, path.stem, str(path))
        grades.append(grade)
        checks.append(check)
        worst = max(worst, 0 if check.ok else 1)
        if len(paths) == 1:
            print(check.text(), end="")
        else:
            print(f"{path.stem}: {grade.score:g}/{grade.max_score:g} {grade.finding}")
    if args.report_dir:
        print(f"grades: {write_text(Path(args.report_dir) / 'grades.csv', grades_csv_text(grades))}", file=sys.stderr)
    if args.gradescope:
        data = results_json(grades[0])
        # a table is no Value class: its own text heads the results, and there is nothing to load
        data["output"] = checks[0].text()
        data["tests"] = [t for t in data["tests"] if "score" in t]
        path = write_text(args.gradescope, json.dumps(data, indent=1, allow_nan=False) + "\n")
        print(f"gradescope: {path}", file=sys.stderr)
    if args.report_dir:  # each student's feedback, line by line
        for grade, check in zip(grades, checks):
            write_text(Path(args.report_dir) / "tables" / f"{grade.id}.txt", check.text())
    return worst
