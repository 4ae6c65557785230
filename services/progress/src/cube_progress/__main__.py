"""`python -m cube_progress`."""

from cube_progress.app import create_app
from cube_runtime.service import run

run("progress", create_app)
