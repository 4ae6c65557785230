"""`python -m cube_progress`."""

from cube_runtime.service import run

from cube_progress.app import create_app

run("progress", create_app)
