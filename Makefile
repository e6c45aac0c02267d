# The two set-up commands of the README: `make run` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test index eval bench clean-index lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch is pinned to the CPU wheel on this machine's disk (pyproject.toml); test extras included.
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, build the index if missing or stale, start the web app on 127.0.0.1:7860
run: $(STAMP)
	$(BIN)/policy-assistant index
	$(BIN)/python app.py

## test: install with test extras and run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

index: $(STAMP)
	$(BIN)/policy-assistant index

## eval: run the gold QA set with both tutorial baselines into evals/runs/<timestamp>/ (report.md, report.html)
eval: $(STAMP)
	$(BIN)/policy-assistant eval evals/qa.jsonl --baseline --floors evals/floors.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)

## bench: measure build, cold start, latency and scale (1k/10k/50k clauses) into bench/results.json and
## docs/performance.md; takes about half an hour. BENCH_ARGS=--quick for a smoke run, --sizes 1000,10000 for fewer sizes
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +

lint: $(STAMP)
	$(BIN)/python -m ruff check assistant tests app.py
