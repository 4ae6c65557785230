"""JSON Schema of every event and the AsyncAPI document of the topics, written into contracts/schemas/."""

import json
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from cube_contracts import events as ev
from cube_contracts import topics
from cube_contracts.model import BusinessEvent

# The events each topic carries, as DESIGN.md's topic table lists them.
TOPIC_EVENTS: dict[str, tuple[type[BaseModel], ...]] = {
    topics.SCENARIO_REQUESTED: (ev.ScenarioRequested,),
    topics.SCENARIO_PLANNING: (
        ev.PlanningStarted,
        ev.MasterDataGenerated,
        ev.TrendsGenerated,
        ev.PlanningFailed,
    ),
    topics.MONTH_REQUESTED: (ev.MonthRequested,),
    topics.MONTH_COMPLETED: (ev.MonthStarted, ev.MonthCompleted, ev.MonthFailed),
    topics.SCENARIO_LIFECYCLE: (
        ev.ValidationStarted,
        ev.ScenarioCompleted,
        ev.ScenarioFailed,
        ev.ScenarioCancelled,
    ),
    topics.ANALYTICS_BUSINESS_EVENTS: (BusinessEvent,),
}


def default_dir() -> Path:
    """contracts/schemas/ of the source tree this package sits in."""
    import cube_contracts

    return Path(cube_contracts.__file__).resolve().parents[2] / "schemas"


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document FastStream generates from one publisher per (topic, event)."""
    broker = KafkaBroker()
    for topic, models in TOPIC_EVENTS.items():
        for model in models:
            publisher = broker.publisher(
                topic,
                title=f"{topic}:{model.__name__}",
                description=(model.__doc__ or "").strip(),
                schema=model,
            )

            @publisher
            async def _handler(body: model) -> None:  # type: ignore[valid-type]
                return None

    spec = AsyncAPI(
        broker,
        title="Telling Cube pipeline",
        version="1.0.0",
        description="Topics of the Telling Cube scenario engine; keys per DESIGN.md.",
        schema_version="3.0.0",
    )
    return json.loads(spec.to_specification().to_json())


def documents() -> dict[str, str]:
    """File name -> content of every generated schema file."""
    files: dict[str, str] = {}
    for models in TOPIC_EVENTS.values():
        for model in models:
            schema = model.model_json_schema(mode="serialization")
            files[f"{model.__name__}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    files["asyncapi.json"] = json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"
    return files


def write_schemas(target: Path | None = None) -> list[Path]:
    """Write every schema file, removing stale ones; returns the paths written."""
    target = target or default_dir()
    target.mkdir(parents=True, exist_ok=True)
    files = documents()
    for stale in target.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = target / name
        path.write_text(text)
        written.append(path)
    return written
