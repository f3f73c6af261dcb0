"""The ``X-OrderFlow-Signature`` scheme, shared by inbound channel webhooks (verified) and
outbound webhooks and notifications (signed): ``t=<unix time>,v1=<hex HMAC-SHA256 of
"<unix time>.<body>">``."""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_RE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-OrderFlow-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
