#!/usr/bin/env sh
# Run the ser-live benchmarks (python -m benchmarks) with the project's virtual environment.
#   benchmarks/run.sh                      full run (~20 min, 2 h soak included): bench-results/bench-full-*.json|md
#   benchmarks/run.sh --quick              a few minutes
#   benchmarks/run.sh --only processing    one section (processing, listen, startup, throughput, soak)
#   benchmarks/run.sh --help               every option (sections, sizes, --data, --model)
# The Markdown report is printed on stdout; progress goes to stderr.
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
exec "$PY" -m benchmarks "$@"
