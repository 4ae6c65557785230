"""`python -m cube_month_worker`."""

from cube_runtime.service import run

from cube_month_worker.app import create_app

run("month-worker", create_app)
