# deeplog-mc: every command a user or CI needs. `make pipeline` and `make test` set up .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# extra arguments for `deeplog-mc run`, e.g. make pipeline ARGS="-p dataset hdfs --name hdfs"
ARGS ?=

.PHONY: help venv browser pipeline test sync-check nbtest pytest lab bench export clean-runs wheel-check readme constraints

help:
	@echo "make pipeline   set up .venv, run the whole pipeline on the default (synthetic) data into runs/<timestamp>"
	@echo "make test       set up .venv (and Chromium for the browser tests), check notebooks/package sync, run every notebook and every test"
	@echo "make lab        JupyterLab on the project"
	@echo "make bench      deeplog-mc bench on HDFS, writing bench/bench.json"
	@echo "make export     nbdev_clean + nbdev_export (after editing notebooks)"
	@echo "make wheel-check build the wheel, install it in a clean venv, run the quick pipeline outside the checkout"
	@echo "make readme     derive results/targets.json, fill README's study tables from results/*.json"
	@echo "make constraints pin every dependency (constraints.txt) at the versions of .venv"

# torch first, from the local CPU wheel: a plain `torch` requirement would pull a multi-GB CUDA build
$(STAMP): setup.py settings.ini constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# pin every dependency at the versions of the current .venv (after changing requirements in settings.ini)
constraints: venv
	{ echo "# Exact versions of every dependency, so that two fresh installs give the same figures for the same seed."; \
	  echo "# The Makefile installs with -c constraints.txt. Refresh after changing requirements: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch=='; } > constraints.txt

venv: $(STAMP)

pipeline: venv
	$(BIN)/deeplog-mc run $(ARGS)

test: venv browser sync-check nbtest pytest

# headless Chromium and its WebDriver for the browser tests (Debian packages, installed as root when missing)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing chromium and chromium-driver (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium chromium-driver fonts-dejavu-core >/dev/null; \
	  else echo "FAIL: the browser tests need Chromium: sudo apt-get install chromium chromium-driver"; exit 1; fi; }

# nbdev_clean + nbdev_export must not change anything: notebooks and deeplog_mc/ agree.
# In CI (a fresh clone) the tree must also be clean afterwards.
sync-check: venv
	@before="$$(git status --porcelain; git diff | md5sum)"; \
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export; \
	after="$$(git status --porcelain; git diff | md5sum)"; \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_clean/nbdev_export changed files: notebooks and deeplog_mc/ disagree"; git status --porcelain; exit 1; fi; \
	if [ -n "$$CI" ] && [ -n "$$(git status --porcelain)" ]; then echo "FAIL: git status --porcelain not empty after nbdev_clean + nbdev_export"; git status --porcelain; exit 1; fi; \
	echo "sync-check: notebooks and package agree"

# tests train tiny models: one torch thread each, so that a busy 2-core machine does not make threads spin
nbtest: venv
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing

pytest: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests --durations=10

lab: venv
	$(BIN)/jupyter lab --no-browser --allow-root --notebook-dir=.

bench: venv
	$(BIN)/deeplog-mc bench --out bench/bench.json $(ARGS)

export: venv
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export

# the installed package runs its own pipeline: wheel -> clean venv -> quick run in an empty folder
wheel-check: venv
	rm -rf /tmp/deeplog-mc-wheel && mkdir -p /tmp/deeplog-mc-wheel/dist /tmp/deeplog-mc-wheel/work
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir /tmp/deeplog-mc-wheel/dist .
	$(PYTHON) -m venv /tmp/deeplog-mc-wheel/venv
	/tmp/deeplog-mc-wheel/venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	/tmp/deeplog-mc-wheel/venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt /tmp/deeplog-mc-wheel/dist/*.whl
	cd /tmp/deeplog-mc-wheel/work && /tmp/deeplog-mc-wheel/venv/bin/deeplog-mc run --preset quick --name quick
	test -f /tmp/deeplog-mc-wheel/work/runs/quick/models/multiclass_model.pt && test -f /tmp/deeplog-mc-wheel/work/runs/quick/report.html

readme: venv
	$(BIN)/deeplog-mc readme

clean-runs:
	rm -rf runs
