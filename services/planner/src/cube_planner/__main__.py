"""`python -m cube_planner`."""

from cube_planner.app import create_app
from cube_runtime.service import run

run("planner", create_app)
