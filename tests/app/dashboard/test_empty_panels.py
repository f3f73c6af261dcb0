"""A dashboard panel without data says what feeds it and links to where it is connected,
instead of drawing an empty chart."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", ["Costs come from cost drivers", "POST /api/v1/status-events", "promised_at",
                "No approval decided in this range"]),
        ("zh", ["成本由成本动因", "POST /api/v1/status-events", "承诺送达时间", "没有已处理的审批"]),
    ],
)  # fmt: skip
def test_empty_panels_say_what_feeds_them(client, login, make_user, language, words):
    make_user("boss", roles=("admin",))
    login("boss")
    page = client.get("/dashboard/", headers={"Accept-Language": language}).get_data(as_text=True)
    for word in words:
        assert word in page, word
    for key in ("orders", "unit_cost", "status_lag", "on_time", "approval_turnaround"):
        assert f'data-testid="empty-{key}"' in page and f'id="chart-{key}"' not in page
    assert 'href="/costs/setup"' in page and 'href="/admin/status-mappings/"' in page
    # Alerts open has no hint: none open is good news, its chart stays.
    assert 'id="chart-alerts_open"' in page


@pytest.mark.parametrize(("language", "taobao"), [("zh", "淘宝"), ("en", "Taobao")])
def test_the_charts_name_sales_channels_in_the_readers_language(
    client, login, make_user, language, taobao
):
    make_user("boss", roles=("admin",))
    login("boss")
    page = client.get("/dashboard/", headers={"Accept-Language": language}).get_data(as_text=True)
    payload = page.split('<script type="application/json" id="db-data">', 1)[1].split("</script>")[
        0
    ]
    assert json.loads(payload)["channel_names"]["taobao"] == taobao
