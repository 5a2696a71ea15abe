"""The nn checks' cost per submission, in process: a correct folder and every nn bug.

    python benchmarks/bench_nn.py

Writes the student folders (``check-nn --write-bugs``) to a temporary folder, checks each
once to warm the answer keys and the bugs' predictions (as a grading batch does once per
worker), then times each folder's checks and prints the codes found and the median.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.commands.check_nn import write_bugs
from gradcheck_lab.nn import check_nn, in_process
from gradcheck_lab.nn.loading import load_names


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_bugs(Path(tmp) / "bugs")
        keys = AnswerKeys(Path(tmp) / "keys")
        started = time.perf_counter()
        for folder in folders:
            check_nn(in_process(load_names(folder)), keys=keys)
        print(f"cold (answer keys, predictions): {time.perf_counter() - started:.2f} s for {len(folders)} folders")
        times = []
        for folder in folders:
            names = load_names(folder)
            t = time.perf_counter()
            result = check_nn(in_process(names), keys=keys)
            times.append(time.perf_counter() - t)
            print(f"{folder.name:28} {times[-1] * 1000:7.1f} ms  {', '.join(result.codes) or 'ok'}")
        print(f"median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms per submission")


if __name__ == "__main__":
    main()
