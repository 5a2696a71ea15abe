"""The nn checks through the real path: student folders written out, loaded, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_lab.answer_keys import AnswerKeys
from gradcheck_lab.cli import main
from gradcheck_lab.diagnose.catalog import submission_source
from gradcheck_lab.nn import NN_CATALOG, Activation, NNConfig, NNKind, check_nn, in_process, two_moons
from gradcheck_lab.nn.loading import load_names
from gradcheck_lab.nn.template import write_submission

FIXTURES = [code for code, bug in NN_CATALOG.items() if bug.replacements]

#: The lecture's variant in a student's words: tanh everywhere, no nonlin flag, no train().
LECTURE_NN = '''
import random
from engine import Value

class Neuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))
    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh()
    def parameters(self):
        return self.w + [self.b]

class Layer:
    def __init__(self, nin, nout):
        self.neurons = [Neuron(nin) for _ in range(nout)]
    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs
    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]

class MLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1]) for i in range(len(nouts))]
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0
'''


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> AnswerKeys:
    return AnswerKeys(tmp_path_factory.mktemp("nn-keys"))


def test_a_correct_folder_passes_every_check(tmp_path: Path, keys: AnswerKeys) -> None:
    result = check_nn(in_process(load_names(write_submission(tmp_path / "alice"))), keys=keys)
    assert [(s.kind, s.verdict) for s in result.sections] == [(k, "ok") for k in NNKind]
    assert result.ok and result.mode == "train" and result.training is not None
    assert result.training.parted_at is None and len(result.training.implementation.params) == 6


@pytest.mark.parametrize("code", FIXTURES)
def test_each_named_bug_is_named_from_an_ordinary_student_folder(tmp_path: Path, keys: AnswerKeys, code: str) -> None:
    folder = NN_CATALOG[code].write(tmp_path / "student")
    assert "gradcheck_lab" not in (folder / "nn.py").read_text()
    result = check_nn(in_process(load_names(folder)), keys=keys)
    assert result.codes == [code]
    assert result.evidence[code] and not result.ok
    assert result.section(NN_CATALOG[code].kind).verdict == "wrong"


def test_the_lecture_variant_tanh_everywhere_and_our_loop(tmp_path: Path, keys: AnswerKeys) -> None:
    (tmp_path / "engine.py").write_text(submission_source([]))
    (tmp_path / "nn.py").write_text(LECTURE_NN)
    result = check_nn(in_process(load_names(tmp_path)), keys=keys)
    assert result.network is not None and result.network.activation is Activation.TANH
    assert not result.network.linear_output and result.mode == "pieces"
    assert result.ok, result.evidence
    broken = LECTURE_NN.replace("            p.grad = 0.0", "            p.grad = p.grad")
    (tmp_path / "nn.py").write_text(broken)
    result = check_nn(in_process(load_names(tmp_path)), keys=keys)
    assert result.codes == ["nn-partial-zero-grad"]  # every grad left: our loop then accumulates


def test_an_engine_bug_shows_as_wrong_gradients_with_the_first_wrong_neuron(tmp_path: Path, keys: AnswerKeys) -> None:
    folder = write_submission(tmp_path / "bob")
    (folder / "engine.py").write_text(submission_source(["wrong-local:relu"]))
    result = check_nn(in_process(load_names(folder)), keys=keys)
    section = result.section(NNKind.GRADIENTS)
    assert "nn-gradients" in result.codes and section.verdict == "wrong"
    assert section.first_wrong and section.first_wrong[0].startswith("s")  # a neuron output, not a parameter
    witnessed = [n for n in section.table if n.fd_grad is not None]
    assert witnessed and all("backward pass is wrong" in n.detail for n in witnessed)


def test_the_data_is_deterministic_and_two_moons() -> None:
    xs, ys = two_moons(64, seed=3)
    assert (xs, ys) == two_moons(64, seed=3) and xs != two_moons(64, seed=4)[0]
    upper = [x for x, y in zip(xs, ys) if y < 0]
    assert sum(x[1] for x in upper) / len(upper) > 0.4  # the upper moon sits above the lower
    with pytest.raises(ValueError):
        two_moons(0)


def test_a_submission_without_mlp_is_a_contract_finding(tmp_path: Path) -> None:
    (tmp_path / "nn.py").write_text("class MLP:\n    pass\n")
    result = check_nn(in_process(load_names(tmp_path)), NNConfig())
    assert result.codes == ["nn-contract"] and result.sections[1].verdict == "skipped"


def test_check_nn_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-nn", "--write-bugs", str(tmp_path / "bugs")]) == 0
    assert main(["check-nn", str(tmp_path / "bugs" / "correct"), "--no-cache"]) == 0
    html = tmp_path / "r.html"
    assert main(["check-nn", str(tmp_path / "bugs" / "nn-update-sign"), "--no-cache", "--html", str(html)]) == 1
    out = capsys.readouterr().out
    assert "nn-update-sign: the update adds lr * grad" in out
    text = html.read_text()
    assert "<polyline" in text and "One training step explained" in text and "nn-update-sign" in text
    assert "yours after one step" in text and "✗" in text  # the student's step beside the exact one
    assert main(["check-nn", str(tmp_path / "bugs" / "nn-update-grad"), "--no-cache", "--explain"]) == 1
    explained = capsys.readouterr().out
    assert "Backward pass" in explained and "yours after one step" in explained and "✗" in explained
    assert main(["check-nn", str(tmp_path / "nowhere")]) == 2


def test_one_file_and_a_notebook_hold_engine_and_nn_together(tmp_path: Path, keys: AnswerKeys) -> None:
    import nbformat

    from gradcheck_lab.nn.template import nn_source

    engine, nn = submission_source([]), nn_source().replace("from engine import Value\n", "")
    (tmp_path / "alice.py").write_text(engine + "\n\n" + nn)
    assert check_nn(in_process(load_names(tmp_path / "alice.py")), keys=keys).ok
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("%matplotlib inline\n" + engine),
                      nbformat.v4.new_code_cell(nn.replace("p.data -= lr", "p.data += lr")),
                      nbformat.v4.new_code_cell("!pip install nothing\nmodel = MLP(2, [4, 1])")]
    nbformat.write(notebook, str(tmp_path / "bob.ipynb"))
    assert check_nn(in_process(load_names(tmp_path / "bob.ipynb")), keys=keys).codes == ["nn-update-sign"]


def test_nn_checks_as_grades(tmp_path: Path, keys: AnswerKeys) -> None:
    from gradcheck_lab.grading.nn import NNAssignment, nn_case_grades, nn_diagnosis

    assignment = NNAssignment.from_table({"points": {"training": 4}, "steps": 4})
    result = check_nn(in_process(load_names(NN_CATALOG["nn-missing-zero-grad"].write(tmp_path / "s"))),
                      assignment.config, keys)
    grades = {g.name: g for g in nn_case_grades(result, assignment)}
    assert grades["nn-training"].verdict == "grad-mismatch" and grades["nn-training"].score == 0.0
    assert grades["nn-training"].max_score == 4.0 and grades["nn-gradients"].score == 3.0
    assert "nn-missing-zero-grad" in grades["nn-training"].message
    [entry] = nn_diagnosis(result)
    assert entry["code"] == "nn-missing-zero-grad" and entry["evidence"][0]["source"].startswith("step 2:")
    with pytest.raises(ValueError, match="unknown keys"):
        NNAssignment.from_table({"point": {}})


def test_a_linear_output_layer_without_a_nonlin_flag_is_read_from_the_outputs(tmp_path: Path,
                                                                               keys: AnswerKeys) -> None:
    (tmp_path / "engine.py").write_text(submission_source([]))
    source = (LECTURE_NN.replace("def __init__(self, nin):", "def __init__(self, nin, squash=True):")
              .replace("        self.b = Value(random.uniform(-1, 1))",
                       "        self.b = Value(random.uniform(-1, 1))\n        self.squash = squash")
              .replace("return act.tanh()", "return act.tanh() if self.squash else act")
              .replace("def __init__(self, nin, nout):", "def __init__(self, nin, nout, squash=True):")
              .replace("[Neuron(nin) for _ in range(nout)]", "[Neuron(nin, squash) for _ in range(nout)]")
              .replace("Layer(sz[i], sz[i + 1])", "Layer(sz[i], sz[i + 1], i < len(nouts) - 1)"))
    assert "squash) for" in source and "i < len(nouts) - 1" in source
    (tmp_path / "nn.py").write_text(source)
    result = check_nn(in_process(load_names(tmp_path)), keys=keys)
    assert result.ok, result.evidence
    assert result.network is not None and result.network.linear_output


@pytest.mark.parametrize("kind", ["mse-sum", "mse-mean", "hinge"])
def test_the_childs_loss_is_the_programs_loss(kind: str) -> None:
    from gradcheck_lab import Value
    from gradcheck_lab.nn import Loss
    from gradcheck_lab.nn.network import loss_program
    from gradcheck_lab.program import evaluate, float_apply
    from gradcheck_lab.submissions.nn_observe import loss_of

    outputs, ys = [0.3, -0.7, 0.45, -0.2], [1.0, -1.0, -1.0, 1.0]
    program = loss_program(len(outputs), ys, Loss(kind))
    assert loss_of([Value(o) for o in outputs], ys, kind).data == evaluate(program, outputs, float_apply)[-1]


def test_the_child_side_imports_nothing_of_ours() -> None:
    import ast

    import gradcheck_lab.submissions.nn_observe as observe

    tree = ast.parse(Path(observe.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert all(not m.startswith(".") and "gradcheck_lab" not in m for m in imported), imported
    assert all(n.level == 0 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))


def test_other_attribute_names_are_addressed_by_parameters_order(tmp_path: Path, keys: AnswerKeys) -> None:
    (tmp_path / "engine.py").write_text(submission_source([]))
    renamed = LECTURE_NN.replace("self.w", "self.weights").replace("self.b", "self.bias")
    assert "self.w " not in renamed
    (tmp_path / "nn.py").write_text(renamed)
    result = check_nn(in_process(load_names(tmp_path)), keys=keys)
    assert result.ok, result.evidence
    assert result.network is not None and result.network.activation is Activation.TANH
    (tmp_path / "nn.py").write_text(renamed.replace("p.grad = 0.0", "p.grad = 0.0\n        return None"
                                                    ).replace("act.tanh()", "act.relu()"))
    relu = check_nn(in_process(load_names(tmp_path)), keys=keys)
    assert relu.ok and relu.network is not None and relu.network.activation is Activation.RELU


def test_a_train_that_never_ends_is_stopped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_submission(tmp_path / "loops")
    nn = folder / "nn.py"
    nn.write_text(nn.read_text().replace("    history = []\n", "    history = []\n    while True:\n        pass\n"))
    assert main(["check-nn", str(folder), "--no-cache", "--time-limit", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "training: error" in out and "ran longer than 0.5 s" in out and "timeout: the checks stopped here" in out


def test_the_nn_checks_run_in_the_sandboxed_child(tmp_path: Path, keys: AnswerKeys) -> None:
    import nbformat

    from gradcheck_lab.nn.template import nn_source
    from gradcheck_lab.submissions import Limits, SandboxExecutor, SubmissionRef, isolation_problem, load_submission

    limits = Limits(unsafe_no_sandbox=bool(isolation_problem()))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(submission_source([])),
                      nbformat.v4.new_code_cell(nn_source().replace("from engine import Value\n", "")
                                                .replace("        model.zero_grad()  # STEP-ZERO\n", "")),
                      nbformat.v4.new_code_cell("model = MLP(2, [4, 1])\nfor k in range(10**9):\n    pass")]
    nbformat.write(notebook, str(tmp_path / "carol.ipynb"))
    found = {}
    for sub_id, path in (("alice", write_submission(tmp_path / "alice")), ("carol", tmp_path / "carol.ipynb")):
        sub = load_submission(SubmissionRef(sub_id, path), extra=("MLP", "train"))
        with SandboxExecutor(sub, limits) as child:
            child.start()
            found[sub_id] = check_nn(child.nn, keys=keys)
    assert found["alice"].ok and found["alice"].mode == "train"
    assert found["carol"].codes == ["nn-missing-zero-grad"]  # the top-level loop was not run: no timeout


def test_grade_nn_through_the_child(tmp_path: Path, keys: AnswerKeys) -> None:
    from gradcheck_lab.grading.nn import NN_NAMES, NNAssignment, grade_nn
    from gradcheck_lab.submissions import Limits, SandboxExecutor, SubmissionRef, isolation_problem, load_submission

    limits = Limits(unsafe_no_sandbox=bool(isolation_problem()), request_timeout=2.0)
    shared = NN_CATALOG["nn-shared-weights"].write(tmp_path / "dave")
    hangs = write_submission(tmp_path / "erin")
    loop = "    history = []\n    while True:\n        pass\n"
    (hangs / "nn.py").write_text((hangs / "nn.py").read_text().replace("    history = []\n", loop))
    graded = {}
    for folder in (shared, hangs):
        sub = load_submission(SubmissionRef(folder.name, folder), extra=NN_NAMES)
        with SandboxExecutor(sub, limits) as child:
            child.start()
            graded[folder.name] = grade_nn(child, NNAssignment(), keys, html=True)
    dave = graded["dave"]
    assert [c["code"] for c in dave.diagnosis] == ["nn-shared-weights"] and "One training step" in dave.html
    assert {c.name: c.verdict for c in dave.cases}["nn-structure"] == "grad-mismatch"
    erin = {c.name: c for c in graded["erin"].cases}
    assert erin["nn-structure"].verdict == "ok" and erin["nn-training"].verdict == "timeout"
    assert erin["nn-training"].score == 0.0


def test_a_train_of_another_shape_leaves_the_loop_to_us(tmp_path: Path, keys: AnswerKeys) -> None:
    folder = write_submission(tmp_path / "fay")
    nn = folder / "nn.py"
    nn.write_text(nn.read_text() + "\n\ndef train():\n    return 'a script of its own'\n")
    result = check_nn(in_process(load_names(folder)), keys=keys)
    assert result.ok and result.mode == "pieces"
    assert any("our loop ran instead" in line for line in result.section(NNKind.TRAINING).lines)


def test_grading_an_assignment_with_nn(tmp_path: Path) -> None:
    from dataclasses import replace

    from gradcheck_lab.grading import grade_submission
    from gradcheck_lab.grading.assignment import parse_assignment
    from gradcheck_lab.grading.nn import NNAssignment
    from gradcheck_lab.report.gradescope import results_json
    from gradcheck_lab.submissions import SubmissionRef

    from .test_sandbox import tiny_config

    engine_only = tiny_config(tmp_path / "tiny", probes=False)
    with_nn = replace(engine_only, assignment=replace(engine_only.assignment, nn=NNAssignment()))
    assert with_nn.digest != engine_only.digest  # stored grades are redone when nn is assigned
    alice = write_submission(tmp_path / "alice")
    bob = NN_CATALOG["nn-missing-zero-grad"].write(tmp_path / "bob")
    plain = grade_submission(SubmissionRef("alice", alice), engine_only).grade
    assert not any(c.name.startswith("nn-") for c in plain.cases)  # a course that assigns the engine only
    good = grade_submission(SubmissionRef("alice", alice), with_nn).grade
    assert good.verdict == "correct" and good.score == good.max_score == plain.max_score + 10
    bad = grade_submission(SubmissionRef("bob", bob), with_nn).grade
    assert bad.verdict == "wrong" and "nn-missing-zero-grad" in bad.codes and not bad.deductions
    assert bad.score == bad.max_score - 3  # the training check's points, nothing more
    tests = {t["name"]: t for t in results_json(bad)["tests"]}
    assert any("nn-training" in name and t["status"] == "failed" for name, t in tests.items())
    engine = tmp_path / "carl.py"
    engine.write_text(submission_source([]))  # the engine alone, no nn.py
    absent = grade_submission(SubmissionRef("carl", engine), with_nn).grade
    assert absent.verdict == "partial" and absent.score == plain.max_score and "nn-contract" in absent.codes
    optional = replace(with_nn, assignment=replace(engine_only.assignment, nn=NNAssignment(required=False)))
    excused = grade_submission(SubmissionRef("carl", engine), optional).grade
    assert excused.verdict == "correct" and excused.score == excused.max_score and not excused.codes
    table = parse_assignment('[ops]\nrequired = ["add"]\n[nn]\npoints = {training = 5}\nsteps = 3\n')
    assert table.nn is not None and table.nn.points["training"] == 5.0 and table.nn.config.steps == 3
    with pytest.raises(ValueError, match=r"\[nn\]"):
        parse_assignment('[ops]\nrequired = ["add"]\n[nn]\nstep = 3\n')


def test_the_nn_examples_are_the_catalogs_own_files() -> None:
    from gradcheck_lab.grading.assignment import load_assignment
    from gradcheck_lab.nn.template import nn_source

    root = Path(__file__).resolve().parent.parent / "examples" / "nn"
    assert load_assignment(root / "assignment.toml").nn is not None
    for folder in sorted((root / "submissions").iterdir()):
        code = "nn-" + folder.name.replace("_", "-")
        expected = NN_CATALOG[code].source() if code in NN_CATALOG else nn_source()
        assert (folder / "nn.py").read_text() == expected, folder.name
        assert "class Value" in (folder / "engine.py").read_text()  # a correct engine (graded correct elsewhere)


def test_trusted_grading_keeps_each_folders_engine(tmp_path: Path, keys: AnswerKeys) -> None:
    from gradcheck_lab.grading.nn import NN_NAMES, NNAssignment, grade_nn
    from gradcheck_lab.submissions import SubmissionRef, load_submission
    from gradcheck_lab.submissions.sandbox import TrustedExecutor

    alice = write_submission(tmp_path / "alice")
    bob = write_submission(tmp_path / "bob")
    (bob / "engine.py").write_text(submission_source(["wrong-local:relu"]))
    found = {}
    for folder in (alice, bob):
        with TrustedExecutor(load_submission(SubmissionRef(folder.name, folder), NN_NAMES)) as child:
            child.start()
            found[folder.name] = grade_nn(child, NNAssignment(), keys)
    assert not found["alice"].diagnosis
    assert [d["code"] for d in found["bob"].diagnosis] == ["nn-gradients"]  # bob's own engine, not alice's


def test_a_float32_engine_is_judged_with_float32_tolerances(tmp_path: Path, keys: AnswerKeys) -> None:
    folder = write_submission(tmp_path / "gus")
    engine = folder / "engine.py"
    rounded = "        self.data = struct.unpack('f', struct.pack('f', data))[0]  # float32, as numpy would\n"
    engine.write_text("import struct\n" + engine.read_text().replace("        self.data = data\n", rounded, 1))
    assert "struct.pack" in engine.read_text()
    names = load_names(folder)
    assert not check_nn(in_process(names), keys=keys).ok  # float64 bounds: a float32 engine parts at once
    result = check_nn(in_process(names), keys=keys, unit_roundoff=2.0**-24)
    assert result.ok, result.evidence
