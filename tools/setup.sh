#!/usr/bin/env bash
# Create .venv and install the pinned toolchain. Run by `make setup` (a prerequisite of every target).
#
#   bash tools/setup.sh            # or: make setup
#
# Every install goes through tools/constraints.txt: it pins torch to the local CPU wheel (any other
# torch pulls gigabytes of CUDA packages) and the rest to the versions this project was tested with.
# onnx2tf and tf-keras go in with --no-deps because their own pins would replace torch/TF/numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  py=$(pick_python) || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2; exit 1; }
  echo "setup: creating $VENV with $py"
  "$py" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
echo "setup: installing pinned dependencies (first run takes a few minutes)"
"${pip[@]}" install --quiet -c tools/constraints.txt -r tools/requirements.txt
"${pip[@]}" install --quiet --no-deps -c tools/constraints.txt -r tools/requirements-nodeps.txt
"${pip[@]}" install --quiet --no-deps --no-build-isolation -e .
"$VENV/bin/python" - <<'PY'
import torch
assert torch.__version__.startswith("2.13.0"), f"unexpected torch {torch.__version__}"
print(f"setup: ok (torch {torch.__version__})")
PY
