"""The app's layers (pyproject.toml, checked by lint-imports in the test command) name every
package and module of ``app``: a new one must be given its layer, or nothing would keep its
imports one way."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]


def _contract(name_start: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (found,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith(name_start)
    ]
    return found


def test_every_app_package_has_a_layer() -> None:
    layers = _contract("App layers")["layers"]
    named = [m.strip() for layer in layers for m in layer.split(":")]
    children = {f"app.{m.name}" for m in pkgutil.iter_modules(app.__path__)}
    assert sorted(set(named)) == sorted(named), "a module is in two layers"
    assert set(named) == children


def test_the_registries_of_the_lower_layers_are_filled_when_the_app_is_built(
    tmp_path, monkeypatch
) -> None:
    from app.calendar import services as calendar
    from app.metrics import refresh
    from app.metrics import tasks as metric_tasks
    from app.runs import effects, outbox

    monkeypatch.setattr(outbox, "DELIVERERS", {"webhook": outbox.DELIVERERS["webhook"]})
    for module, name in (
        (effects, "TASKS_WITHDRAWN"),
        (calendar, "ZONE_CHANGED"),
        (refresh, "OBSERVERS"),
    ):
        monkeypatch.setattr(module, name, [])
    monkeypatch.setattr(metric_tasks, "AFTER_REFRESH", {})
    app.create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    assert {"webhook", "notify", "chat"} <= set(outbox.DELIVERERS)
    assert effects.TASKS_WITHDRAWN and calendar.ZONE_CHANGED and refresh.OBSERVERS
    assert "rules" in metric_tasks.AFTER_REFRESH
