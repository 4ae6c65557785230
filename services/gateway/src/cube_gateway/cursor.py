"""Opaque pagination cursors."""

import base64
import binascii


class BadCursor(ValueError):
    """A cursor this API did not issue."""


def encode(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode().rstrip("=")


def decode(cursor: str, count: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("cursor is not one this API issued") from None
    parts = raw.split("|")
    if len(parts) != count:
        raise BadCursor("cursor is not one this API issued")
    return parts
