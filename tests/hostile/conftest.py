"""The hostile batch: every attack of :mod:`.attacks`, between control submissions, graded
once per session through the real sandbox with the audit hook switched off, beside
canaries (a secret file, a folder nobody may write to). Each test file asserts one class."""

from __future__ import annotations

import dataclasses
import os
import resource
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradcheck_lab.grading import BatchResult, SubmissionGrade, grade_batch
from gradcheck_lab.report.grades import write_class_reports
from gradcheck_lab.submissions import Limits, discover, isolation_problem
from tests.hostile.attacks import ATTACKS, BUGGY, CSV_INJECTION
from tests.test_sandbox import ENGINE, tiny_config

CONTROLS = {"aa_control_correct": (ENGINE, "correct"), "zz_control_correct": (ENGINE, "correct"),
            "zz_control_buggy": (BUGGY, "wrong")}

pytestmark = pytest.mark.skipif(bool(isolation_problem()), reason=f"no sandbox here: {isolation_problem()}")


@dataclass
class Hostile:
    """What the batch left: grades by id, the folders, the secret, the grader's peak memory."""

    batch: BatchResult
    grades: dict[str, SubmissionGrade]
    root: Path
    reports: Path
    canary: Path
    secret: str
    mark: str
    peak_mb: float
    seconds: float

    def report_texts(self) -> str:
        """Every report the grader wrote, as one text."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.reports.rglob("*")) if p.is_file())

    def survivors(self) -> list[str]:
        """Processes still alive that an attack started (they carry the mark)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if self.mark.encode() in cmd:
                    found.append(cmd.decode(errors="replace"))
        return found


def _fill(text: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return text


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    root = tmp_path_factory.mktemp("hostile")
    canary, reports, klass = root / "canary", root / "reports", root / "class"
    for folder in (canary, klass):
        folder.mkdir()
    secret = "SECRET-" + secrets.token_hex(8)
    (canary / "secret.txt").write_text(f"TOKEN = {secret!r}\n")
    config = tiny_config(root / "grading", probes=False, diagnose=False,
                         limits=Limits(timeout=4.0, request_timeout=1.5, memory_mb=512, max_restarts=1,
                                       audit_hook=False))
    assert config.cache_dir is not None
    mark = "gradcheck-hostile-" + secrets.token_hex(4)
    names = {"SECRET": str(canary / "secret.txt"), "CANARY": str(canary), "CACHE": config.cache_dir,
             "CASES": str(root / "grading"), "REPORTS": str(reports), "OTHER": str(klass / "zz_control_correct.py"),
             "MARK": mark}
    for name, (source, _) in CONTROLS.items():
        (klass / f"{name}.py").write_text(source)
    for attack in ATTACKS:
        base = klass / attack.name if attack.folder else klass
        base.mkdir(exist_ok=True)
        for file, source in attack.files.items():
            (base / (file if attack.folder else f"{attack.name}.py")).write_text(_fill(source, names))
        for file, target in attack.links.items():
            (base / file).symlink_to(_fill(target, names))
        for file, size in attack.sparse.items():
            with open(base / (file if attack.folder else f"{attack.name}.py"), "wb") as f:
                f.truncate(size)
    (klass / f"{CSV_INJECTION[0]}.py").write_text(CSV_INJECTION[1])
    (klass / "linked_entry.py").symlink_to(canary / "secret.txt")
    hidden = (*config.hidden, str(canary), str(reports), str(klass))
    config = dataclasses.replace(config, hidden=hidden)  # what `grade` hides
    started = time.perf_counter()
    batch = grade_batch(discover([klass]), config, reports, jobs=1)  # in this process: its memory is measured
    write_class_reports(reports, batch.grades)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Hostile(batch, {g.id: g for g in batch.grades}, root, reports, canary, secret, mark, peak_mb, seconds)


def grade_of(hostile: Hostile, name: str) -> SubmissionGrade:
    """An attack's grade, checked to end with one of the verdicts it may end with."""
    grade = hostile.grades[name]
    attack = next((a for a in ATTACKS if a.name == name), None)
    if attack is not None:
        assert grade.verdict in attack.verdicts, (name, grade.verdict, grade.finding)
    return grade
