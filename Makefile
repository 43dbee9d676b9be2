# 店小二 xiaoer — two commands: `make run` starts everything, `make test` tests everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint bench up down install clean schemas

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The whole system on embedded defaults: broker, migrations, demo data, three services.
run: $(STAMP)
	$(BIN)/xiaoer run

## The whole test suite: SQLite always, PostgreSQL too when XIAOER_TEST_POSTGRES_URL is set.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest
	@if [ -n "$$XIAOER_TEST_POSTGRES_URL" ]; then \
		echo "--- again on PostgreSQL ($$XIAOER_TEST_POSTGRES_URL)"; \
		XIAOER_TEST_DATABASE=postgres $(BIN)/pytest; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schemas: $(STAMP)
	$(BIN)/xiaoer schemas

## Benchmarks (see docs/benchmarks.md); PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default: local).
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/scheduler.py

## The production stack with Docker Compose (Apache Kafka in KRaft mode, PostgreSQL).
up:
	docker compose up --build -d

down:
	docker compose down

clean:
	rm -rf var .pytest_cache
