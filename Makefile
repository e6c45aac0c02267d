# The two set-up commands of the README: `make run` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast index eval eval-stard bench clean-index lint chromium

# The browser tests drive Debian's chromium through playwright; playwright never downloads a browser.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

TEST_STAMP := $(VENV)/.installed-test
# The multi-document corpus of the evals: the seed beside the real documents, read in place, with its own index.
MULTI := --corpus corpus --corpus ../shared/realdocs/policy --index-dir index-multi

# The app needs the core dependencies only; torch and sentence-transformers ([st]) and the LLM clients
# ([llm]) are extras. The tests install them too ([test] includes both; torch is pinned to the CPU wheel).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

## run: install, build the index if missing or stale, start the web app on 127.0.0.1:7860
run: $(STAMP)
	$(BIN)/policy-assistant index
	$(BIN)/python app.py

## chromium: install Debian's headless chromium (and CJK and emoji fonts, so screenshots show Chinese
## and the 👍/👎 buttons) for the browser tests, only when missing
chromium:
	@test -x $(CHROMIUM) -a -e $(CJK_FONT) -a -e $(EMOJI_FONT) || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		echo "installing chromium, fonts-wqy-microhei and fonts-noto-color-emoji (apt-get)"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-wqy-microhei fonts-noto-color-emoji >/dev/null; \
	}

## test: install with test extras and chromium, and run the whole test suite
test: $(TEST_STAMP) chromium
	$(BIN)/python -m pytest

## test-fast: the unit tests only (no built index, server, browser or subprocess): seconds, for the edit loop
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not integration" -q

index: $(STAMP)
	$(BIN)/policy-assistant index

## eval: run the gold QA set with both tutorial baselines into evals/runs/<timestamp>/ (report.md, report.html),
## then qa_multi.jsonl, qa.jsonl, the answer-shape set qa_answer.jsonl and the matching set match.jsonl on the
## multi-document corpus (seed + ../shared/realdocs/policy;
## index in index-multi/)
eval: $(STAMP)
	$(BIN)/policy-assistant eval evals/qa.jsonl --baseline --floors evals/floors.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)
	$(BIN)/policy-assistant $(MULTI) eval evals/qa_multi.jsonl --floors evals/floors_multi.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)-multi
	$(BIN)/policy-assistant $(MULTI) eval evals/qa.jsonl --region 临夏州 --floors evals/floors_multi_qa.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)-multi-qa
	$(BIN)/policy-assistant $(MULTI) eval evals/qa_answer.jsonl --region 临夏州 --floors evals/floors_answer.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)-answer
	$(BIN)/policy-assistant $(MULTI) eval evals/match.jsonl --floors evals/floors_match.toml \
		--out evals/runs/$$(date +%Y%m%d-%H%M%S)-match
	$(MAKE) eval-stard

## eval-stard: STARD's real layperson questions (../shared/benchmarks/stard) on the laws with STARD's BM25 in
## the same run: the 3,496 laws with USE alone (index-laws/, minutes to build once) and the laws deployment's
## kind bonus (evals/kind_prior_laws.txt, calibrated on STARD's dev part by evals/kind_prior.py), then e5 with
## USE on the laws STARD cites plus as many others (copied to $(STARD_SUBSET); index-laws-subset/, ~1 h to build)
STARD := ../shared/benchmarks/stard/train.jsonl
LAWS := ../shared/realdocs/laws
STARD_SUBSET ?= /tmp/policy-laws-subset
eval-stard: $(STAMP)
	@if [ ! -f $(STARD) ] || [ ! -d $(LAWS) ]; then echo "STARD eval skipped: $(STARD) or $(LAWS) not found"; exit 0; fi; \
	POLICY_ENCODER=use-multilingual POLICY_KIND_PRIOR="$$(cat evals/kind_prior_laws.txt)" \
		$(BIN)/policy-assistant --corpus $(LAWS) --index-dir index-laws eval $(STARD) \
		--region 临夏州 --out evals/runs/$$(date +%Y%m%d-%H%M%S)-stard && \
	$(BIN)/python evals/stard_subset.py $(STARD_SUBSET) && \
	POLICY_ENCODER=use-multilingual+e5 $(BIN)/policy-assistant --corpus $(STARD_SUBSET) --index-dir index-laws-subset \
		eval $(STARD) --region 临夏州 --out evals/runs/$$(date +%Y%m%d-%H%M%S)-stard-subset

## bench: measure build, cold start, latency and scale (1k/10k/50k clauses, then the 3,496 real laws of
## ../shared/realdocs/laws when present) into bench/results.json and docs/performance.md; takes about an hour.
## BENCH_ARGS=--quick for a smoke run, --sizes 1000,10000 for fewer sizes, --laws only|skip for the real-scale point
bench: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +

lint: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	$(BIN)/python -m ruff check assistant tests bench app.py
	$(BIN)/python -m mypy
