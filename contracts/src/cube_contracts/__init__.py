"""Contracts of Telling Cube: events, topics, stages and the public data model."""

from cube_contracts.events import *  # noqa: F403
from cube_contracts.model import *  # noqa: F403
from cube_contracts.stages import *  # noqa: F403
from cube_contracts.topics import *  # noqa: F403
