# One command per chore. `make run` and `make test` create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OIDC_PROVIDER := tests/oidc_provider
OIDC_STAMP := $(OIDC_PROVIDER)/node_modules/.installed
REQUIREMENTS_REPORT := .pytest-requirements.json
CLIENT := clients/js
CLIENT_STAMP := $(CLIENT)/node_modules/.installed
SPA := examples/spa
SPA_STAMP := $(SPA)/node_modules/.installed

.PHONY: run test lint typecheck client-test pytest system-packages browser screenshots \
	compliance bench capacity image-test openapi client clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "authapi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## serve the embedded default at http://127.0.0.1:8000
	$(BIN)/authapi serve

test: lint typecheck client-test pytest  ## everything CI checks

lint: $(STAMP)
	$(BIN)/ruff check src tests bench alembic examples tools deploy
	$(BIN)/ruff format --check src tests bench alembic examples tools deploy

typecheck: $(STAMP)
	$(BIN)/mypy

# the OpenID provider the OIDC tests run (node); tests/oidc.py skips them without it
$(OIDC_STAMP): $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund
	touch $(OIDC_STAMP)

# the JavaScript client (clients/js): its unit tests under Node's test runner, and that
# the committed dist/ and src/api.ts are what its sources and openapi.json make
$(CLIENT_STAMP): $(CLIENT)/package-lock.json
	npm ci --prefix $(CLIENT) --no-audit --no-fund
	touch $(CLIENT_STAMP)

client-test: $(CLIENT_STAMP)
	npm test --prefix $(CLIENT)

client: $(CLIENT_STAMP)  ## rebuild clients/js (types from openapi.json, then dist/)
	npm run generate --prefix $(CLIENT)
	npm run build --prefix $(CLIENT)

# the example SPA on Vite (tests/live/test_example_spa.py runs its dev server)
$(SPA_STAMP): $(SPA)/package-lock.json $(CLIENT_STAMP)
	npm ci --prefix $(SPA) --no-audit --no-fund
	touch $(SPA_STAMP)

# Debian's packages that tests drive, installed as root (CI) in one apt-get; anyone else is
# told which are missing: Chromium for tests/browser (Playwright drives it, and never
# downloads a browser of its own), a Compose implementation for compose.yaml's test (the
# docker CLI's `compose` plugin, else Debian's docker-compose 1.29, which knows the Compose
# Specification), and pgbouncer for tests/outage/test_pgbouncer.py.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-liberation"; \
	docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || \
		missing="$$missing docker-compose"; \
	[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing="$$missing pgbouncer"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $$missing; \
	else \
		echo "make system-packages: run 'sudo apt-get install$$missing' for the tests that use them"; \
	fi

browser: system-packages

# the whole suite also checks the compliance matrix against what passed (tools/compliance.py)
pytest: $(STAMP) $(OIDC_STAMP) $(SPA_STAMP) system-packages
	$(BIN)/python -m pytest --requirements-report=$(REQUIREMENTS_REPORT) $(PYTEST_ARGS)
	$(if $(PYTEST_ARGS),,$(BIN)/python tools/compliance.py check $(REQUIREMENTS_REPORT))

screenshots: $(STAMP) system-packages  ## each built-in page at desktop and phone width, in build/screenshots
	$(BIN)/python tools/screenshots.py build/screenshots

compliance: $(STAMP)  ## regenerate docs/compliance.md (requirements.toml + test markers)
	$(BIN)/python -m pytest --collect-only -q --requirements-report=$(REQUIREMENTS_REPORT) >/dev/null
	$(BIN)/python tools/compliance.py render $(REQUIREMENTS_REPORT)

bench: $(STAMP)  ## measure against PostgreSQL + Redis (see bench/README)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# bench/capacity.py measures (a few minutes), then README's capacity table is rendered
# from the bench/capacity.json it wrote, so the two always agree
capacity: $(STAMP)  ## measure what users, sessions and events need (see bench/README)
	$(BIN)/python bench/capacity.py $(CAPACITY_ARGS)
	$(BIN)/python bench/capacity.py --write-readme $(CAPACITY_ARGS)

# The production image for real (deploy/image_test.py, as root): Debian's dockerd, a
# debootstrap stand-in for python:3.11-slim (Docker Hub is out of reach), the Dockerfile
# built unchanged, migrate + serve on PostgreSQL and Redis, sign-up and sign-in over HTTP,
# a non-root process, no compiler, no test files, the image size; cleans up after itself.
image-test: $(STAMP)  ## build the Docker image and check it on PostgreSQL + Redis
	$(BIN)/python deploy/image_test.py

openapi: $(STAMP)  ## regenerate openapi.json from the app (and the client's types)
	$(BIN)/authapi openapi --output openapi.json
	$(MAKE) client

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(OIDC_PROVIDER)/node_modules \
		$(CLIENT)/node_modules $(SPA)/node_modules build
