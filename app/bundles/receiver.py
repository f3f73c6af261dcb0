"""The demo receiver: where the demo's webhooks go, so a fresh install delivers them.

The demo templates call an ERP; on a fresh install there is none, and a made-up host would
only fill the dead letters. ``/demo/receiver/<name>`` stands in for it: it checks the
``X-OrderFlow-Signature`` as a real receiver should, answers 200 and keeps the last
deliveries in memory for the integrations page. It is registered only when
``DEMO_RECEIVER`` is set, which ``orderflow serve`` (embedded mode) does.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session
from ..jsontext import json_loads
from ..models import AllowedHost
from ..signing import SIGNATURE_RE, sign

log = logging.getLogger(__name__)

bp = Blueprint("demo_receiver", __name__, url_prefix="/demo/receiver")
KEEP = 50
REPLAY_SECONDS = 300
NOTE = "OrderFlow demo receiver"
_received: deque[dict[str, Any]] = deque(maxlen=KEEP)
_lock = threading.Lock()


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    """Register the receiver when the configuration asks for it."""
    if app.config.get("DEMO_RECEIVER"):
        # Signed by the outbox, not sent from a browser form: CSRF tokens do not apply.
        csrf.exempt(bp)
        app.register_blueprint(bp)


def receiver_url(base: str, name: str) -> str:
    """The receiver's address for ``name`` on a server reachable at ``base``."""
    return f"{base.rstrip('/')}/demo/receiver/{name}"


def recent() -> list[dict[str, Any]]:
    """What the receiver got, newest first."""
    with _lock:
        return list(reversed(_received))


def _secrets(host: str) -> list[str]:
    own = get_session().scalars(
        select(AllowedHost.signing_secret).where(
            AllowedHost.host == host, AllowedHost.signing_secret.is_not(None)
        )
    )
    return [str(current_app.config["WEBHOOK_SECRET"]), *own]


def _verified(header: str, body: bytes) -> bool:
    match = SIGNATURE_RE.match(header.strip())
    if match is None or abs(time.time() - int(match.group(1))) > REPLAY_SECONDS:
        return False
    host = (urlsplit(request.host_url).hostname or "").lower()
    return any(
        hmac.compare_digest(sign(secret, int(match.group(1)), body), match.group(0))
        for secret in _secrets(host)
    )


@bp.post("/<name>")
def receive(name: str) -> Response | tuple[Response, int]:
    body = request.get_data(cache=False)
    if not _verified(request.headers.get("X-OrderFlow-Signature", ""), body):
        log.warning("demo receiver %s: refused a delivery with a wrong signature", name)
        return jsonify({"received": False, "error": "bad_signature"}), 401
    try:
        payload: Any = json_loads(body) if body else None
    except ValueError:
        payload = body[:2000].decode("utf-8", "replace")
    entry = {
        "receiver": name[:64],
        "received_at": datetime.now(UTC),
        "idempotency_key": request.headers.get("Idempotency-Key", "")[:200],
        "body": payload,
    }
    with _lock:
        _received.append(entry)
    log.info("demo receiver %s: got %s", name, entry["idempotency_key"])
    return jsonify({"received": True, "receiver": entry["receiver"]})
