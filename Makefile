# One command runs the platform (`make run`), one runs the tests (`make test`).
# Both set up what they need: virtualenv, dependencies, PostgreSQL/Redis, database roles.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE ?= config.settings.local
# The streaming replica analytics reads from (deploy/scripts/ensure-replica.sh); tests start their own.
REPLICA_PORT ?= 5433

.PHONY: run test assets chromium ops-tools lint typecheck check services db venv bench bench-tools bench-tenants bench-auth bench-load bench-respondent bench-analytics bench-export bench-pii loadtest clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(BIN)/.installed  ## create the virtualenv and install pinned dependencies

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq npm)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

RESPONDENT_JS := $(wildcard tenant_apps/surveys/static/surveys/*.js)
build/static/surveys/respondent.min.js: node_modules/.installed $(RESPONDENT_JS)
	npm run --silent build

# The staff web app (frontend/): the tenant API's OpenAPI schema -> typed client (openapi-typescript), tsc, vite.
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq npm)
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
		|| (echo "The staff app (Vite 8) needs Node.js >= 20.19; this is $$(node --version)." >&2; exit 1)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

API_SOURCES := $(shell find tenant_apps shared_apps config -name '*.py' -not -path '*/migrations/*' 2>/dev/null)
build/openapi/tenant.yaml: $(BIN)/.installed $(API_SOURCES)
	@mkdir -p build/openapi
	$(BIN)/python manage.py spectacular --urlconf config.urls_tenant --file $@

FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json \
	-type f -not -name schema.d.ts 2>/dev/null)
build/static/app/index.html: frontend/node_modules/.installed build/openapi/tenant.yaml $(FRONTEND_SOURCES)
	cd frontend && npm run --silent schema && npm run --silent typecheck && npm run --silent build

STATIC_SOURCES := $(shell find tenant_apps shared_apps config/public -path '*/static/*' -type f 2>/dev/null)
var/static/staticfiles.json: $(BIN)/.installed build/static/surveys/respondent.min.js build/static/app/index.html \
		$(STATIC_SOURCES)
	$(BIN)/python manage.py collectstatic --noinput -v 0

assets: var/static/staticfiles.json  ## respondent bundle (esbuild), staff app (typed client, tsc, vite), collectstatic

chromium:  ## Debian's Chromium for the browser tests (Playwright drives it)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

ops-tools:  ## Debian's promtool, nginx, PgBouncer, docker-compose and kubectl for the deployment tests (tests/ops)
	@command -v promtool >/dev/null && command -v nginx >/dev/null && command -v pgbouncer >/dev/null \
		&& command -v docker-compose >/dev/null && command -v openssl >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus nginx pgbouncer docker-compose openssl)
	@command -v kubectl >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client)

bench-tools:  ## Debian's wrk, pgbench and redis-benchmark: the benchmarks' ceilings (and their smoke run in `make test`)
	@command -v wrk >/dev/null && command -v pgbench >/dev/null && command -v redis-benchmark >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postgresql-client redis-tools)

services:  ## start PostgreSQL and Redis if they are down
	@deploy/scripts/ensure-services.sh

db: venv services  ## create database roles and database, migrate every schema (template included)
	$(BIN)/python manage.py setup_database
	$(BIN)/python manage.py migrate --noinput

run: db assets  ## set up everything, create the demo tenant, run web + worker + beat until Ctrl-C
	@mkdir -p var
	$(BIN)/python manage.py vault_dev
	$(BIN)/python manage.py demo_setup
	deploy/scripts/ensure-replica.sh start $(REPLICA_PORT) var/pg-replica
	@echo "Serving on http://demo.localhost:8000/ (platform: http://localhost:8000/api/docs/). Ctrl-C stops all."
	DATABASE_REPLICA_URL=$${DATABASE_REPLICA_URL:-postgres://survey_app@127.0.0.1:$(REPLICA_PORT)/survey} \
		$(BIN)/honcho start -f Procfile.dev

test: venv services assets chromium ops-tools bench-tools  ## run the whole test suite (re-creates the survey_test database) and the JS evaluator's and the staff app's tests
	@mkdir -p var
	node --test tenant_apps/surveys/static/surveys/
	cd frontend && npm test --silent
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/pytest

lint: venv  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv  ## mypy
	$(BIN)/mypy .

check: lint typecheck test  ## everything CI runs

# The scratch database of the benchmarks (re-created by each): BENCH_DB=survey_bench_me keeps parallel runs apart.
BENCH_DB ?= survey_bench
BENCH_DB_ENV = DATABASE_URL=postgres://survey_app@127.0.0.1:5432/$(BENCH_DB) \
	DATABASE_OWNER_URL=postgres://survey_owner@127.0.0.1:5432/$(BENCH_DB) LOG_LEVEL=WARNING

bench-tenants: venv services  ## provisioning benchmark: 50 from the spare pool vs 50 clones vs 10 migrate-based creations
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python manage.py bench_tenants --pool 50 --clones 50 --migrations 10 --migrate-all

bench-auth: venv services  ## cost of authentication + permission check per request (warm/cold cache)
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python manage.py bench_auth

bench-load: venv services bench-tools  ## survey load (gunicorn + wrk) next to its same-run ceiling (bare WSGI JSON), ratio; rule evaluation cost
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python benchmarks/survey_load.py

bench-respondent: venv services bench-tools  ## draft save and submit (gunicorn + wrk) next to wrk/redis-benchmark/pgbench ceilings, ratios; profile
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python benchmarks/respondent.py

bench-pii: venv services  ## submit with 5 PII answers vs the same survey unflagged (same run, real OpenBao): overhead, key cache hit rate
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python benchmarks/pii.py

bench-export: venv services  ## export N (BENCH_EXPORT_ROWS, default 1M) submissions x 20 answers to CSV/XLSX: rows/s, peak RSS, vs COPY
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python benchmarks/export.py

LOCUST_PROFILE ?= Respondent
LOCUST_USERS ?= 50
LOCUST_SPAWN_RATE ?= 10
LOCUST_DURATION ?= 30s
LOCUST_WORKERS ?= 0

loadtest: venv services assets  ## locust (LOCUST_PROFILE=Respondent|HumanRespondent, LOCUST_USERS, LOCUST_WORKERS: master + N workers)
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) LOCUST_PROFILE=$(LOCUST_PROFILE) LOCUST_USERS=$(LOCUST_USERS) LOCUST_SPAWN_RATE=$(LOCUST_SPAWN_RATE) \
		LOCUST_DURATION=$(LOCUST_DURATION) LOCUST_WORKERS=$(LOCUST_WORKERS) $(BIN)/python loadtests/run.py

ANALYTICS_SUBMISSIONS ?= 500000

bench-analytics: venv services  ## analytics: 10 M answers by COPY, API p50/p95/p99 next to hand-written SQL, lag
	$(BENCH_DB_ENV) $(BIN)/python manage.py setup_database --recreate
	$(BENCH_DB_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_DB_ENV) $(BIN)/python manage.py bench_analytics --submissions $(ANALYTICS_SUBMISSIONS)

bench: bench-tenants bench-auth bench-load bench-respondent bench-analytics  ## every benchmark

clean:  ## remove the virtualenv and local state
	rm -rf $(VENV) var
