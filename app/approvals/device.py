"""A short description of the device a decision came from, for the audit trail."""

from __future__ import annotations

_APPS = (
    ("wxwork", "WeCom"),
    ("MicroMessenger", "WeChat"),
    ("DingTalk", "DingTalk"),
    ("Lark", "Feishu"),
    ("Feishu", "Feishu"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("HarmonyOS", "HarmonyOS"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)


def device_label(user_agent: str | None) -> str:
    """E.g. ``"iPhone · WeChat"``, ``"Windows · Chrome"``; the raw text when unknown."""
    agent = user_agent or ""
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    app = next((name for mark, name in _APPS if mark in agent), "")
    browser = app or next((name for mark, name in _BROWSERS if mark in agent), "")
    mobile = " (mobile)" if "Mobile" in agent and system not in ("iPhone", "Android") else ""
    label = " · ".join(p for p in (system, browser) if p) + mobile
    return (label or agent[:80] or "unknown")[:255]
