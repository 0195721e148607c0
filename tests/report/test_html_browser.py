"""The HTML report opened in headless Chromium: it renders offline from a file:// URL, and the
screenshot it takes is kept (BROWSER_SCREENSHOT_DIR, else the test's tmp folder) for a person to
look at. Needs `chromium` (Debian: `apt-get install -y chromium`); `.ci/run` installs it.

The page is laid out so that the first screen shows the scores, the tables and the first
conversation, open because it broke a rule.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from policy_agent.report import build_report, load_run, write_html
from tests.report.test_html import hostile_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(profile: Path, *options: str | Path) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with nothing of its own on the network; `page` last, as a file URL.
    No timeout: a loaded CI machine may take long to start a browser, and the test waits."""
    assert CHROMIUM is not None
    *flags, page = options
    assert isinstance(page, Path)
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *(str(flag) for flag in flags),
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install -y chromium)")
def test_chromium_renders_the_report_from_a_file(tmp_path: Path) -> None:
    run = load_run(hostile_run(tmp_path / "runs"))
    page = tmp_path / "report.html"
    write_html(run, build_report(run, resamples=100), page)
    shots = Path(os.environ.get("BROWSER_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    screenshot = shots / "report.png"
    screenshot.unlink(missing_ok=True)
    profile = tmp_path / "profile"
    shot = chromium(profile, "--window-size=1200,2400", f"--screenshot={screenshot}", page)
    assert shot.returncode == 0, shot.stderr
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank page compresses to a few kilobytes; tables and text make it far larger.
    assert len(data) > 50_000, len(data)
    # The DOM as Chromium built it: the tables and the escaped conversation, no script element.
    dumped = chromium(profile, "--dump-dom", page)
    assert dumped.returncode == 0, dumped.stderr
    dom = dumped.stdout
    assert "<script" not in dom
    assert "<h2>Tasks</h2>" in dom and "<h2>Policy rules</h2>" in dom
    assert "rule broken: no_compensation_offered" in dom
