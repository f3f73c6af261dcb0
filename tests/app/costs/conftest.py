"""Cost tests use the dashboard's database fixture and fixed scenario."""

from ..dashboard.conftest import database, scenario  # noqa: F401  (shared fixtures)
