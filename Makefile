# Two commands do all the set-up on a fresh machine: `make up` and `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv

.PHONY: up test test-fast test-faults test-faults-rest lint bench bench-claude bench-claude-full schemas sync uv clean

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

sync: uv
	@$(UV) sync --frozen --all-packages --quiet

up: sync
	$(UV) run --frozen cube up

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy contracts/src runtime/src engine/src services/gateway/src services/planner/src \
		services/month-worker/src services/validator/src services/progress/src

test: lint
	$(UV) run --frozen pytest

test-fast: sync
	$(UV) run --frozen pytest -m "not connected and not slow"

# Every fault-injection case, the expensive ones (marker faults_full) included; `make test`
# runs only the fast ones. Prints a table of the faults and the time each took to recover.
test-faults: sync
	$(UV) run --frozen pytest tests/faults -m faults

test-faults-rest: sync
	$(UV) run --frozen pytest tests/faults -m faults_full

bench: sync
	$(UV) run --frozen python -m cube_runtime.bench

schemas: sync
	$(UV) run --frozen cube schemas

clean:
	rm -rf .cube .pytest_cache .mypy_cache .ruff_cache

bench-claude: sync
	$(UV) run --frozen python -m tests.bench_claude

bench-claude-full: sync
	$(UV) run --frozen python -m tests.bench_claude --full
