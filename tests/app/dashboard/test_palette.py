"""The dashboard charts use the brand blue of the pages, not the retired one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_chart_colours_use_the_brand_blue():
    css = (ROOT / "static/css/app.css").read_text(encoding="utf-8")
    brand = re.search(r"--brand:\s*(#[0-9a-fA-F]{6})", css).group(1).lower()
    script = (ROOT / "static/js/dashboard.js").read_text(encoding="utf-8").lower()
    palette = re.search(r"const palette = \[([^\]]*)\]", script).group(1)
    colours = re.findall(r"#[0-9a-f]{6}", palette)
    assert colours[0] == brand
    assert len(set(colours)) == len(colours)  # every series keeps its own colour
    assert "#1f6feb" not in script
