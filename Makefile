# The two commands of the README: `make demo` (the main job) and `make test` (the test suite).
# Both set up .venv on first use (scripts/setup.sh). Data are read from DATA_ROOT, never copied.
PY        := .venv/bin/python
DATA_ROOT ?= $(abspath ../shared/data)
RUN       ?= runs/demo
export FTGEO_DATA_ROOT ?= $(DATA_ROOT)

.PHONY: setup demo test test-slow bench bench-gpu clean-venv
setup: .venv/.ftgeo-setup

.venv/.ftgeo-setup: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

demo: setup
	$(PY) -m ftgeo.cli.main demo --data-root $(DATA_ROOT) --run $(RUN)

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]  # exit 5 = no slow test selected

bench: setup
	for b in bench/*.py; do [ $$b = bench/gpu.py ] || $(PY) $$b || exit 1; done

bench-gpu:  # on a machine with a CUDA GPU: prints one JSON object (bench/gpu.py)
	PYTHON=$(PY) bash bench/gpu.sh

clean-venv:
	rm -rf .venv
