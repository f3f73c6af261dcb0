"""A webhook node's address and headers are checked at save: what the sender could not call,
and headers the outbox sets itself, are refused with the node, the field and an example."""

from __future__ import annotations

import pytest

from flow_engine import validate_flow
from tests.flow_engine.helpers import chain, node


def _issues(**config):
    doc = chain(node("call", "webhook", **config))
    return [i for i in validate_flow(doc) if i.severity == "error"]


@pytest.mark.parametrize(
    ("url", "english", "chinese"),
    [
        ("http://localhost:5108/a b", "space or control character", "空格或控制字符"),
        ("http://erp.example.com/\x07", "control character", "控制字符"),
        ("ftp://erp.example.com/orders", "http:// or https://", "http:// 或 https://"),
        ("https:///orders", "no host name", "没有主机名"),
        ("http://erp.example.com:99999/x", "1 to 65535", "1 到 65535"),
        ("http://erp.example.com:port/x", "1 to 65535", "1 到 65535"),
        ("http://erp.example.com:0/x", "port 0", "端口 0"),
        ("http://[::1/x", "host or port", "主机或端口"),
        ("https://erp.example.com/订单", "percent-encode", "百分号编码"),
        ("https://user:secret@erp.example.com/", "password", "密码"),
        ("", "empty", "为空"),
    ],
)
def test_an_address_the_sender_cannot_call_is_refused(url, english, chinese):
    issues = [i for i in _issues(url=url) if i.code in ("invalid_url", "config")]
    (issue,) = issues
    assert issue.code == "invalid_url" or url == ""  # "" already fails the schema's minLength
    if issue.code == "invalid_url":
        assert issue.node_id == "call" and issue.path == "/nodes/1/config/url"
        assert "Node 'call'" in issue.message and "field 'url'" in issue.message
        assert english in issue.message and "https://erp.example.com/hooks/orders" in issue.message
        assert "节点“call”" in issue.message_zh and chinese in issue.message_zh


@pytest.mark.parametrize(
    "url",
    ["https://erp.example.com/hooks/orders?x=1", "http://127.0.0.1:8080/hook", "HTTPS://A.B/"],
)
def test_usable_addresses_pass(url):
    assert _issues(url=url) == []


@pytest.mark.parametrize(
    "header",
    ["X-OrderFlow-Signature", "idempotency-key", "CONTENT-TYPE", "Host", "Content-Length",
     "x-orderflow-event", "User-Agent", "Transfer-Encoding", "Connection"],
)  # fmt: skip
def test_reserved_headers_are_refused_whatever_their_case(header):
    (issue,) = _issues(url="https://erp.example.com/h", headers={header: "x", "X-Tenant": "a"})
    assert issue.code == "reserved_header" and issue.node_id == "call"
    assert issue.path == f"/nodes/1/config/headers/{header}"
    assert f"header '{header}' is reserved" in issue.message and "Node 'call'" in issue.message
    assert "Idempotency-Key" in issue.message and "X-OrderFlow-Signature" in issue.message
    assert f"请求头“{header}”是保留请求头" in issue.message_zh


@pytest.mark.parametrize(
    ("name", "value", "english"),
    [
        ("X-A", "one\r\nX-Injected: 1", "line break"),
        ("X A", "1", "letters, digits"),
        ("X-Shop", "华东", "percent-encode or Base64"),
    ],
)
def test_headers_that_cannot_be_sent_are_refused(name, value, english):
    (issue,) = _issues(url="https://erp.example.com/h", headers={name: value})
    assert issue.code == "invalid_header" and english in issue.message and issue.message_zh
