"""Render a report.html in headless Chromium to a PNG screenshot: what a person opening it would see.

    python scripts/render_report.py OUTDIR/report.html shot.png

Needs Debian's `chromium` package (or `chromium-browser`/`google-chrome` on the PATH).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def render(page: Path, screenshot: Path, width: int = 1280, height: int = 2400) -> Path:
    """Screenshot `page` at width x height; raises if no browser is installed or it fails."""
    browser = find_browser()
    if browser is None:
        raise RuntimeError(f"no headless browser found (looked for {', '.join(BROWSERS)}); apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no state shared with other runs
        subprocess.run(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
             f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return screenshot


if __name__ == "__main__":
    print(render(Path(sys.argv[1]), Path(sys.argv[2])))
