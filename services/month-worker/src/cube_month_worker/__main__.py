"""`python -m cube_month_worker`."""

from cube_month_worker.app import create_app
from cube_runtime.service import run

run("month-worker", create_app)
