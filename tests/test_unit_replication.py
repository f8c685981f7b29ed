"""How the catalog's choices become a stream's replication method and key (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tap_acumatica.errors import ConfigError
from tap_acumatica.sync.replication import choose, requested_methods

STAMP = "LastModifiedDateTime"


def entity(**kwargs):
    return choose("Customer", valid_keys=[STAMP], default_key=STAMP, what="entity", **kwargs)


def inquiry(**kwargs):
    return choose("GI", valid_keys=["LastModifiedOn", "CreatedOn"], what="inquiry", **kwargs)


def test_entities() -> None:
    assert entity(method=None, catalog_key=None) == ("INCREMENTAL", STAMP)
    assert entity(method=None, catalog_key=STAMP) == ("INCREMENTAL", STAMP)
    assert entity(method="FULL_TABLE", catalog_key=STAMP) == ("FULL_TABLE", None)
    assert entity(method="full_table", catalog_key=None) == ("FULL_TABLE", None)
    with pytest.raises(ConfigError, match="only by its modification stamp"):
        entity(method=None, catalog_key="CustomerName")
    with pytest.raises(ConfigError, match="no modification stamp"):
        choose("ShipVia", method=None, catalog_key="Description", what="entity")
    assert choose("ShipVia", method=None, catalog_key=None, what="entity") == ("FULL_TABLE", None)
    with pytest.raises(ConfigError, match="only FULL_TABLE is possible"):
        choose("ShipVia", method="INCREMENTAL", catalog_key=None, what="entity")
    with pytest.raises(ConfigError, match="LOG_BASED"):
        entity(method="LOG_BASED", catalog_key=None)


def test_inquiries() -> None:
    assert inquiry(method=None, catalog_key=None) == ("FULL_TABLE", None)
    assert inquiry(method=None, catalog_key="CreatedOn") == ("INCREMENTAL", "CreatedOn")
    assert inquiry(method=None, catalog_key=None, setting_key="LastModifiedOn") == (
        "INCREMENTAL",
        "LastModifiedOn",
    )
    assert inquiry(method=None, catalog_key="CreatedOn", setting_key="CreatedOn")[1] == "CreatedOn"
    with pytest.raises(ConfigError, match="'inquiry_replication_keys' names 'LastModifiedOn'"):
        inquiry(method=None, catalog_key="CreatedOn", setting_key="LastModifiedOn")
    with pytest.raises(ConfigError, match="date-time columns: 'LastModifiedOn', 'CreatedOn'"):
        inquiry(method=None, catalog_key="Status")
    assert inquiry(method="FULL_TABLE", catalog_key=None, setting_key="CreatedOn") == (
        "FULL_TABLE",
        None,
    )
    with pytest.raises(ConfigError, match="names no replication-key"):
        inquiry(method="INCREMENTAL", catalog_key=None)


def test_requested_methods_read_from_the_raw_catalog(tmp_path: Path) -> None:
    catalog = {
        "streams": [
            {
                "tap_stream_id": "Customer",
                "metadata": [{"breadcrumb": [], "metadata": {"replication-method": "FULL_TABLE"}}],
            },
            {"tap_stream_id": "SalesOrder", "metadata": [{"breadcrumb": [], "metadata": {}}]},
        ]
    }
    assert requested_methods(catalog) == {"Customer": "FULL_TABLE"}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    assert requested_methods(str(path)) == {"Customer": "FULL_TABLE"}
    assert requested_methods(None) == {}
    assert requested_methods(str(tmp_path / "missing.json")) == {}
