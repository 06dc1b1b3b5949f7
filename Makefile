# Two commands matter: `make run` (the whole system) and `make test` (the whole suite).
# While working: `make test-quick` (the tests not marked slow, a few minutes; see
# docs/development.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Quiet installs: no version nag, no warning about running as root (as in a container).
PIP := $(BIN)/python -m pip --disable-pip-version-check
PIP_QUIET := --quiet --root-user-action=ignore

.PHONY: install run seed test test-quick lint format schema assets bench bench-smoke bench-growth \
	mutation clean compose-smoke

install: $(STAMP)

# Reinstall only when the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_QUIET) --upgrade pip
	$(PIP) install $(PIP_QUIET) -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m stack $(RUN_ARGS)

# Demo data through the gateway of a running system (`make run` in another terminal).
seed: $(STAMP)
	$(BIN)/python -m stack.seed

# The slowest tests are listed at the end of each run, so a slow one is seen.
DURATIONS := --durations=15

test: $(STAMP)
	$(BIN)/python -m pytest $(DURATIONS) $(PYTEST_ARGS)

# Everything but the tests marked `slow` (process starts, browsers, load and fault tests).
test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(DURATIONS) $(PYTEST_ARGS)

# Mutation testing, not in CI: each module for at most MUTATION_BUDGET seconds (timeout ends
# the run and the service processes its tests started); each mutant runs only the tests that
# reached its function. What ran and what survived: docs/mutation.md, `$(BIN)/mutmut results`.
MUTATION_MODULES ?= graphql_gateway.integrity graphql_gateway.clients.errors \
	graphql_gateway.clients.breaker graphql_gateway.loaders service_orders.lifecycle \
	service_orders.repository service_users.repository graphql_gateway.graphql.compiled
MUTATION_BUDGET ?= 900
MUTATION_CHILDREN ?= 2
MUTATION_STAMP := $(VENV)/.mutation-stamp

$(MUTATION_STAMP): $(STAMP)
	$(PIP) install $(PIP_QUIET) -c constraints.txt -e '.[dev,mutation]'
	touch $@

mutation: $(MUTATION_STAMP)
	@for module in $(MUTATION_MODULES); do \
		echo "== $$module: at most $(MUTATION_BUDGET) s"; \
		timeout $(MUTATION_BUDGET) $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) \
			"$$module.*" || echo "== $$module: stopped (exit $$?)"; \
	done
	$(BIN)/mutmut results --all true

# Needs wrk (Debian/Ubuntu: apt-get install wrk) and, for the peers, node + npm.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke
	$(BIN)/python -m bench.growth --smoke

# Lists, pages and reports at two sizes (default 5,000 users × 5 orders and 100,000 × 10),
# seeded in SQL, and how much each grows (docs/benchmarks-growth.md). A few minutes; e.g.
# `make bench-growth GROWTH_ARGS="--small 1000x5 --large 20000x10"`.
bench-growth: $(STAMP)
	$(BIN)/python -m bench.growth $(GROWTH_ARGS)

# The containers for real (stack/compose_smoke.py): installs docker.io and docker-compose
# from the distribution if missing (apt-get, as root), starts dockerd if it is not running,
# builds local stand-ins of the base images when no registry answers
# (deploy/compose-smoke/), then up --build, the seed, a stopped service's breaker, down -v.
compose-smoke: $(STAMP)
	$(BIN)/python -m stack.compose_smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/python -m tools.export_schemas

# The playground's and the API docs' JavaScript and CSS, from the npm registry at the
# versions pinned in tools/fetch_assets.py, integrity-checked, into apicore/static/vendor
# (committed: run it only to change a version).
assets: $(STAMP)
	$(BIN)/python -m tools.fetch_assets

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache mutants
