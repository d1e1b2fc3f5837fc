#!/usr/bin/env sh
# Run the ser-live benchmarks (issue 4) with the project's virtual environment.
#   benchmarks/run.sh            full run (~12 min): bench-results/bench-full-*.json|md
#   benchmarks/run.sh --quick    about a minute and a half
#   benchmarks/run.sh --help     every option (sections, sizes, --data, --model)
# The Markdown table is printed on stdout; progress goes to stderr.
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
exec "$PY" -m ser_live.bench "$@"
