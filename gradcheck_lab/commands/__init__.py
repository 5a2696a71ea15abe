"""One module per subcommand (``add_parser(sub)`` sets ``run``), and what they share."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["missing_paths"]


def missing_paths(selectors: Iterable[str]) -> list[str]:
    """The selectors whose file or folder does not exist (``file.toml::case`` by its file).

    >>> missing_paths(["cases", "nowhere/", "nowhere.toml::c"])
    ['nowhere/', 'nowhere.toml']
    """
    paths = (str(s).partition("::")[0] for s in selectors)
    return [p for p in paths if not Path(p).exists()]
