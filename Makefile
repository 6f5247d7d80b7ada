# One-command setup-and-run targets. Each creates .venv if needed and installs the project with
# the pinned constraints (torch 2.13.0 CPU build; see constraints.txt).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= ../shared
DATA   ?= $(SHARED)/cifar10
CKPT   ?= $(SHARED)/reference/alexnet_cifar10.pt
OUT    ?= artifacts
EXTRAS ?= export,cpu,test

.PHONY: install demo test test-all test-targets bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

demo: install
	@if [ -f "$(CKPT)" ] && [ -d "$(DATA)/cifar-10-batches-py" ]; then \
		$(VENV)/bin/export-alexnet --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(OUT)" --fp16 --int8; \
	else \
		echo "No reference checkpoint/data at $(SHARED). Run:"; \
		echo "  make demo CKPT=/path/to/state_dict.pt DATA=/folder/holding/cifar-10-batches-py"; \
		echo "or train first: $(VENV)/bin/export-alexnet --data-root DATA --epochs 60"; \
		exit 2; \
	fi

# Default test run (excludes @slow). pytest exits 5 when nothing was collected: that is a failure here.
test: install
	@$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; exit 1; fi; exit $$rc

test-all: install
	$(PY) -m pytest -q -m "slow or not slow"

# Cross-target fidelity (not part of `make test`): fresh models from the reference checkpoint, then
# the host natively, x86-64 AVX2 without VNNI and aarch64 Cortex-A76 under qemu-user (about 15 min;
# the first run also builds an arm64 userland in ~/.cache/alexnet-edge/targets). docs/targets.md.
TARGET_MODELS ?= $(OUT)/targets-models
test-targets: install
	$(VENV)/bin/export-alexnet --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(TARGET_MODELS)" \
		--fp16 --int8 --eval-size 1000 --no-bench --no-engines --quiet > /dev/null
	$(VENV)/bin/alexnet-targets --models "$(TARGET_MODELS)" --checkpoint "$(CKPT)" --data-root "$(DATA)" --out "$(OUT)/targets"

bench: install
	$(PY) benchmarks/cpu_ratios.py --checkpoint "$(CKPT)" --data-root "$(DATA)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
