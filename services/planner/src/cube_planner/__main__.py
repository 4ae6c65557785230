"""`python -m cube_planner`."""

from cube_runtime.service import run

from cube_planner.app import create_app

run("planner", create_app)
