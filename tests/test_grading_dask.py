"""The batch on a real dask.distributed cluster: a LocalCluster of two workers grades a
class as a local run does (each worker sandboxes its submissions), resumes after an
interruption, and ``grade --scheduler`` drives it from the command line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gradcheck_lab.cli import main
from gradcheck_lab.grading import GradeConfig, SubmissionGrade, grade_batch
from gradcheck_lab.grading.assignment import parse_assignment
from gradcheck_lab.submissions import discover

from .test_grading import BUGGY, NO_EXP
from .test_sandbox import ENGINE, tiny_config

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> GradeConfig:
    tiny = parse_assignment('[ops]\nrequired = ["add", "mul", "exp", "tanh"]\noptional = ["*"]')  # the ENGINE's ops
    return tiny_config(tmp_path_factory.getbasetemp() / "tiny-dask", assignment=tiny)


@pytest.fixture(scope="module")
def cluster() -> object:
    # threads, not processes: quick to start; every submission still runs in its own sandboxed child
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


@pytest.fixture()
def klass(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name, source in (("ann", ENGINE), ("bob", BUGGY), ("cat", NO_EXP), ("dan", "print('no class')\n"),
                         ("eve", ENGINE.replace("        self.grad = 1.0\n", ""))):
        (folder / f"{name}.py").write_text(source)
    return folder


def _same(a: SubmissionGrade, b: SubmissionGrade) -> None:
    assert (a.id, a.verdict, a.score, a.finding, a.codes) == (b.id, b.verdict, b.score, b.finding, b.codes)
    assert [(c.name, c.verdict, c.score, c.excused) for c in a.cases] == [
        (c.name, c.verdict, c.score, c.excused) for c in b.cases]


def test_a_local_cluster_grades_as_a_local_run(tmp_path: Path, config: GradeConfig, klass: Path,
                                               cluster: object) -> None:
    refs = discover([klass])
    local = grade_batch(refs, config, tmp_path / "local")
    with distributed.Client(cluster) as client:
        remote = grade_batch(refs, config, tmp_path / "dask", client=client)
        workers = client.run(lambda: 1)
    assert len(workers) == 2 and not remote.errors
    assert [g.verdict for g in remote.grades] == ["correct", "wrong", "partial", "invalid", "wrong"]
    for a, b in zip(local.grades, remote.grades):
        _same(a, b)
    assert [g.notes for g in local.grades] == [g.notes for g in remote.grades]  # isolated as locally (a note says how)
    written = sorted(p.name for p in (tmp_path / "dask" / "submissions").iterdir())
    assert written == ["ann", "bob", "cat", "dan", "eve"]


def test_resume_and_interrupt_on_the_cluster(tmp_path: Path, config: GradeConfig, klass: Path,
                                             cluster: object) -> None:
    refs = discover([klass])
    seen: list[str] = []

    def stop_after_two(grade: SubmissionGrade, reused: bool) -> None:
        seen.append(grade.id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with distributed.Client(cluster) as client:
        with pytest.raises(KeyboardInterrupt):
            grade_batch(refs, config, tmp_path / "r", client=client, on_result=stop_after_two)
        kept = {p.name for p in (tmp_path / "r" / "submissions").iterdir() if (p / "grade.json").exists()}
        assert set(seen[:1]) <= kept  # what finished is kept (the second was written before on_result stopped)
        batch = grade_batch(refs, config, tmp_path / "r", client=client)
    assert kept <= batch.reused and len(batch.grades) == 5


def test_grade_scheduler_from_the_command_line(tmp_path: Path, config: GradeConfig, klass: Path,
                                               cluster: object) -> None:
    cases = Path(config.cases[0].file)
    (cases.parent / "assignment.toml").write_text('[ops]\nrequired = ["add", "mul", "exp", "tanh"]\noptional = ["*"]\n')
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    args = ["grade", str(klass), "--cases", str(cases), "--cache-dir", str(config.cache_dir), "--samples", "1",
            "--report-dir", str(tmp_path / "reports"), "--scheduler", address, "-q"]
    assert main(args) == 0
    rows = {r["id"]: r["verdict"] for r in csv.DictReader((tmp_path / "reports" / "grades.csv").read_text()
                                                          .splitlines())}
    assert rows == {"ann": "correct", "bob": "wrong", "cat": "partial", "dan": "invalid", "eve": "wrong"}


def test_no_scheduler_is_a_clear_error(tmp_path: Path, klass: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["grade", str(klass), "--report-dir", str(tmp_path / "r"), "--scheduler", "tcp://127.0.0.1:9", "-q"]
    assert main(args) == 2
    assert "no dask scheduler answers at tcp://127.0.0.1:9" in capsys.readouterr().err
