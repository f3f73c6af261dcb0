"""A bundle's notification texts name a channel as a lowercase name (the bundle format does not
list the channel kinds); the import keeps them, and says when this installation has no channel
of that kind."""

from __future__ import annotations

import json

import pytest

from app.bundles import services
from app.bundles.plan import make_plan
from app.errors import ValidationError
from templates_lib import BUNDLES_DIR, read_dir, to_zip


def _with_channel(channel: str) -> bytes:
    files = read_dir(BUNDLES_DIR / "large-order-finance-review")
    manifest = json.loads(files["manifest.json"])
    manifest["notification_texts"][0]["channel"] = channel
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    return to_zip(files)


@pytest.mark.parametrize(("channel", "unknown"), [("wecom", False), ("fax", True)])
def test_a_text_for_a_channel_kind_not_here_is_kept_with_a_warning(tx, channel, unknown) -> None:
    bundle = services.read_upload(_with_channel(channel))
    plan = tx(lambda db: make_plan(db, bundle, create_fields=True))
    (item,) = [i for i in plan.items if i.kind == "notification_text"]
    assert item.action == "keep"
    assert ("nothing will send this text" in item.note) is unknown


def test_a_channel_that_is_no_name_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        services.read_upload(_with_channel("Fax Machine"))
    assert "notification_texts" in json.dumps(caught.value.details, ensure_ascii=False, default=str)
