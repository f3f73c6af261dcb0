"""A faster ``__init__`` for the frozen dataclasses a step creates by the dozen.

``@dataclass(frozen=True)`` assigns each field through ``object.__setattr__``; audit events,
effects, tokens and snapshots are built for every node and every step, and that cost was a
visible part of the engine's overhead. ``fast_init`` keeps the dataclass as it is (frozen,
same fields, same signature) and swaps in an ``__init__`` that installs the instance
dictionary in one call.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")
_NOTHING = object()


def fast_init(cls: type[T]) -> type[T]:
    """Replace the ``__init__`` of a frozen, non-slots dataclass with a one-call version."""
    namespace: dict[str, object] = {"_set": object.__setattr__, "_NOTHING": _NOTHING}
    params, items, prelude = [], [], []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = f.default
            params.append(f"{name}=_default_{name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = f.default_factory
            params.append(f"{name}=_NOTHING")
            prelude.append(f"    if {name} is _NOTHING:\n        {name} = _factory_{name}()\n")
        else:
            params.append(name)
        items.append(f"{name!r}: {name}")
    source = (
        f"def __init__(self, {', '.join(params)}):\n"
        + "".join(prelude)
        + f"    _set(self, '__dict__', {{{', '.join(items)}}})\n"
    )
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
