"""The range of the figures' API: ``range`` (24h, 7d, 30d, 90d) or local dates ``from`` and
``to``, and ``channel`` (comma separated), as the dashboard reads them."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l

from ..clock import zone
from ..dashboard import ranges
from ..errors import ValidationError
from ..models import utcnow
from ._http import iso
from .spec import param

RANGE_PARAMS = [
    param("range", schema={"type": "string", "enum": list(ranges.PRESETS)},
          description="preset ending with the current hour (default 7d)"),
    param("from", schema={"type": "string", "format": "date"}, description="first local day"),
    param("to", schema={"type": "string", "format": "date"}, description="last local day"),
    param("channel", description="sales channels, comma separated"),
]  # fmt: skip


def range_arg() -> ranges.Range:
    for name in ("range", "from", "to"):
        if request.args.get(name) == "":
            # The pages' forms send empty fields; an API caller leaves the parameter out.
            raise ValidationError(
                _l("%(name)s is empty; leave it out or give a value.", name=name),
                code="invalid_parameter",
                details=[{"path": f"?{name}", "message": "empty", "rule": "parameter"}],
            )
    try:
        return ranges.parse(request.args, utcnow(), zone())
    except ValidationError as err:
        name = next(iter(err.fields), "range")
        raise ValidationError(
            err.message,
            code="invalid_parameter",
            details=[{"path": f"?{name}", "message": str(err.message), "rule": "parameter"}],
        ) from None


def range_json(r: ranges.Range) -> dict[str, Any]:
    return {"start": iso(r.start), "end": iso(r.end), "label": r.label, "hourly": r.hourly,
            "channels": list(r.channels), "zone": str(r.zone)}  # fmt: skip
