"""How OrderFlow starts Chromium, for the browser tests and the editor benchmark: Debian's
build (never a downloaded one), headless, with nothing that reaches beyond loopback."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
