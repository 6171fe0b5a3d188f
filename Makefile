# The pipeline as file targets over runs/<RUN>/ (see ../shared/DESIGN.md).
#
#   make demo        # whole pipeline on the offline synthetic set (what exists so far), writes runs/demo/
#   make test        # the test suite
#   make bench       # benchmarks that print their figures
#
# Every target depends on `setup`, which creates .venv with the pinned toolchain (once; re-run only
# when the dependency lists change).

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KWS := $(VENV)/bin/kws
STAMP := $(VENV)/.setup-stamp
RUN ?= demo
CONFIG ?= kws/configs/demo.toml
RUN_DIR := runs/$(RUN)
SYNTH_DIR ?= data/synth
PYTEST_ARGS ?=

QUANT ?= ptq
# Checkpoint `make export` converts: float (post-training quantization), ptq, qat or pruned. A run made by
# `kws search pick` keeps the checkpoint its trial exported (search_trial.json's export_source).
EXPORT_FROM ?= $(or $(shell sed -n 's/^ *"export_source": "\([a-z]*\)".*/\1/p' $(RUN_DIR)/search_trial.json 2>/dev/null),float)
# The dataset the run trains on must exist first; for the demo config that is the synthetic set.
DATA_READY ?= $(SYNTH_DIR)/manifest.json

.PHONY: setup lint test demo bench bench-real bench-compile bench-board data stats train quantize prune models export clean distclean help FORCE

help:
	@echo "make demo | make test | make bench"
	@echo "make data | make stats | make train | make quantize [QUANT=ptq|qat] | make prune | make models"
	@echo "make export [EXPORT_FROM=float|ptq|qat|pruned]"
	@echo "variables: RUN=$(RUN) CONFIG=$(CONFIG) QUANT=$(QUANT) SYNTH_DIR=$(SYNTH_DIR)"

$(STAMP): tools/setup.sh tools/requirements.txt tools/requirements-nodeps.txt tools/constraints.txt pyproject.toml
	bash tools/setup.sh
	touch $@

setup: $(STAMP)

# The house's walls first (seconds): ruff (style, complexity, length) and the import rules (tools/import_rules.py).
lint: setup
	$(PY) -m ruff check kws export tools tests
	$(PY) tools/import_rules.py

test: setup lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) tools/bench_frontend.py
	$(PY) tools/bench_train.py

# The compiler: instructions per MAC under QEMU per model and layer, flash, RAM vs TFLM's arena (~2 min).
bench-compile: setup
	$(PY) tools/bench_compile.py

# The whole firmware on the Cortex-M4 board: flash/RAM by kind, instructions per inference and per frontend frame
# against a 20 ms hop at 64 MHz, vs the TFLM micro_speech sketch (~1 min; tiny_conv, DS-CNN, MLPerf Tiny DS-CNN).
bench-board: setup
	$(PY) tools/bench_board.py

# The run's int8 model on every real clip of ../shared/data/sc-real-dev (both label mappings; never trained on).
bench-real: setup $(RUN_DIR)/export/parity.json
	$(PY) tools/bench_real.py --run $(RUN)

# The synthetic dataset is written atomically; its manifest is the last thing to appear. It is rebuilt when the
# config (its [synth] section says what the set holds) is newer.
$(SYNTH_DIR)/manifest.json: $(CONFIG) | $(STAMP)
	$(KWS) data synth --config $(CONFIG) --out $(SYNTH_DIR) --replace

data: setup $(SYNTH_DIR)/manifest.json

stats: data
	$(KWS) data stats --config $(CONFIG) --data $(SYNTH_DIR)

$(RUN_DIR)/config.toml: $(CONFIG) | $(STAMP)
	$(KWS) config show --config $(CONFIG) --run $(RUN) > /dev/null

# Training resumes from runs/<run>/checkpoints/last.pt if it was interrupted, and starts over when the
# dataset changed since (new data is why make runs this rule again).
$(RUN_DIR)/model_float.pt: $(RUN_DIR)/config.toml $(DATA_READY)
	$(KWS) train --config $(RUN_DIR)/config.toml --run $(RUN) --data-changed restart

$(RUN_DIR)/model_ptq.pt $(RUN_DIR)/model_qat.pt: $(RUN_DIR)/model_%.pt: $(RUN_DIR)/model_float.pt
	$(KWS) quantize --config $(RUN_DIR)/config.toml --run $(RUN) --method $*

$(RUN_DIR)/model_pruned.pt: $(RUN_DIR)/model_float.pt
	$(KWS) prune --config $(RUN_DIR)/config.toml --run $(RUN)

train: setup $(RUN_DIR)/model_float.pt
quantize: setup $(RUN_DIR)/model_$(QUANT).pt
prune: setup $(RUN_DIR)/model_pruned.pt

# The export folder is replaced as a whole (parity.json inside it names its source); re-export when
# the checkpoint or config changed, or when EXPORT_FROM differs from the recorded source.
EXPORT_STALE := $(shell grep -qs '"source": "$(EXPORT_FROM)"' $(RUN_DIR)/export/parity.json || echo FORCE)
$(RUN_DIR)/export/parity.json: $(RUN_DIR)/model_$(EXPORT_FROM).pt $(RUN_DIR)/config.toml $(EXPORT_STALE)
	$(KWS) export --config $(RUN_DIR)/config.toml --run $(RUN) --from $(EXPORT_FROM)

export: setup $(RUN_DIR)/export/parity.json

FORCE:

models: setup
	$(KWS) models --config $(CONFIG)

$(RUN_DIR)/frontend/kws_frontend_tables.h: $(RUN_DIR)/config.toml
	$(KWS) frontend tables --config $(RUN_DIR)/config.toml --out $(RUN_DIR)/frontend

$(RUN_DIR)/features.png: $(RUN_DIR)/config.toml $(SYNTH_DIR)/manifest.json
	$(KWS) features --config $(RUN_DIR)/config.toml "$$(ls $(SYNTH_DIR)/yes/*.wav | head -n 1)" --png $@

# ------------------------------------------------------------------------------------------ evaluation
# On the board at PORT; without one, the clips go to the Cortex-M4 board on QEMU (the whole firmware with the
# compiled model: instruction counts and the linker's sizes for the report) when the ARM toolchain and QEMU are
# installed (make setup installs them as root), else to the host board. EVAL_BOARD=host|m4 chooses. The labelled
# stream always uses the host board without a PORT: QEMU's UART carries ~20 KB/s, slower than 16 kHz audio.
STREAM_MINUTES ?= 10
HAVE_M4 := $(shell command -v arm-none-eabi-gcc >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null 2>&1 && echo yes)
EVAL_BOARD ?= $(if $(HAVE_M4),m4,host)
EVAL_WHERE = $(if $(PORT),--port $(PORT),--board $(EVAL_BOARD))
STREAM_WHERE = $(if $(PORT),--port $(PORT),--emulate)

$(RUN_DIR)/eval/summary.json: $(RUN_DIR)/export/parity.json
	$(KWS) eval --run $(RUN) $(EVAL_WHERE) $(EVAL_EXTRA)

$(RUN_DIR)/eval/stream/summary.json: $(RUN_DIR)/export/parity.json
	$(KWS) eval --run $(RUN) $(STREAM_WHERE) --stream --minutes $(STREAM_MINUTES)

$(RUN_DIR)/deploy.toml: $(RUN_DIR)/eval/stream/summary.json
	$(KWS) calibrate --run $(RUN)

# Real speech for the report when this machine has the real test set (a fresh user's machine may not: the report
# then says so, and --strict does not fail on it).
SHARED_REAL ?= $(wildcard ../shared/data/sc-real-dev)
$(RUN_DIR)/eval/real.json: $(RUN_DIR)/export/parity.json
	$(PY) tools/bench_real.py --run $(RUN) --data $(SHARED_REAL)

REPORT_INPUTS := $(RUN_DIR)/model_float.pt $(RUN_DIR)/model_ptq.pt $(RUN_DIR)/model_qat.pt \
                 $(RUN_DIR)/export/parity.json $(RUN_DIR)/eval/summary.json $(RUN_DIR)/deploy.toml \
                 $(if $(SHARED_REAL),$(RUN_DIR)/eval/real.json)
$(RUN_DIR)/report/report.html: $(REPORT_INPUTS)
	$(KWS) report --run $(RUN) --strict

.PHONY: eval stream calibrate report
eval: setup $(RUN_DIR)/eval/summary.json
stream: setup $(RUN_DIR)/eval/stream/summary.json
calibrate: setup $(RUN_DIR)/deploy.toml
report: setup $(RUN_DIR)/report/report.html

# The whole pipeline on the offline synthetic set, no network and no board: synthesise, train, quantize,
# export, evaluate on the emulated board over serial (clips and a stream), calibrate, report.
demo: STREAM_MINUTES = 5
# QEMU's UART carries ~20 KB/s: audio for every test clip would take the demo past 10 minutes, so the demo sends
# the M4 board int8 features (inference instructions and linker sizes reach the report; the frontend's cost per
# frame is measured by make bench-board). `make eval` alone sends audio.
demo: EVAL_EXTRA = $(if $(PORT),,$(if $(filter m4,$(EVAL_BOARD)),--feed features))
demo: setup $(SYNTH_DIR)/manifest.json $(RUN_DIR)/config.toml $(RUN_DIR)/frontend/kws_frontend_tables.h \
      $(RUN_DIR)/features.png $(RUN_DIR)/report/report.html
	@echo
	@echo "demo: done. The report: $(RUN_DIR)/report/report.html (also report.md, report.json)"
	@echo "demo: dataset in $(SYNTH_DIR); model, export, evaluation and calibration in $(RUN_DIR)/"

# ---------------------------------------------------------------------------------------------- device
# The board: `make flash RUN=demo [PORT=/dev/ttyACM0] [BACKEND=aot|tflm]` (arduino-cli; see
# firmware/nano33ble/README.md), `make monitor [PORT=...]`, and the emulated board: `make emulate [MIC=clip.wav]`
# (prints its port, and writes it to runs/<run>/emulator.port). Flashing and monitoring act on hardware, so they
# always run; they need the export (exported first if stale) and the staged sketch is a file target over it.
# BACKEND: aot (default) the model compiled to C by `kws compile`, no library; tflm TensorFlow Lite Micro.
.PHONY: sketch flash monitor emulate
PORT ?=
MIC ?=
BACKEND ?= aot
BOARD_FILES := $(wildcard firmware/nano33ble/*.ino firmware/nano33ble/*.cpp firmware/nano33ble/*.h) \
               $(wildcard firmware/core/*.c firmware/core/*.h)
# A file only the sketch of that backend holds, so switching BACKEND stages again.
SKETCH_MARK_aot := kws_model_aot.c
SKETCH_MARK_tflm := model_data.cpp
SKETCH_DEPS_aot := $(wildcard firmware/kernels/*.c firmware/kernels/*.h kws/compile/*.py)

$(RUN_DIR)/sketch/nano33ble/$(SKETCH_MARK_$(BACKEND)): $(RUN_DIR)/export/parity.json $(BOARD_FILES) \
                                                    $(SKETCH_DEPS_$(BACKEND)) $(wildcard $(RUN_DIR)/deploy.toml)
	$(KWS) flash --run $(RUN) --backend $(BACKEND) --stage-only

sketch: setup $(RUN_DIR)/sketch/nano33ble/$(SKETCH_MARK_$(BACKEND))

flash: setup $(RUN_DIR)/export/parity.json
	$(KWS) flash --run $(RUN) --backend $(BACKEND) $(if $(PORT),--port $(PORT))

# Without PORT: the emulator of `make emulate` if one is running, else the one Nano on USB.
monitor: setup
	$(KWS) monitor $(if $(PORT),--port $(PORT),$(if $(wildcard $(RUN_DIR)/emulator.port),--port $$(cat $(RUN_DIR)/emulator.port)))

emulate: setup $(RUN_DIR)/export/parity.json
	$(KWS) emulate --run $(RUN) $(if $(MIC),--mic $(MIC) --loop --realtime) --port-file $(RUN_DIR)/emulator.port

clean:
	rm -rf runs build .pytest_cache .benchmarks

distclean: clean
	rm -rf $(VENV) data
