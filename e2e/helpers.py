"""Helpers shared by the browser tests."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.factories import TEST_PASSWORD

_axe = Axe()


def sign_in(page: Page, live_url: str, email: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the real form and wait for the home page."""
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = _axe.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    details = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in bad
    )
    assert not bad, f"Accessibility violations on {page.url}:\n{details}"


def wait_for_live(page: Page) -> None:
    """Wait until the page's websocket (htmx ws extension) is open."""
    page.wait_for_function("() => window.__handoffWsOpen === true", timeout=10_000)


def read_mail(mail_dir: Path, to: str) -> str:
    """The newest email the live server sent to ``to`` (file email backend)."""
    for path in sorted(mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
        text = path.read_text()
        if re.search(rf"^To: {re.escape(to)}$", text, re.MULTILINE):
            return text
    raise AssertionError(f"No email to {to} in {mail_dir}")
