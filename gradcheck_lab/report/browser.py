"""Open an HTML report in headless Chromium: a screenshot, the rendered DOM, and what the
page logged (scripts that fail and resources that do not load show up there).

Chromium comes from the system (Debian: ``apt-get install chromium``); every network
name resolves to nowhere, so a report that tried to fetch anything would log it.

    python -m gradcheck_lab.report.browser reports/index.html docs/report.png
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Rendered", "find_chromium", "render"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass
class Rendered:
    """What the browser made of a page."""

    screenshot: Path
    dom: str  #: the document after its scripts ran
    console: list[str] = field(default_factory=list)  #: every message the page logged


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) program, or None."""
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(
    chromium: str, profile: str, extra: Sequence[str], url: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--hide-scrollbars", *extra, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def render(html: str | Path, screenshot: str | Path, *, width: int = 1200, height: int = 1600,
           timeout: float = 90.0) -> Rendered:
    """Load ``html`` in headless Chromium, save a ``width`` x ``height`` screenshot, and
    return it with the rendered DOM and the console messages. Raises FileNotFoundError
    when no Chromium is installed and RuntimeError when it produced no screenshot."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium)")
    url = Path(html).resolve().as_uri()
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradcheck-chromium-") as profile:
        size = f"--window-size={width},{height}"  # both runs: the DOM records the page's laid-out width
        shot = _run(chromium, profile, [size, f"--screenshot={screenshot.resolve()}"], url, timeout)
        dom = _run(chromium, profile, [size, "--dump-dom"], url, timeout)
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        raise RuntimeError(f"Chromium made no screenshot (exit {shot.returncode}):\n{shot.stderr[-2000:]}")
    console = [line for log in (shot.stderr, dom.stderr) for line in log.splitlines() if ":CONSOLE" in line]
    return Rendered(screenshot, dom.stdout, console)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradcheck_lab.report.browser PAGE.html SHOT.png [WIDTH HEIGHT]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 4):
        print("usage: python -m gradcheck_lab.report.browser PAGE.html SHOT.png [WIDTH HEIGHT]", file=sys.stderr)
        return 2
    size = {"width": int(args[2]), "height": int(args[3])} if len(args) == 4 else {}
    rendered = render(args[0], args[1], **size)
    for line in rendered.console:
        print(line, file=sys.stderr)
    print(f"screenshot: {rendered.screenshot}")
    return 1 if rendered.console else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
