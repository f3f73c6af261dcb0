"""What an outbound call may be given: the URL and header checks shared by the webhook node
(at save) and the app's sender and notification channels.

A URL that passes :func:`url_problem` is one the HTTP client can send to; reserved headers
are the ones the outbox sets itself, which a flow may never replace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flow_engine.issues import ValidationIssue, make_issue

__all__ = [
    "EXAMPLE_URL",
    "RESERVED_HEADERS",
    "call_issues",
    "header_problem",
    "is_reserved_header",
    "url_problem",
]

EXAMPLE_URL = "https://erp.example.com/hooks/orders"
MAX_URL_LENGTH = 2000

# Receivers check the signature and deduplicate on the idempotency key; the others frame the
# request. A flow replacing any of them breaks delivery or the receiver's checks.
RESERVED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Host",
    "Idempotency-Key",
    "User-Agent",
    "Transfer-Encoding",
    "Connection",
    "X-OrderFlow-*",
)
_RESERVED_EXACT = frozenset(h.lower() for h in RESERVED_HEADERS if not h.endswith("*"))
_RESERVED_PREFIX = "x-orderflow-"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name

Reason = tuple[str, str]  # (English, Chinese)


def url_problem(url: object) -> Reason | None:
    """Why ``url`` cannot be called, in English and Chinese; None for a usable http(s) URL."""
    if not isinstance(url, str) or not url:
        return ("it is empty", "地址为空")
    if len(url) > MAX_URL_LENGTH:
        return (f"it is longer than {MAX_URL_LENGTH} characters", f"超过 {MAX_URL_LENGTH} 个字符")
    bad = next((c for c in url if c.isspace() or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        return (
            f"it contains a space or control character ({bad!r}); write a space as %20",
            f"含有空格或控制字符（{bad!r}）；空格请写作 %20",
        )
    if not url.isascii():
        return (
            "it contains non-ASCII characters; percent-encode them (中 is %E4%B8%AD)",
            "含有非 ASCII 字符；请做百分号编码（“中”写作 %E4%B8%AD）",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return (
            "its host or port cannot be read (a port is a number from 1 to 65535)",
            "无法识别主机或端口（端口是 1 到 65535 之间的数字）",
        )
    if parts.scheme.lower() not in ("http", "https"):
        return ("it does not start with http:// or https://", "不是以 http:// 或 https:// 开头")
    if not parts.hostname:
        return ("it has no host name", "没有主机名")
    if parts.username is not None or parts.password is not None:
        return (
            "it carries a user name or password; send credentials in a header instead",
            "包含用户名或密码；请改用请求头传递凭据",
        )
    if port == 0:
        return (
            "port 0 cannot be called (a port is 1 to 65535)",
            "端口 0 无法连接（端口为 1 到 65535）",
        )
    return None


def is_reserved_header(name: str) -> bool:
    """True for a header the outbox sets itself (case-insensitive)."""
    lowered = name.strip().lower()
    return lowered in _RESERVED_EXACT or lowered.startswith(_RESERVED_PREFIX)


def header_problem(name: str, value: object) -> Reason | None:
    """Why a custom header cannot be sent as given; None when it can."""
    if not _TOKEN.match(name):
        return (
            "its name may hold only letters, digits and !#$%&'*+.^_`|~-",
            "名称只能包含字母、数字和 !#$%&'*+.^_`|~-",
        )
    if not isinstance(value, str) or any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in value):
        return ("its value contains a line break or control character", "值中含有换行或控制字符")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return (
            "its value has characters HTTP headers cannot carry (such as Chinese); "
            "percent-encode or Base64 them",
            "值中含有请求头无法携带的字符（如中文）；请做百分号编码或 Base64 编码",
        )
    return None


def call_issues(config: Mapping[str, Any], base: str, node_id: str) -> list[ValidationIssue]:
    """Problems of a webhook node's ``url`` and ``headers`` (config at JSON path ``base``)."""
    issues = []
    url = config.get("url")
    reason = url_problem(url)
    if reason is not None:
        issues.append(
            make_issue(
                "invalid_url",
                f"{base}/url",
                node_id=node_id,
                node=node_id,
                field="url",
                url=url,
                reason=reason[0],
                reason_zh=reason[1],
                example=EXAMPLE_URL,
            )
        )
    for name, value in (config.get("headers") or {}).items():
        path = f"{base}/headers/" + name.replace("~", "~0").replace("/", "~1")
        if is_reserved_header(name):
            reserved = ", ".join(RESERVED_HEADERS)
            issues.append(
                make_issue("reserved_header", path, node_id=node_id, node=node_id, header=name,
                           reserved=reserved)
            )  # fmt: skip
        elif (reason := header_problem(name, value)) is not None:
            issues.append(
                make_issue("invalid_header", path, node_id=node_id, node=node_id, header=name,
                           reason=reason[0], reason_zh=reason[1])
            )  # fmt: skip
    return issues
