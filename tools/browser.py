"""Debian's chromium, driven by Playwright (its own browser download is not used here)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def chromium_path() -> str:
    """The system chromium: $CHROMIUM, else the one on PATH. FileNotFoundError naming the fix."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise FileNotFoundError("chromium is needed: apt-get install chromium (or CHROMIUM=/path)")
    return path


@contextlib.contextmanager
def open_page(url: str) -> Iterator[Any]:
    """A headless chromium showing `url` for the duration of the block (its page's own scripts
    keep running while the caller does other work)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(url)
            yield page
        finally:
            browser.close()
