"""Browser tests: real headless Chromium (Debian's) driven by Playwright against a live
OrderFlow server on loopback. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import (  # noqa: F401  (fixtures shared with the app tests)
    app,
    app_config,
    database_url,
    make_user,
    template_db,
)

from .chromium import CHROMIUM, CHROMIUM_ARGS
from .serving import serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:  # noqa: F811
    """Serve ``app`` with waitress on a free loopback port."""
    with serving(app) as base:
        yield base


# Reports every Content-Security-Policy violation of the page to the test.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber} on ${document.location.pathname}`);
});
"""


@pytest.fixture
def page_for(browser) -> Iterator[object]:
    """Factory: a new page with its own context (cookies), viewport and language.

    A test fails if any of its pages breaks the Content-Security-Policy."""
    contexts = []
    violations: list[str] = []

    def make(width: int = 1280, height: int = 800, locale: str = "zh-CN", **kw: object):
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale, **kw
        )
        context.expose_function("__cspViolation", lambda text: violations.append(text))
        context.add_init_script(_CSP_LISTENER)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert violations == [], "Content-Security-Policy violations"


def wait_until(page, expression: str, arg: object = None, timeout: float = 10_000) -> None:
    """Poll ``expression`` (run as ``page.evaluate`` runs it) until it is truthy.

    Playwright's ``wait_for_function`` runs its predicate through eval() inside the page,
    which the Content-Security-Policy refuses; ``evaluate`` is not subject to it."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} ms waiting for {expression}")
        page.wait_for_timeout(50)


def sign_in(page, base: str, username: str, password: str = "correct-horse") -> None:
    """Sign ``username`` in through the login form and wait for the home page."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
