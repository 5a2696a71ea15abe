"""The reference engine on the seeds' worked examples, micrograd's API, and deep graphs."""

from __future__ import annotations

import math

import pytest

from gradcheck_lab import Value


def test_seed_worked_example_log_sin_product() -> None:
    # seed 000: L = log(x1*x2) + sin(x1*x3) + x2*x3 at (2, 3, 4)
    x1, x2, x3 = Value(2.0, label="x1"), Value(3.0, label="x2"), Value(4.0, label="x3")
    a = x1 * x2
    c = x1 * x3
    L = a.log() + c.sin() + x2 * x3
    L.backward()
    assert L.data == pytest.approx(14.7812, abs=1e-4)
    assert c.grad == pytest.approx(-0.1455, abs=1e-4)
    assert a.grad == pytest.approx(1 / 6)
    # hand derivation: dL/dx1 = x2/a + cos(8)*x3, etc.
    assert x1.grad == pytest.approx(3 / 6 + math.cos(8.0) * 4)
    assert x2.grad == pytest.approx(2 / 6 + 4)
    assert x3.grad == pytest.approx(math.cos(8.0) * 2 + 3)
    assert (round(x1.grad, 4), round(x2.grad, 4), round(x3.grad, 4)) == (-0.082, 4.3333, 2.709)


def test_seed_manual_backprop_example() -> None:
    # seed 001: L = (a*b + c)*f at a=2, b=-3, c=10, f=-2
    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    assert [a.grad, b.grad, c.grad, e.grad, d.grad, f.grad] == [6.0, -4.0, -2.0, -2.0, -2.0, 4.0]


def test_seed_tanh_neuron_has_half_gradient() -> None:
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.backward()
    assert o.data == pytest.approx(math.sqrt(0.5))
    assert n.grad == pytest.approx(0.5)
    assert (x1.grad, w1.grad, x2.grad, w2.grad) == pytest.approx((-1.5, 1.0, 0.5, 0.0))


def test_seed_descent_loss_gradient() -> None:
    w1, w2 = Value(2.0), Value(3.0)
    loss = 0.5 * ((w1 - 1) ** 2 + (w2 - 5) ** 2)
    loss.backward()
    assert (loss.data, w1.grad, w2.grad) == (2.5, 1.0, -2.0)


def test_node_used_twice_accumulates() -> None:
    n = Value(4.0)
    m = n + n
    m.backward()
    assert n.grad == 2.0
    x = Value(3.0)
    y = x * x * x
    y.backward()
    assert x.grad == 27.0


def test_seed_other_operations() -> None:
    v1, v2 = Value(2.0), Value(5.0)
    (v1 / v2).backward()
    assert (v1.grad, v2.grad) == pytest.approx((0.2, -0.08))
    v = Value(2.0)
    (v**3).backward()
    assert v.grad == 12.0
    for x, slope in ((-3.0, 0.0), (4.0, 1.0)):
        r = Value(x)
        r.relu().backward()
        assert r.grad == slope
    s = Value(0.0)
    s.sigmoid().backward()
    assert s.grad == 0.25


def test_tanh_built_from_exp_equals_tanh() -> None:
    e1, e2 = Value(4.0), Value(4.0)
    f = (2 * e1).exp()
    g = (f - 1) / (f + 1)
    g.backward()
    e2.tanh().backward()
    assert e1.grad == pytest.approx(e2.grad, rel=1e-9)


def test_reflected_operators_with_numbers() -> None:
    x = Value(2.0)
    assert [(1 + x).data, (3 - x).data, (3 * x).data, (8 / x).data, (-x).data] == [3.0, 1.0, 6.0, 4.0, -2.0]
    y = 8 / x
    y.backward()
    assert x.grad == -2.0


def test_max_and_gelu() -> None:
    a, b = Value(1.0), Value(2.0)
    m = a.max(b) * 3
    m.backward()
    assert (m.data, a.grad, b.grad) == (6.0, 0.0, 3.0)
    g = Value(1.0)
    out = g.gelu()
    out.backward()
    assert out.data == pytest.approx(0.8413447460685429)
    assert g.grad == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))) + math.exp(-0.5) / math.sqrt(2 * math.pi))


def test_micrograd_api_and_manual_backward_steps() -> None:
    # seed 003 calls _backward() by hand, node by node
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    d = a * b
    d.grad = 1.0
    d._backward()
    assert (a.grad, b.grad) == (-3.0, 2.0)
    assert d._op == "*" and set(map(id, d._prev)) == {id(a), id(b)} and a.label == "a"
    assert "data=-6.0" in repr(d)
    assert (a**2)._op == "**2"


def test_gradients_accumulate_across_backward_calls() -> None:
    x = Value(3.0)
    y = x * 2
    y.backward()
    y.backward()
    assert x.grad == 4.0  # as in micrograd and PyTorch


def test_pow_with_a_value_exponent_is_refused() -> None:
    with pytest.raises(AssertionError, match="only int and float powers"):
        Value(2.0) ** Value(3.0)


def test_the_engine_is_the_generated_file() -> None:
    # regenerating engine.py from the op table changes nothing
    from pathlib import Path

    import gradcheck_lab.engine
    from gradcheck_lab.diagnose.faults import reference_source

    assert Path(gradcheck_lab.engine.__file__).read_text() == reference_source()


def test_backward_on_a_million_node_chain() -> None:
    # micrograd's recursive topological sort raises RecursionError past about 1,000 nodes
    x = Value(0.5)
    y = x
    for i in range(1_000_000):
        y = y * 1.0000001 if i % 2 else y + 0.5
    y.backward()
    assert x.grad == pytest.approx(1.0000001**500_000, rel=1e-9)
