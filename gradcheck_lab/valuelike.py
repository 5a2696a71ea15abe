"""What a user's engine offers: the :class:`ValueLike` protocol a ``Value`` class is typed by.

>>> from gradcheck_lab.engine import Value
>>> isinstance(Value(2.0), ValueLike), isinstance(2.0, ValueLike)
(True, False)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["ValueLike"]


@runtime_checkable
class ValueLike(Protocol):
    """A micrograd-style scalar: ``data``, ``grad``, ``backward()`` and the arithmetic operators.

    The checks take the class (``type[ValueLike]``); at run time one that lacks an operator
    or a method is still checked, and the forms it lacks are reported ``unsupported``.
    """

    def __init__(self, data: float, /) -> None:
        """A leaf holding ``data`` (micrograd's ``_children`` and ``_op`` keep their defaults)."""

    @property
    def data(self) -> float:
        """The forward value."""

    @property
    def grad(self) -> float:
        """dL/dself, once ``backward()`` ran on the output L."""

    def backward(self) -> object:
        """Fill ``grad`` of every node this one was computed from."""

    def __add__(self, other: Any, /) -> ValueLike: ...

    def __radd__(self, other: Any, /) -> ValueLike: ...

    def __sub__(self, other: Any, /) -> ValueLike: ...

    def __rsub__(self, other: Any, /) -> ValueLike: ...

    def __mul__(self, other: Any, /) -> ValueLike: ...

    def __rmul__(self, other: Any, /) -> ValueLike: ...

    def __truediv__(self, other: Any, /) -> ValueLike: ...

    def __rtruediv__(self, other: Any, /) -> ValueLike: ...

    def __pow__(self, exponent: Any, /) -> ValueLike: ...

    def __neg__(self) -> ValueLike: ...
