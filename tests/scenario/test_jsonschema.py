from __future__ import annotations

import json

from netcheck.scenario import json_schema
from netcheck.scenario.jsonschema import SCHEMA_FILE


def test_shipped_schema_is_current() -> None:
    shipped = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped == json_schema(), (
        "netcheck/scenario/schema.json is stale: regenerate it with "
        "python -c 'from netcheck.scenario.jsonschema import write_schema_file; "
        "write_schema_file()'"
    )


def test_schema_describes_the_format() -> None:
    schema = json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) >= {
        "name", "lab", "networks", "endpoints", "expectations", "variables", "runtime",
    }
    pair = schema["$defs"]["PairExpectation"]
    assert "from" in pair["properties"] and "probe" in pair["required"]
    # typed values may be variable references in an editor too
    lan_mtu = schema["$defs"]["LanSpec"]["properties"]["mtu"]
    assert any(alt.get("type") == "string" for alt in lan_mtu["anyOf"])


def test_schema_has_literal_targets_and_source_pinning() -> None:
    schema = json_schema()
    assert schema["properties"]["targets"]["description"].startswith("named outside addresses")
    target = schema["$defs"]["TargetSpec"]
    assert target["required"] == ["address"] and target["additionalProperties"] is False
    pair = schema["$defs"]["PairExpectation"]["properties"]
    assert "source address" in pair["source"]["description"]
    assert "literal IPv4/IPv6 address" in pair["to"]["anyOf"][0]["description"]
    assert "node@network" in pair["from"]["anyOf"][0]["description"]
