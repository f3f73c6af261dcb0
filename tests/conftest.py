"""Shared pytest settings for every test package."""

from __future__ import annotations

import builtins
import os

import pytest

# Keep test runs from touching a developer's instance/ folder or queue by accident.
os.environ.setdefault("ORDERFLOW_LOG_LEVEL", "WARNING")


@pytest.fixture
def without_cpca(monkeypatch):
    """The importer refuses cpca, as when the ``address`` extra is not installed."""
    real = builtins.__import__

    def importer(name, *args, **kwargs):
        if name == "cpca" or name.startswith("cpca."):
            raise ModuleNotFoundError("No module named 'cpca'", name="cpca")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", importer)
