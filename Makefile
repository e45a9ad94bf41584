# diandan: every set-up step lives here, so that a fresh machine needs only `make run` / `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(VENV)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve migrate demo test lint typecheck pytest openapi openapi-check client client-check bench clean

$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --locked --quiet

migrate: install
	mkdir -p var
	DIANDAN_ENV=$${DIANDAN_ENV:-development} $(VENV)/bin/alembic upgrade head

demo: migrate
	DIANDAN_ENV=$${DIANDAN_ENV:-development} $(PY) -m app.demo

## install, migrate, load demo data into the embedded SQLite default (empty databases only), serve
run: demo
	DIANDAN_ENV=$${DIANDAN_ENV:-development} $(VENV)/bin/uvicorn app.asgi:app --host $(HOST) --port $(PORT)

CODE := app tests migrations bench tools scripts clients/python

lint: install
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

typecheck: install
	$(VENV)/bin/mypy app tests bench tools scripts clients/python/diandan_client

pytest: install
	$(PY) -m pytest -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

## the whole suite: lint, types, a fresh generated client, and every test on SQLite and PostgreSQL
test: lint typecheck client-check pytest

openapi: install
	$(PY) -m app.openapi_dump > openapi/openapi.json
	$(PY) -m tools.gen_client

openapi-check: install
	$(PY) -m app.openapi_dump | diff -q openapi/openapi.json - >/dev/null || \
		(echo "openapi/openapi.json is stale: run 'make openapi'" && exit 1)

## regenerate the typed admin client (clients/python/diandan_client) from openapi/openapi.json
client: install
	$(PY) -m tools.gen_client

client-check: install
	$(PY) -m tools.gen_client --check

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

## benchmarks (not part of `make test`): see bench/run.py; results in bench-results/latest.json
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)
