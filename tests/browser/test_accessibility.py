"""Every page of the crawl passes axe-core's WCAG 2.1 A and AA rules.

axe-core (vendored under ``static/vendor/axe-core``, loaded only here) runs over each page the
language crawl visits, and over the editor with each node type's panel open, in Chinese and
English, at desktop width and on a 375 px phone. Any violation fails the test, named by rule,
element and page.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import screenshot
from .crawl import CRAWL_CONFIG, USERNAME, crawl_site, editor_panels, login, site_paths, visit

AXE_JS = (
    Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core" / "axe.min.js"
).read_text(encoding="utf-8")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWS = [("zh-CN", 1280, 900), ("en-US", 1280, 900), ("zh-CN", 375, 812), ("en-US", 375, 812)]


# Runs axe over the document; returns one line per failing element.
RUN_AXE = """
async ([tags, context]) => {
  const result = await axe.run(context ? document.querySelector(context) : document, {
    runOnly: {type: 'tag', values: tags},
    // WCAG 2.5.3 (A): a control's name holds its visible text (axe marks it experimental).
    rules: {'label-content-name-mismatch': {enabled: true}},
    resultTypes: ['violations'],
  });
  const lines = [];
  for (const v of result.violations) {
    for (const node of v.nodes) {
      const why = (node.failureSummary || '').split('\\n').slice(1).join(' ').trim();
      lines.push(`${v.id} (${v.impact}) ${node.target.join(' ')}: ${why.slice(0, 160)}`);
    }
  }
  return lines;
}
"""


def axe_violations(page, context: str | None = None) -> list[str]:
    """The WCAG 2.1 A/AA violations on the page as it is now (within ``context``, a selector).

    The script is evaluated rather than added as a <script> tag, so the app's
    Content-Security-Policy stays as strict as it is for users."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_JS)
    return page.evaluate(RUN_AXE, [WCAG_21_AA, context])


@pytest.fixture
def app_config(app_config):
    return {**app_config, **CRAWL_CONFIG}


def test_axe_reports_what_it_finds(page_for):
    """An unlabelled field and low-contrast text are found (the check is not empty)."""
    page = page_for(800, 600)
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<input type="text"><p style="color:#aaa;background:#fff">faint</p></main></body></html>'
    )
    rules = {line.split(" ")[0] for line in axe_violations(page)}
    assert {"label", "color-contrast"} <= rules


# About 100 page views: 1.5 to 2.5 minutes alone, longer on a machine busy with other work.
@pytest.mark.timeout(600)
def test_every_page_passes_axe_in_both_languages_and_on_a_phone(app, make_user, page_for):
    found: dict[str, list[str]] = {}
    started = time.monotonic()
    with crawl_site(app, make_user) as site:
        paths: list[str] = []
        for locale, width, height in VIEWS:
            view = f"{locale} {width}px"
            page = page_for(width, height, locale=locale)
            login(page, site.base)
            paths = paths or site_paths(page, app, site)
            for path in paths:
                visit(page, site, path)
                found[f"{view} {path}"] = axe_violations(page)
            # The whole editor, then (at desktop width, where the panel sits beside the
            # canvas) each node type's panel, then the flow settings dialog.
            for i, node_type in enumerate(editor_panels(page, site)):
                if i == 0:
                    found[f"{view} editor"] = axe_violations(page)
                elif width >= 1024:
                    found[f"{view} editor:{node_type}"] = axe_violations(page, "#props")
            page.click('[data-cmd="settings"]')
            page.wait_for_selector("#dlg-settings[open]")
            found[f"{view} editor:settings"] = axe_violations(page, "#dlg-settings")
            page.click("#dlg-settings .mode-text")
            found[f"{view} editor:settings-expression"] = axe_violations(page, "#dlg-settings")
    elapsed = time.monotonic() - started
    offenders = {where: lines for where, lines in found.items() if lines}
    report = "\n".join(f"{where}:\n  " + "\n  ".join(lines) for where, lines in offenders.items())
    assert offenders == {}, f"axe: WCAG 2.1 A/AA violations ({len(found)} views):\n{report}"
    print(f"axe: {len(found)} views in {elapsed:.0f} s")
    assert len(found) > 4 * 20, sorted(found)


def test_the_inbox_choice_in_focus_is_outlined(app, live_server, make_user, page_for):
    """The inbox's 待我处理 / 我已处理 choices are hidden radios: the focused one's label shows it."""
    make_user(USERNAME, roles=("admin",), display_name="管理员")
    page = page_for(375, 812, locale="zh-CN")
    login(page, live_server)
    page.goto(f"{live_server}/approvals/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name === 'show'"):
            break
    style = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
    assert style == "solid"
    screenshot(page, "inbox-choice-focus-zh")
