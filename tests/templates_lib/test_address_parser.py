"""Address cleaning is an optional extra: with cpca it cleans, without it a bundle that asks
for ``clean_address`` says so by name, in both languages, with the command that installs it."""

from __future__ import annotations

import pytest

from templates_lib import (
    INSTALL_ADDRESS,
    AddressParserMissingError,
    BundleError,
    builtin_bundle,
    clean_address,
    prepare_order,
)

ORDER = {
    "external_id": "DY-1",
    "channel": "douyin",
    "amount": 648,
    "currency": "CNY",
    "shipping_address": {"street": "浙江杭州市余杭区五常街道文一西路969号"},
}


def test_with_cpca_the_address_is_cleaned_and_the_text_kept():
    address = clean_address(ORDER["shipping_address"])
    assert (address["province"], address["city"], address["district"]) == (
        "浙江省",
        "杭州市",
        "余杭区",
    )
    doc = prepare_order(builtin_bundle("live-commerce-intake"), ORDER)
    assert doc["shipping_address"]["city"] == "杭州市"
    assert doc["custom"]["raw_address"] == ORDER["shipping_address"]["street"]


def test_without_cpca_a_bundle_that_cleans_addresses_says_what_to_install(without_cpca):
    bundle = builtin_bundle("live-commerce-intake")
    with pytest.raises(AddressParserMissingError) as err:
        prepare_order(bundle, ORDER)
    assert isinstance(err.value, BundleError)  # the package's one base error
    (problem,) = err.value.problems
    assert (problem.code, problem.file, problem.path) == (
        "address_parser_missing", "manifest.json", "/intake/clean_address")  # fmt: skip
    assert INSTALL_ADDRESS == 'pip install "orderflow[address]"'
    for text in (problem.message, problem.message_zh):
        assert "live-commerce-intake" in text and "clean_address" in text
        assert INSTALL_ADDRESS in text
    assert "cleans shipping addresses" in problem.message
    assert "清洗收货地址" in problem.message_zh
    assert isinstance(err.value.__cause__, ImportError)
    with pytest.raises(AddressParserMissingError):
        clean_address(ORDER["shipping_address"])


def test_without_cpca_orders_that_need_no_cleaning_pass(without_cpca):
    bundle = builtin_bundle("live-commerce-intake")
    no_address = {k: v for k, v in ORDER.items() if k != "shipping_address"}
    assert prepare_order(bundle, no_address) == no_address
    assert prepare_order({"dedup": ["amount"]}, ORDER) == ORDER  # no clean_address asked
