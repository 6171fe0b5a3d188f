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
# --- Cortex-M4 board on QEMU (firmware/mps2_an386, kws/device/m4.py): Arm cross compiler, newlib, QEMU.
# System packages, not Python ones: installed with apt-get when running as root, otherwise a hint only.
# Never fatal: only the M4 tests need them (they skip without them, and fail in CI where they must exist).
m4_missing=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || m4_missing+=(gcc-arm-none-eabi)
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1 || [[ "$(arm-none-eabi-gcc -print-file-name=nano.specs)" != /* ]]; then
  m4_missing+=(libnewlib-arm-none-eabi)
fi
command -v qemu-system-arm >/dev/null 2>&1 || m4_missing+=(qemu-system-arm)
if [ ${#m4_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${m4_missing[*]} (the Cortex-M4 board on QEMU)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${m4_missing[@]}" >/dev/null; }; then
      echo "setup: warning: apt-get could not install ${m4_missing[*]}; the M4 tests will skip" >&2
    fi
  else
    echo "setup: the Cortex-M4 board on QEMU needs ${m4_missing[*]}; install with:" >&2
    echo "  sudo apt-get install -y ${m4_missing[*]}" >&2
  fi
fi
# --- end of the Cortex-M4 block.
# --- Recorded-voice text-to-speech for the synthetic set: CMU Flite (synth.flite_speakers, used by demo.toml
# and the real-voices configs) and Festival's English voices (synth.festival_speakers). Debian main, free
# licences (kws/data/flite.py, kws/data/festival.py). Never fatal here: a config that needs one says what
# to install when it runs; in CI their tests fail without them.
tts_missing=()
command -v flite >/dev/null 2>&1 || tts_missing+=(flite)
command -v text2wave >/dev/null 2>&1 || tts_missing+=(festival)
for voice in festvox-kallpc16k:kal_diphone festvox-kdlpc16k:ked_diphone festvox-us-slt-hts:cmu_us_slt_arctic_hts; do
  ls -d /usr/share/festival/voices/*/"${voice#*:}" >/dev/null 2>&1 || tts_missing+=("${voice%%:*}")
done
if [ ${#tts_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${tts_missing[*]} (the recorded-voice speakers of the synthetic set)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tts_missing[@]}" >/dev/null; }; then
      echo "setup: warning: apt-get could not install ${tts_missing[*]}; synth.flite_speakers / festival_speakers > 0 need them" >&2
    fi
  else
    echo "setup: synth.flite_speakers / festival_speakers > 0 (make demo uses flite) need ${tts_missing[*]};" >&2
    echo "  install with: sudo apt-get install -y ${tts_missing[*]}" >&2
  fi
fi
"$VENV/bin/python" - <<'PY'
import torch
assert torch.__version__.startswith("2.13.0"), f"unexpected torch {torch.__version__}"
print(f"setup: ok (torch {torch.__version__})")
PY
