"""OrderFlow industry templates: bundles of flows, reference data, custom fields, alert
rules, notification texts and sample orders with their expected outcomes.

::

    from templates_lib import builtin_bundles, load_zip, run_sample

    for bundle in builtin_bundles():          # shipped bundles, checked when loaded
        for sample in bundle.resolved().samples:
            assert run_sample(bundle.resolved(), sample) == []

A bundle is data (``bundles/<id>/manifest.json`` and the files it names); this package only
reads, checks, simulates and writes it. It never touches a database: the app imports bundles.
"""

from __future__ import annotations

from .bundle import INDUSTRIES, Bundle, TableSpec, substitute
from .errors import INSTALL_ADDRESS, AddressParserMissingError, BundleError, Problem
from .intake import address_parser, clean_address, dedup_key, prepare_order
from .loader import (
    BUNDLES_DIR,
    builtin_bundle,
    builtin_bundles,
    load_dir,
    load_files,
    load_zip,
    manifest_schema,
    order_schema_with,
    read_dir,
    read_zip,
    samples_schema,
)
from .samples import Observed, check_expectations, compare, run_sample, sample_now, simulate_sample
from .writer import to_files, to_zip

__all__ = [
    "BUNDLES_DIR",
    "INSTALL_ADDRESS",
    "INDUSTRIES",
    "AddressParserMissingError",
    "Bundle",
    "BundleError",
    "Observed",
    "Problem",
    "TableSpec",
    "address_parser",
    "builtin_bundle",
    "builtin_bundles",
    "check_expectations",
    "clean_address",
    "compare",
    "dedup_key",
    "load_dir",
    "load_files",
    "load_zip",
    "manifest_schema",
    "order_schema_with",
    "prepare_order",
    "read_dir",
    "read_zip",
    "run_sample",
    "sample_now",
    "samples_schema",
    "simulate_sample",
    "substitute",
    "to_files",
    "to_zip",
]
