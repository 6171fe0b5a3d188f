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

.PHONY: setup test demo bench data stats clean distclean help

help:
	@echo "make demo | make test | make bench | make data | make stats | make clean"

$(STAMP): tools/setup.sh tools/requirements.txt tools/requirements-nodeps.txt tools/constraints.txt pyproject.toml
	bash tools/setup.sh
	touch $@

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) tools/bench_frontend.py

# The synthetic dataset is written atomically; its manifest is the last thing to appear.
$(SYNTH_DIR)/manifest.json: | $(STAMP)
	$(KWS) data synth --config $(CONFIG) --out $(SYNTH_DIR) --replace

data: setup $(SYNTH_DIR)/manifest.json

stats: data
	$(KWS) data stats --config $(CONFIG) --data $(SYNTH_DIR)

$(RUN_DIR)/config.toml: $(CONFIG) | $(STAMP)
	$(KWS) config show --config $(CONFIG) --set data.data_dir=$(SYNTH_DIR) --run $(RUN) > /dev/null

$(RUN_DIR)/frontend/kws_frontend_tables.h: $(RUN_DIR)/config.toml
	$(KWS) frontend tables --config $(RUN_DIR)/config.toml --out $(RUN_DIR)/frontend

$(RUN_DIR)/features.png: $(RUN_DIR)/config.toml $(SYNTH_DIR)/manifest.json
	$(KWS) features --config $(RUN_DIR)/config.toml "$$(ls $(SYNTH_DIR)/yes/*.wav | head -n 1)" --png $@

demo: setup $(SYNTH_DIR)/manifest.json $(RUN_DIR)/config.toml $(RUN_DIR)/frontend/kws_frontend_tables.h $(RUN_DIR)/features.png
	$(KWS) data stats --config $(RUN_DIR)/config.toml
	@echo
	@echo "demo: dataset in $(SYNTH_DIR), resolved config, C frontend tables and a feature plot in $(RUN_DIR)/"
	@echo "demo: next stages (training, export, firmware, on-device evaluation) arrive with their issues."

clean:
	rm -rf runs build .pytest_cache .benchmarks

distclean: clean
	rm -rf $(VENV) data
