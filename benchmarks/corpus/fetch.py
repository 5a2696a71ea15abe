"""Bring the corpus's engine files back into the cache, from git mirrors of their repositories.

    python benchmarks/corpus/fetch.py [--cache DIR] [--mirrors DIR] [--excluded]

For each manifest entry: ``git show COMMIT:PATH`` in the repository's mirror, the sha256 checked
against the manifest, the file written to ``DIR/owner+name.py``. Files already cached with the right
bytes are kept. It prints what it could not bring back and how to get it, and exits 1 if anything is
missing.

A mirror is any git directory holding the commit: ``MIRRORS/owner+name/repo`` (how the workplace's
``fetch`` tool leaves whole-repository snapshots; a script cannot call that tool, so snapshots missing
here must be fetched with it first) or an ordinary clone at ``MIRRORS/owner/name``:
``git clone https://github.com/OWNER/NAME MIRRORS/OWNER/NAME``. The defaults are $GRADCHECK_CORPUS
(else ~/.cache/gradcheck_lab/corpus) and $GRADCHECK_MIRRORS (else /work/.mirror).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DEFAULT_CACHE, DEFAULT_MIRRORS, Engine, cached, load_manifest, read_from_mirror


def write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".fetch-") as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def fetch(engines: list[Engine], cache: Path, mirrors: Path) -> dict[str, str]:
    """Cache every engine's file; returns the repositories that could not be brought back, with why."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = {}
    for engine in engines:
        if cached(engine, cache):
            continue
        data = read_from_mirror(engine, mirrors)
        if isinstance(data, str):
            missing[engine.repo] = data
        else:
            write_atomically(cache / engine.filename, data)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where the files go (default {DEFAULT_CACHE})")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS,
                        help=f"where git mirrors are found (default {DEFAULT_MIRRORS})")
    parser.add_argument("--excluded", action="store_true", help="also the files read and set aside")
    args = parser.parse_args(argv)
    engines = load_manifest(excluded=args.excluded)
    missing = fetch(engines, args.cache, args.mirrors)
    print(f"{len(engines) - len(missing)} of {len(engines)} engine files in {args.cache}")
    if missing:
        print(f"{len(missing)} missing (fetch the repository's snapshot, or clone it under {args.mirrors}/OWNER/NAME):")
        for repo, why in sorted(missing.items()):
            print(f"  {repo}: {why}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
