"""Effect kinds: what a run asks its host to do, each declared once with its simulated answer.

A node handler declares the kinds it emits (``NodeHandler.effects``); the runtime declares
the kinds every run may emit (timers, and releasing reservations when a run is cancelled).
The simulator answers a kind through its ``simulate`` function and nothing else; a host
application performs each kind with a performer of its own and can ask
:func:`flow_engine.nodes.effect_kinds` which kinds it must perform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flow_engine.events import EffectResult
from flow_engine.state import Effect


class SimulatedInventory(Protocol):
    """Stock a simulation reserves from and releases to."""

    def reserve(self, allocations: Iterable[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]: ...

    def release(self, allocations: Iterable[Mapping[str, Any]]) -> None: ...


class SimulatedWorld(Protocol):
    """What a simulated effect may read and change: the simulation's stock, the canned answers
    of awaited webhooks per node, and the timers pending in the report."""

    @property
    def inventory(self) -> SimulatedInventory: ...

    @property
    def responses(self) -> Mapping[str, Any]: ...

    @property
    def timers(self) -> dict[str, dict[str, Any]]: ...


Simulated = Callable[[SimulatedWorld, Effect], EffectResult | None]


@dataclass(frozen=True, slots=True)
class EffectKind:
    """One kind of effect. ``simulate`` plays it in a simulation and returns the answer of an
    awaited effect (None when nothing is answered); without it, a simulation skips the effect
    (a notification, an alert, an approval task: the report lists it)."""

    kind: str
    simulate: Simulated | None = None


def _schedule_timer(world: SimulatedWorld, effect: Effect) -> None:
    payload = effect.payload
    world.timers[payload["timer_id"]] = {
        "id": payload["timer_id"],
        "due": payload["due"],
        "purpose": payload["purpose"],
        "node": effect.node_id,
    }


def _cancel_timer(world: SimulatedWorld, effect: Effect) -> None:
    world.timers.pop(effect.payload["timer_id"], None)


def _release_inventory(world: SimulatedWorld, effect: Effect) -> None:
    world.inventory.release(effect.payload["allocations"])


# Emitted by the runtime for any node: timers of waiting nodes, and the reservations a
# cancelled run or a release node gives back.
RUNTIME_EFFECTS = (
    EffectKind("schedule_timer", _schedule_timer),
    EffectKind("cancel_timer", _cancel_timer),
    EffectKind("release_inventory", _release_inventory),
)
