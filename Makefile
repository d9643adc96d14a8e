# Two commands matter to a new user: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
# pyenv shims resolve python3.13 only when it is among the selected versions.
export PYENV_VERSION ?= 3.13.0:3.12.1:3.11.7
PYTHON ?= python3.13
VENV := .venv
SAM_VENV := .venv-sam
PORT ?= 3000
export PORT

.PHONY: run test lint sam-build cfn-lint check clean openapi bench bench-scale bench-bulk bench-fleet reliability

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt layers/scim/requirements.txt client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# newman, which runs Microsoft's SCIM validation collection in the end-to-end tests, as package-lock.json pins it.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/python -m local.run

test: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/python -m pytest

# lint-imports keeps the package's arrows pointing down (the contracts in pyproject.toml).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=layers/shared $(VENV)/bin/lint-imports

# sam build resolves python3.13 from PATH; the project venv provides it. Then every function must
# import from its build alone, as Lambda runs it.
sam-build: $(SAM_VENV)/.installed $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam build --template-file template.yaml
	$(VENV)/bin/python -m local.check_build
	$(SAM_VENV)/bin/sam validate --lint --template-file template.yaml --region us-east-1

cfn-lint: $(VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml

# Regenerate docs/openapi.json from the routes and models (a test fails when it is stale).
openapi: $(VENV)/.installed
	PYTHONPATH=layers/shared:functions/http_api $(VENV)/bin/python -m local.export_openapi

check: test lint sam-build cfn-lint

clean:
	rm -rf $(VENV) $(SAM_VENV) node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# Cold start (Lambda's CPU modeled), per-request cost and memory size against the fair baseline
# (and the old careful one, for one release), the package per function, then the tracing options;
# writes bench/results.json and bench/tracing_results.json.
bench: sam-build
	$(VENV)/bin/python -m bench.run_bench
	$(VENV)/bin/python -m bench.tracing_options

# What a listing page and a create cost as the data grows (1k/10k/100k records, 5/50/500
# profiles), counted rather than timed; prints the tables and writes bench/scale.json.
bench-scale: $(VENV)/.installed
	$(VENV)/bin/python -m bench.scale

# Every fault scenario and the fault, SSM, concurrency and fuzz suites, as one table (reliability/README.md).
reliability: $(VENV)/.installed
	PYTHONPATH=layers/shared:functions/http_api $(VENV)/bin/python -m reliability.report

# Bulk onboarding through the local stack (moto + LambdaBridge + the emulator behind a 50 ms proxy)
# at max_concurrency 1, 4 and 16; prints the table and writes bench/bulk_results.json.
bench-bulk: $(VENV)/.installed
	$(VENV)/bin/python -m bench.bulk

# A profile rollout over 1,000 endpoints and a fleet audit through the local stack (moto + LambdaBridge
# + the emulator): SignalWire calls per drifted and per unchanged endpoint, list calls per audit;
# prints the table and writes bench/fleet_results.json.
bench-fleet: $(VENV)/.installed
	$(VENV)/bin/python -m bench.fleet
