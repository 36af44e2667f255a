#!/usr/bin/env bash
# GPU benchmark suite (issue 15, item 4): at most 8 minutes on one H100/H200.
#
#   bench/gpu_suite.sh                 # the four figures (needs a CUDA GPU; else exit 2)
#   bench/gpu_suite.sh --smoke         # every part on the CPU at toy sizes (GPU_SUITE_SMOKE=1 too)
#   bench/gpu_suite.sh --parts gssm filter
#
# Prints progress on stderr, then a table and one JSON line on stdout; with OUT set, also
# $OUT/gpu_suite.json and the whole log in $OUT/gpu_suite.log. Python: $PYTHON, else the
# project's .venv, else python3. What each part measures: bench/gpu_suite.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-}
if [[ -z $PY ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# Everything the suite uses is built locally; offline, nothing waits on a network.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} HF_DATASETS_OFFLINE=${HF_DATASETS_OFFLINE:-1}

if [[ -n ${OUT:-} ]]; then
    mkdir -p "$OUT"
    # stderr through tee into the log; stdout (the table and JSON) straight through.
    { "$PY" bench/gpu_suite.py "$@" 2>&1 1>&3 3>&- | tee "$OUT/gpu_suite.log" >&2 3>&-; } 3>&1
else
    exec "$PY" bench/gpu_suite.py "$@"
fi
