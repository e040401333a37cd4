# Företagslotsen. `make run` sets everything up and starts the services; `make test` tests it all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SPACY_STAMP := models/spacy-sv/lotsen-build.json

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv spacy migrate seed model setup run test lint check-knowledge clean widget audit

help:
	@echo "make run    set up (venv, spaCy pipeline, database, demo data, model) and start all services"
	@echo "make test   run lint, type checks and the whole test suite"
	@echo "make lint   ruff + mypy only"
	@echo "make audit  pip-audit of the installed dependencies (needs the network)"
	@echo "make bench the benchmarks of issue 7 (quick; BENCH_ARGS=--full for MASSIVE and 100 users)"

$(VENV)/.installed: pyproject.toml
	@PYTHON310=$$(scripts/find-python310) || exit 1; \
	  [ -x $(PY) ] || $$PYTHON310 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed

$(SPACY_STAMP): $(VENV)/.installed bot/spacy_sv.py
	$(PY) -m bot.cli build-spacy

spacy: $(SPACY_STAMP)

migrate: venv
	$(PY) -m bot.cli migrate

seed: migrate
	$(PY) -m bot.cli seed-demo

check-knowledge: venv
	$(PY) -m bot.cli check-knowledge

# The model registry decides what Rasa serves: models/active.tar.gz (docs/retraining.md). This
# trains (and activates, unless a trainer chose another model) only when no active model was
# trained from the current config, domain and data.
model: spacy migrate
	$(PY) -m bot.cli train --if-changed

var/rasa-api-token:
	@mkdir -p var && umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(32))" > $@

setup: venv spacy check-knowledge seed model var/rasa-api-token

run: setup
	@echo ""
	@echo "  Demo municipal page with the chat widget: http://localhost:8000"
	@echo "  Officials' app:                           http://localhost:8000/handlaggare"
	@echo "    (first admin: .venv/bin/lotsen create-admin --email you@kommun.se --name 'Namn')"
	@echo "  Rasa server (REST, socket.io):            http://localhost:5005  (REST: /webhooks/rest/webhook)"
	@echo "  Action server (localhost only):           http://127.0.0.1:5055"
	@echo "  Ctrl-C stops them all."
	@echo ""
	RASA_API_TOKEN=$$(cat var/rasa-api-token) PYTHONWARNINGS=ignore::DeprecationWarning \
	  $(BIN)/honcho start -f Procfile

lint: venv
	$(BIN)/ruff check bot actions tests bench
	$(BIN)/mypy bot actions

test: venv spacy lint
	$(BIN)/pytest -ra

# The chat widget: widget/src bundled by esbuild (socket.io-client from npm) into
# bot/web/static/widget/. The built files are committed, so `make run` needs no Node.js.
widget:
	cd widget && npm ci --no-audit --no-fund && npm run build

# Dependency audit (docs/security.md): pip-audit from its own throwaway venv, so the project's
# pinned environment is not changed, over every package installed in .venv. Needs the network
# (PyPI's JSON API, or AUDIT_SERVICE=osv); --strict fails when a package cannot be checked
# instead of reporting "no known vulnerabilities". Not part of `make test`.
AUDIT_VENV ?= $(or $(TMPDIR),/tmp)/lotsen-audit-venv
AUDIT_SERVICE ?= pypi

audit: venv
	@[ -x $(AUDIT_VENV)/bin/pip-audit ] || { $(PY) -m venv $(AUDIT_VENV) && \
	  $(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1; }
	$(AUDIT_VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off --desc on \
	  --vulnerability-service $(AUDIT_SERVICE) \
	  --path $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

clean:
	rm -rf $(VENV) var/*.db var/trainings models/*.tar.gz models/spacy-sv results

# The production profile on this machine (PostgreSQL, Redis, 2 Rasa, 2 action servers, nginx):
# see deploy/README.md and docs/operations.md. PORT sets nginx's public port.
.PHONY: run-prod
run-prod: venv spacy model
	scripts/run-prod --port $${PORT:-8080}

# Benchmarks of issue 7, each printing a Markdown table (docs/benchmarks.md, bench/RESULTS.md).
# Quick, about 30 min on an idle 2-core machine: business NLU (project, Rasa default, linear
# SVM), 1 and 20 concurrent users for 20 s beside the stock assistant (the project in one
# process and with two Sanic workers on Redis's lock store), retrain to live.
# `make bench BENCH_ARGS=--full`: MASSIVE sv-SE with real epochs, 100 users and the production
# profile too (hours). Redis, PostgreSQL and nginx come from Debian (.ci/services).
.PHONY: bench
bench: venv spacy
	bash .ci/services
	nice -n 10 $(PY) bench/run_all.py $(BENCH_ARGS)
