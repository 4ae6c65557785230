"""The checked-in schema files must equal what the models generate."""

from cube_runtime.schemas import default_dir, documents


def test_checked_in_schemas_match_the_models() -> None:
    expected = documents()
    folder = default_dir()
    on_disk = {p.name: p.read_text() for p in folder.glob("*.json")}
    drifted = sorted(n for n in expected if on_disk.get(n) != expected[n])
    extra = sorted(set(on_disk) - set(expected))
    assert (drifted, extra) == ([], []), "run `uv run cube schemas` and commit contracts/schemas/"


def test_asyncapi_names_every_topic() -> None:
    import json

    doc = json.loads(documents()["asyncapi.json"])
    topics = {c.split(":")[0] for c in doc["channels"]}
    assert {"scenario.requested", "month.requested", "analytics.business-events"} <= topics
