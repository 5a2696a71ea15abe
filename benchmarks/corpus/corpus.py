"""The real-code corpus: its manifest, its cache of fetched files, and how a diagnosis is judged against a label.

Shared by ``fetch.py`` (bring the files back) and ``run.py`` (diagnose them, print the confusion table).
The engines' code never enters this repository: the manifest names each file by repository, commit and
path, with the sha256 of its bytes, and the cache lives outside the repository.

>>> engines = load_manifest()
>>> len({e.repo for e in engines}) == len(engines) >= 60
True
>>> judge(("grad-overwrite",), {"grad-overwrite:add", "recursion-limit"}, bug_codes={"grad-overwrite:add"})
<Outcome.NAMED: 'named'>
"""

from __future__ import annotations

import enum
import hashlib
import os
import subprocess
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"
#: Where fetched files are kept (never inside the repository): $GRADCHECK_CORPUS, else a user cache.
DEFAULT_CACHE = Path(os.environ.get("GRADCHECK_CORPUS", Path.home() / ".cache" / "gradcheck_lab" / "corpus"))
#: Where whole-repository git mirrors are looked for: $GRADCHECK_MIRRORS, else this workplace's mirror folder.
DEFAULT_MIRRORS = Path(os.environ.get("GRADCHECK_MIRRORS", "/work/.mirror"))

#: Codes the labels use that the diagnosis catalog does not have: what each means. A test keeps every label code
#: either in the catalog or here. (The others began here and moved to the catalog when the diagnosis learnt them.)
NEW_CODES = {
    "syntax-error": "the file does not parse, so no Value class can be loaded (grade: verdict invalid)",
}


@dataclass(frozen=True)
class Engine:
    """One labelled engine: a file at a commit of a public repository, and what is wrong with it."""

    repo: str  #: ``owner/name``
    path: str  #: the file that defines ``class Value``, inside the repository
    commit: str  #: the commit the label was decided on
    sha256: str  #: of the file's bytes at that commit
    bugs: tuple[str, ...] = ()  #: the bugs it has (empty: a correct engine)
    notes: tuple[str, ...] = ()  #: what is worth knowing but no bug (warnings, missing capabilities)
    why: str = ""  #: the reading that decided the label
    excluded: bool = False  #: read, but not a micrograd-style engine (``why`` says why)

    @property
    def filename(self) -> str:
        """The cached file's name: ``owner+name.py`` (one engine per repository)."""
        return self.repo.replace("/", "+") + ".py"

    @property
    def correct(self) -> bool:
        return not self.bugs


def load_manifest(path: Path = MANIFEST, *, excluded: bool = False) -> list[Engine]:
    """The manifest's engines (and, with ``excluded``, the files read and set aside)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    engines = [Engine(e["repo"], e["path"], e["commit"], e["sha256"], tuple(e["bugs"]), tuple(e["notes"]), e["why"])
               for e in data["engine"]]
    if excluded:
        engines += [Engine(e["repo"], e["path"], e["commit"], e["sha256"], why=e["why"], excluded=True)
                    for e in data.get("excluded", [])]
    return engines


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached(engine: Engine, cache: Path) -> Path | None:
    """The engine's file in the cache, if it is there with the bytes the manifest names."""
    file = cache / engine.filename
    return file if file.is_file() and digest(file.read_bytes()) == engine.sha256 else None


def mirror_git_dir(repo: str, mirrors: Path) -> Path | None:
    """A git directory holding ``repo`` under ``mirrors``: ``owner+name/repo[/.git]`` (as the workplace's
    fetch leaves them) or a plain clone at ``owner/name``."""
    owner_name = repo.replace("/", "+")
    for candidate in (mirrors / owner_name / "repo" / ".git", mirrors / owner_name / "repo",
                      mirrors / repo / ".git", mirrors / repo):
        if (candidate / "objects").is_dir():
            return candidate
    return None


def read_from_mirror(engine: Engine, mirrors: Path) -> bytes | str:
    """The file's bytes from a git mirror, or a sentence saying why not."""
    git_dir = mirror_git_dir(engine.repo, mirrors)
    if git_dir is None:
        return f"no mirror of {engine.repo} under {mirrors}"
    shown = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{engine.commit}:{engine.path}"],
                           capture_output=True, timeout=60)
    if shown.returncode:
        return f"{engine.repo}'s mirror lacks {engine.commit[:10]}:{engine.path} (a newer snapshot?)"
    if digest(shown.stdout) != engine.sha256:
        return f"{engine.repo}: {engine.path} at {engine.commit[:10]} does not have the manifest's sha256"
    return shown.stdout


class Outcome(enum.Enum):
    """How a diagnosis stands against an engine's label."""

    NAMED = "named"  #: a buggy engine: every labelled bug named, nothing else wrong named
    NAMED_WITH_EXTRAS = "named with extras"  #: every labelled bug named, plus bug codes the label lacks
    PARTLY_NAMED = "partly named"  #: some labelled bugs named, not all
    MISSED = "missed"  #: a buggy engine, none of its bugs named
    CLEAN = "clean"  #: a correct engine given no bug code
    FALSE_ALARM = "false alarm"  #: a correct engine given a bug code


def names(label: str, codes: Collection[str]) -> bool:
    """Whether the diagnosis ``codes`` name the labelled bug: the same code, a generic label
    (``grad-overwrite``) met by an op's code (``grad-overwrite:add``), or an op's label met by the
    generic code. A label ``a|b`` is a bug two codes describe equally well from outside (the same
    numbers on every graph): either names it.

    >>> names("grad-overwrite", {"grad-overwrite:mul"}), names("grad-overwrite:tanh", {"grad-overwrite"})
    (True, True)
    >>> names("wrong-local:exp", {"wrong-local:log"}), names("no-graph-walk|topo-order", {"topo-order"})
    (False, True)
    """
    return any(alt in codes or alt.split(":", 1)[0] in codes or any(c.split(":", 1)[0] == alt for c in codes)
               for alt in label.split("|"))


def judge(bugs: Iterable[str], codes: Collection[str], *, bug_codes: Collection[str]) -> Outcome:
    """The outcome of a diagnosis: ``bugs`` the label's bugs, ``codes`` every code the diagnosis named,
    ``bug_codes`` those of them that say something is wrong (not a warning nor a missing op).

    >>> judge((), {"recursion-limit", "unsupported:cos"}, bug_codes=set()).value
    'clean'
    >>> judge(("forward:rsub", "grad-overwrite:pow"), {"forward:rsub"}, bug_codes={"forward:rsub"}).value
    'partly named'
    """
    bugs = tuple(bugs)
    if not bugs:
        return Outcome.FALSE_ALARM if bug_codes else Outcome.CLEAN
    found = [b for b in bugs if names(b, codes)]
    if not found:
        return Outcome.MISSED
    if len(found) < len(bugs):
        return Outcome.PARTLY_NAMED
    extras = [c for c in bug_codes if not any(names(b, {c}) for b in bugs)]
    return Outcome.NAMED_WITH_EXTRAS if extras else Outcome.NAMED
