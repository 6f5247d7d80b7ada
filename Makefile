# One-command setup-and-run targets. Each creates .venv if needed and installs the project with
# the pinned constraints (torch 2.13.0 CPU build; see constraints.txt).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= ../shared
DATA   ?= $(SHARED)/cifar10
CKPT   ?= $(SHARED)/reference/alexnet_cifar10.pt
OUT    ?= artifacts
# What `make demo` (and bench, test-targets) need; `make test`, `lint` and `format` add the test tools.
EXTRAS      ?= export,cpu,openvino
TEST_EXTRAS ?= $(EXTRAS),test

.PHONY: install install-test demo test test-all test-targets bench lint format gpu-check clean

# pip --quiet prints nothing for minutes: a line every 10 s keeps the promise of a piped log.
HEARTBEAT = ( s=0; while sleep 10; do s=$$((s+10)); echo "  still installing ($${s} s)"; done ) & hb=$$!
# setuptools announces every editable install of this layout (top-level folders mapped into the alexnet_edge
# namespace: a meta path finder) with an "Editable installation." warning block that pip shows even with --quiet;
# it warns of a folder named alexnet_edge/ in the working directory, which this repository does not have. Only
# that warning is ignored (PYTHONWARNINGS matches the start of its message), in pip's build-backend process.
PIP_INSTALL = PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -c constraints.txt -e
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "installing: creating $(VENV) ($(PYTHON) -m venv) ..."
	@$(HEARTBEAT); $(PYTHON) -m venv $(VENV); rc=$$?; kill $$hb; exit $$rc
	@echo "installing: pip, then alexnet-edge[$(EXTRAS)] with constraints.txt (torch CPU, onnx, onnxruntime; minutes on a fresh machine) ..."
	@$(HEARTBEAT); $(PY) -m pip install --quiet --upgrade pip && \
		$(PIP_INSTALL) '.[$(EXTRAS)]'; rc=$$?; kill $$hb; exit $$rc
	@echo "installed into $(VENV)"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "installing: alexnet-edge[$(TEST_EXTRAS)] (the test tools: pytest, ruff, ...) ..."
	@$(HEARTBEAT); $(PIP_INSTALL) '.[$(TEST_EXTRAS)]'; rc=$$?; kill $$hb; exit $$rc
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	@if [ -f "$(CKPT)" ] && [ -d "$(DATA)/cifar-10-batches-py" ]; then \
		echo "export-alexnet --fp16 --int8: $(CKPT) on $(DATA), into $(OUT)/ (starting: imports take a few seconds)"; \
		$(VENV)/bin/export-alexnet --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(OUT)" --fp16 --int8; \
	else \
		echo "No reference checkpoint/data at $(SHARED). Run:"; \
		echo "  make demo CKPT=/path/to/state_dict.pt DATA=/folder/holding/cifar-10-batches-py"; \
		found=$$(cd "$(DATA)/cifar-10-batches-py" 2>/dev/null && ls data_batch_[1-5] 2>/dev/null | paste -sd, -); \
		if [ "$$found" = "data_batch_1,data_batch_2,data_batch_3,data_batch_4,data_batch_5" ]; then \
			echo "or train one first (60 epochs): $(VENV)/bin/export-alexnet --data-root $(DATA) --out $(OUT) --fp16 --int8"; \
		elif [ -n "$$found" ]; then \
			echo "or train one on the train batches present ($$found; the reference recipe uses all five):"; \
			echo "  $(VENV)/bin/export-alexnet --data-root $(DATA) --train-batches $$found --out $(OUT) --fp16 --int8"; \
		else \
			echo "or, to train one first, put CIFAR-10's data_batch_1..5 in DATA/cifar-10-batches-py"; \
		fi; \
		exit 2; \
	fi

# Default test run (excludes @slow). pytest exits 5 when nothing was collected: that is a failure here.
test: install-test
	@$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; exit 1; fi; exit $$rc

test-all: install-test
	$(PY) -m pytest -q -m "slow or not slow"

# Cross-target fidelity (not part of `make test`): fresh models from the reference checkpoint, then
# the host natively, x86-64 AVX2 and SSE4.2, aarch64 Cortex-A76 and A72 under qemu-user (about 20 min;
# the first run also builds an arm64 userland in ~/.cache/alexnet-edge/targets). docs/targets.md.
TARGET_MODELS ?= $(OUT)/targets-models
# Every (CPU, onnxruntime) pair that is proven: each CPU on the host's (newest) onnxruntime and on the
# oldest pyproject.toml allows, aarch64 also on JetPack 6's (docs/targets.md).
ORT_OLDEST   ?= 1.21.1
ORT_JETPACK6 ?= 1.23.2
TARGET_PAIRS ?= host x86-avx2 x86-sse aarch64 aarch64-a72 \
	host@$(ORT_OLDEST) x86-avx2@$(ORT_OLDEST) x86-sse@$(ORT_OLDEST) aarch64@$(ORT_OLDEST) aarch64-a72@$(ORT_OLDEST) \
	aarch64@$(ORT_JETPACK6)
test-targets: install
	$(VENV)/bin/export-alexnet --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(TARGET_MODELS)" \
		--fp16 --int8 --precision int4w --eval-size 1000 --no-bench --no-engines --quiet > /dev/null
	$(VENV)/bin/alexnet-targets --models "$(TARGET_MODELS)" --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(OUT)/targets" \
		$(foreach t,$(TARGET_PAIRS),--target $(t))

# ruff is pinned in constraints.txt: formatting must not change with the ruff release.
lint: install-test
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Our best CPU runtime (onnxruntime or OpenVINO) against onnxruntime alone and PyTorch, written into
# docs/performance.md; then the onnxruntime speed goals.
bench: install
	$(PY) benchmarks/backend_ratios.py --checkpoint "$(CKPT)" --data-root "$(DATA)"
	$(PY) benchmarks/cpu_ratios.py --checkpoint "$(CKPT)" --data-root "$(DATA)"

# On a machine with an NVIDIA GPU: everything real it can run, in < 5 min (tools/gpu_check.py). No network and no
# install: it uses $(PY) where the venv exists, else $(PYTHON). Models for the TensorRT/onnxruntime parts come from
# `make demo` ($(OUT)/model.*.onnx). Without a GPU it exits 2 in one line.
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
gpu-check:
	$(GPU_PY) tools/gpu_check.py --out "$(OUT)/gpu-check" --models "$(OUT)" --shared "$(SHARED)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
