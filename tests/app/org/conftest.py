"""Organisation tests use the API tests' key factory."""

from tests.app.api.conftest import make_key  # noqa: F401 (a fixture, used by name)
