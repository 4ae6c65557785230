"""Make a value valid for a JSON schema (the subset pydantic emits), as a model answering a tool call would."""

import random
from typing import Any

_WORDS = (
    "golden amber willow harbour maple cedar crescent linden meadow copper river "
    "juniper saffron orchard lantern summit hazel birch quay atlas ember fern"
).split()


def fill(schema: dict[str, Any], rng: random.Random, root: dict[str, Any] | None = None) -> Any:
    """A value that validates against `schema`; strings carry no digits, like a well-behaved model."""
    root = schema if root is None else root
    if "$ref" in schema:
        return fill(_resolve(root, schema["$ref"]), rng, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return fill(options[0], rng, root)
    if "allOf" in schema:
        return fill(schema["allOf"][0], rng, root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _FILLERS[kind](schema, rng, root)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def _string(schema: dict[str, Any], rng: random.Random, root: dict[str, Any]) -> str:
    if schema.get("format") == "date":
        return "2025-01-01"
    low, high = schema.get("minLength", 0), schema.get("maxLength", 80)
    words = [rng.choice(_WORDS).capitalize() for _ in range(rng.randint(2, 6))]
    text = " ".join(words)
    while len(text) < low:
        text += " " + rng.choice(_WORDS)
    return text[:high].rstrip() or "x" * max(1, low)


def _number(schema: dict[str, Any], rng: random.Random, root: dict[str, Any]) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100))
    if schema.get("type") == "integer":
        low_i = int(low) + (1 if "exclusiveMinimum" in schema else 0)
        high_i = int(high) - (1 if "exclusiveMaximum" in schema else 0)
        return rng.randint(low_i, max(low_i, high_i))
    return round(low + (high - low) * (0.1 + 0.8 * rng.random()), 4)


def _array(schema: dict[str, Any], rng: random.Random, root: dict[str, Any]) -> list[Any]:
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", low + 3)
    count = min(high, max(low, 1 if high >= 1 else 0, rng.randint(low, min(high, low + 2))))
    return [fill(schema.get("items", {"type": "string"}), rng, root) for _ in range(count)]


def _object(schema: dict[str, Any], rng: random.Random, root: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    return {name: fill(sub, rng, root) for name, sub in props.items()}


_FILLERS = {
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": lambda s, rng, root: rng.random() < 0.5,
    "array": _array,
    "object": _object,
    "null": lambda s, rng, root: None,
}
