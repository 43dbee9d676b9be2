# 店小二 xiaoer — two commands: `make run` starts everything, `make test` tests everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tools the checks use, kept beside the virtualenv, outside the repository (make tools).
TOOLS    := $(VENV)/tools
PROMTOOL := $(TOOLS)/prometheus/usr/bin/promtool
NODE_MODULES := $(TOOLS)/node/node_modules
ASYNCAPI_PARSER := $(NODE_MODULES)/@asyncapi/parser/package.json

.PHONY: run test test-sqlite test-postgres lint bench up down install clean schemas vendor i18n screenshots \
	image image-test compose-test tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The whole system on embedded defaults: broker, migrations, demo data, three services, the pages.
run: $(STAMP)
	$(BIN)/xiaoer run

## The whole test suite: SQLite always, PostgreSQL too (side by side) when XIAOER_TEST_POSTGRES_URL is set;
## the fault tests (-m faults) in a third lane beside them (tests/both_databases.sh).
## Also: the alert rules' unit tests (promtool) and the AsyncAPI document through the official parser.
test: $(STAMP) tools
	$(BIN)/ruff check .
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.yml
	NODE_PATH=$(NODE_MODULES) node deploy/contracts/check-asyncapi.mjs docs/asyncapi.yaml
	tests/both_databases.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schemas: $(STAMP)
	$(BIN)/xiaoer schemas

## The pages' front-end packages (services/web/package.json): npm ci in a scratch directory, the
## minified files copied into services/web/static/vendor under content-hashed names. Commit them.
vendor: $(STAMP)
	$(BIN)/python -m services.web.vendor_assets

## The pages' translations: new messages into services/web/locale (translate the empty msgstr
## entries in en/LC_MESSAGES/messages.po); the service compiles the catalogue when it starts.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F services/web/babel.cfg -k N_ --no-location --sort-output \
		--project xiaoer-web -o services/web/locale/messages.pot services/web
	$(BIN)/pybabel update -i services/web/locale/messages.pot -d services/web/locale --width 120
	$(BIN)/pybabel compile -d services/web/locale --statistics  # how many are translated
	rm -f services/web/locale/*/LC_MESSAGES/messages.mo

## Screenshots of every page into docs/screenshots/ (its own `xiaoer run` on free ports, demo data,
## Debian's Chromium: phone size for the enterprise H5, desktop for the workbench and the board).
screenshots: $(STAMP)
	$(BIN)/python -m services.web.screenshots

## Benchmarks, each beside its reference in the same run; writes the table into docs/benchmarks.md.
## PostgreSQL from XIAOER_BENCH_POSTGRES_URL (default: local); about 12 minutes (BENCH_ARGS=--quick: 5).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

## promtool from Debian's prometheus package, unpacked, not installed (apt-get download needs the
## package lists: apt-get update); @asyncapi/parser from npm.
tools: $(PROMTOOL) $(ASYNCAPI_PARSER)

$(PROMTOOL):
	rm -rf $(TOOLS)/prometheus && mkdir -p $(TOOLS)/prometheus
	cd $(TOOLS)/prometheus && apt-get download prometheus && dpkg -x prometheus_*.deb . && rm prometheus_*.deb

$(ASYNCAPI_PARSER):
	mkdir -p $(TOOLS)/node
	cd $(TOOLS)/node && echo '{"private": true}' > package.json && npm install --no-audit --no-fund @asyncapi/parser@3.6.6

## The production image (deploy/image/build.sh). Where nothing can be pulled it first makes the
## Python base from Debian's packages with debootstrap (root). DOCKER_HOST picks the daemon.
image:
	deploy/image/build.sh

## The image run: each role as a container on the host network against this machine's PostgreSQL
## and an embedded broker, the README's request through them (about 4 minutes).
image-test: $(STAMP) image
	XIAOER_TEST_POSTGRES_URL=$${XIAOER_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest deploy/tests/test_image.py -p no:cacheprovider

## docker-compose.yml started here, with stand-ins for what cannot be pulled (docker-compose.standins.yml;
## Debian's docker-compose): migration first, health checks, the README's request end to end, Prometheus
## and the board's queries, a killed container, down and up keeping the data, then torn down.
compose-test: $(STAMP) image
	$(BIN)/pytest deploy/tests/test_compose.py -p no:cacheprovider -s

## The production stack with Docker Compose (Apache Kafka in KRaft mode, PostgreSQL).
up:
	docker compose up --build -d

down:
	docker compose down

clean:
	rm -rf var .pytest_cache
