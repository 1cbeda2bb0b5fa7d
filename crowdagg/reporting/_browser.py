"""Headless Chromium for the report's own checks: a screenshot and the DOM after its script ran.

Used by ``tests/test_report_browser.py`` and ``scripts/make_report_screenshot.py``;
not needed to make a report.  The browser is the Debian/Ubuntu ``chromium``
package (or any Chromium/Chrome on ``PATH``, or ``$CROWDAGG_CHROMIUM``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

__all__ = ["find_browser", "screenshot", "dump_dom"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    env = os.environ.get("CROWDAGG_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium browser on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="crowdagg-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)


def _url(path: str) -> str:
    return "file://" + os.path.abspath(path)


def screenshot(html_path: str, png_path: str, *, width: int = 1280, height: int = 2000,
               fragment: str = "", timeout: float = 180) -> str:
    """Render ``html_path`` (``fragment``: the URL's ``#...`` part) and write a ``width x height`` PNG."""
    png = os.path.abspath(png_path)
    os.makedirs(os.path.dirname(png), exist_ok=True)
    if os.path.exists(png):
        os.remove(png)
    url = _url(html_path) + (f"#{fragment}" if fragment else "")
    res = _run([f"--window-size={width},{height}", f"--screenshot={png}", url], timeout)
    if not os.path.exists(png):
        raise RuntimeError(f"chromium wrote no screenshot (exit {res.returncode}): "
                           f"{res.stderr.decode(errors='replace')[-500:]}")
    return png


def dump_dom(html_path: str, *, fragment: str = "", timeout: float = 180,
             window: tuple[int, int] | None = None) -> str:
    """The page's DOM after its script ran, as HTML text.

    ``fragment``: the URL's ``#...`` part; ``window``: the window's (width, height)
    in CSS pixels (default: the browser's own, 800 x 600 for headless Chromium).
    """
    url = _url(html_path) + (f"#{fragment}" if fragment else "")
    size = [f"--window-size={window[0]},{window[1]}"] if window else []
    res = _run([*size, "--dump-dom", "--virtual-time-budget=5000", url], timeout)
    if res.returncode != 0 or not res.stdout:
        raise RuntimeError(f"chromium --dump-dom failed (exit {res.returncode}): "
                           f"{res.stderr.decode(errors='replace')[-500:]}")
    return res.stdout.decode("utf-8", errors="replace")
