"""Hardware-aware multi-objective search: each trial trains, quantizes, optionally prunes, exports and compiles a
model, and measures it on the Cortex-M4 board (QEMU, the Nano 33 BLE Sense's memory map); Optuna chooses the
next trials, locally or on a Ray cluster.

    kws search --config kws/configs/search_demo.toml --trials 16     # -> runs/search_demo/
    kws search pick 7 --search search_demo --run small          # trial 7 as runs/small/ (make flash RUN=small)

Rooms: space (the TOML search space and the trial's config), folder (the search folder's paths), trial (one trial
as a chain of `kws` commands), measure (the trial's objectives), study (Optuna, batches, resume), executors and
ray_backend (where trials run), front (Pareto front, tables, plot), pick (a trial as a normal run).
"""
