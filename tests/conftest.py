"""Shared pytest settings for every test package."""

from __future__ import annotations

import os

# Keep test runs from touching a developer's instance/ folder or queue by accident.
os.environ.setdefault("ORDERFLOW_LOG_LEVEL", "WARNING")
