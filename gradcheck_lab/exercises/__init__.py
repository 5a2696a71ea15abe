"""By-hand backprop exercises (seed 000's table): personal exercises and their line-by-line check."""

from .generate import DEFAULT_OPS, Exercise, make_exercise, write_exercise
from .table import TableCheck, check_rows, check_table

__all__ = ["DEFAULT_OPS", "Exercise", "TableCheck", "check_rows", "check_table", "make_exercise", "write_exercise"]
