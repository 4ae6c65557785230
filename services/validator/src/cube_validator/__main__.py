"""`python -m cube_validator`."""

from cube_runtime.service import run
from cube_validator.app import create_app

run("validator", create_app)
