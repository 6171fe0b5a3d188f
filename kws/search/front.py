"""A search's results for people: one row per trial, the Pareto front, the tables and the plot.

    rows = trial_rows(study_trials(folder))                  # dicts: parameters, objectives, state, front
    write_tables(rows, budget, csv, md, json); plot_front(rows, budget, folder.front_png)

The front is the set of trials that fit the budget and that no other fitting trial dominates on all four
objectives (validation accuracy up; instructions, flash, RAM down). The plot shows accuracy against instructions
per inference (log scale), point size = RAM, colour = flash, the budget's limits on the colour bar and in the
flash/RAM panel, over-budget trials as crosses; the accuracy-instructions staircase of the front is drawn as a line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from kws.fsutil import atomic_write_text, write_json
from kws.search.space import BudgetConfig, describe, export_source

COLUMNS = ("trial", "state", "front", "model", "val_accuracy", "instructions", "frontend_instructions_per_frame",
           "flash", "ram", "fits", "macs", "model_bytes", "float_val_accuracy", "test_accuracy_int8",
           "real_accuracy", "seconds", "params", "reason")
"""The columns of trials.csv (trials.json holds the same rows, parameters as a table)."""


def trial_rows(trials: Iterable[Any], real: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """One row per Optuna trial (FrozenTrial), the front marked; `real`: real-speech accuracy by trial number."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        a = t.user_attrs
        state = a.get("state") or t.state.name.lower()
        row = {"trial": t.number, "state": state, "model": t.params.get("model", ""),
               "describe": describe(t.params) if t.params else "", "params": dict(t.params),
               "export_source": export_source(t.params) if t.params else "", "reason": a.get("reason", "")}
        for key in COLUMNS:
            if key not in row:
                row[key] = a.get(key)
        row["repeat_of"] = a.get("repeat_of")
        row["real_accuracy"] = (real or {}).get(t.number)
        row["front"] = False
        rows.append(row)
    for i in pareto_indices(rows):
        rows[i]["front"] = True
    return rows


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a dominates b: no worse in every objective, better in one (all to be minimised)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _key(row: dict[str, Any]) -> tuple[float, ...]:
    return (-float(row["val_accuracy"]), float(row["instructions"]), float(row["flash"]), float(row["ram"]))


def pareto_indices(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Indices of the complete, fitting rows no other such row dominates (repeats of a trial left out)."""
    ok = [i for i, r in enumerate(rows) if r["state"] == "complete" and r.get("fits") and r.get("repeat_of") is None]
    return [i for i in ok if not any(dominates(_key(rows[j]), _key(rows[i])) for j in ok if j != i)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1.0 else f"{value:.1f}"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _percent(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _int(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def markdown(rows: Sequence[dict[str, Any]], budget: BudgetConfig, title: str = "") -> str:
    """The trials as a Markdown table, front first, then the rest by number."""
    lines = [f"# {title}", ""] if title else []
    lines += [f"Budget ({budget.board}): firmware flash <= {budget.flash_limit:,} B, RAM <= {budget.ram_limit:,} B "
              f"({budget.flash_bytes:,} / {budget.ram_bytes:,} B less {budget.headroom:.0%} headroom and "
              f"{budget.reserved_flash_bytes:,} / {budget.reserved_ram_bytes:,} B for the mbed core).", "",
              "| trial | front | model, features, int8 | val acc (int8) | instructions / inference | frontend "
              "instr. / frame | flash B | RAM B | fits | MACs | real speech (check) | s | state / reason |",
              "|---:|:-:|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---|"]
    order = sorted(rows, key=lambda r: (not r["front"], r["trial"]))
    for r in order:
        fits = "" if r.get("fits") is None else ("yes" if r["fits"] else "NO")
        state = r["state"] if not r["reason"] else f"{r['state']}: {r['reason']}"
        lines.append(f"| {r['trial']} | {'*' if r['front'] else ''} | {r['describe']} | {_percent(r['val_accuracy'])} "
                     f"| {_int(r['instructions'])} | {_int(r['frontend_instructions_per_frame'])} | {_int(r['flash'])} "
                     f"| {_int(r['ram'])} | {fits} | {_int(r['macs'])} | {_percent(r.get('real_accuracy'))} "
                     f"| {_int(r['seconds'])} | {state.replace('|', '/')} |")
    lines += ["", "Validation accuracy: the int8 model on the run's validation split (TFLite Micro, bit-exact with the "
                  "compiled C). Instructions: the M4 board under QEMU (-icount shift=0: 1 us = 1,000 instructions, "
                  "+-1,000). Flash/RAM: the linker's figures of the M4 firmware. Real speech: accuracy of the front's "
                  "models on real Speech Commands clips (mapping a), a check that is never optimised."]
    return "\n".join(lines) + "\n"


def write_tables(rows: Sequence[dict[str, Any]], budget: BudgetConfig, csv_path: Path, md_path: Path,
                 json_path: Path, title: str = "") -> None:
    """trials.csv, trials.md and trials.json (atomically)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r.get(c)) if c != "params" else r["describe"] for c in COLUMNS])
    atomic_write_text(csv_path, buffer.getvalue())
    atomic_write_text(md_path, markdown(rows, budget, title))
    write_json(json_path, {"budget": {"board": budget.board, "flash_limit": budget.flash_limit,
                                      "ram_limit": budget.ram_limit}, "trials": list(rows)})


def plot_front(rows: Sequence[dict[str, Any]], budget: BudgetConfig, path: Path, title: str = "") -> Path | None:
    """The front plot (see the module docstring); None when no trial has been measured yet."""
    measured = [r for r in rows if r["state"] == "complete" and r.get("repeat_of") is None]
    if not measured:
        return None
    from kws.plots import pyplot, save_figure

    plt = pyplot()
    fig, (ax, ax_mem) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.6, 1]})
    flashes, rams = [r["flash"] for r in measured], [r["ram"] for r in measured]
    norm = plt.Normalize(vmin=min(flashes), vmax=max(max(flashes), min(flashes) + 1))
    low, span = min(rams), max(max(rams) - min(rams), 1)

    def size(ram: float) -> float:
        return 40 + 360 * (ram - low) / span

    for ok, marker in ((True, "o"), (False, "X")):
        pick = [r for r in measured if bool(r.get("fits")) == ok]
        if pick:
            ax.scatter([r["instructions"] for r in pick], [r["val_accuracy"] for r in pick],
                       s=[size(r["ram"]) for r in pick], c=[r["flash"] for r in pick],
                       cmap="viridis", norm=norm, marker=marker, edgecolors="black",
                       linewidths=[2.0 if r["front"] else 0.5 for r in pick], alpha=0.85,
                       label="fits (thick edge: on the front)" if ok else "over budget")
    front = sorted((r for r in measured if r["front"]), key=lambda r: r["instructions"])
    stair, best = [], -1.0
    for r in front:  # the accuracy-instructions staircase of the front's points
        if r["val_accuracy"] > best:
            stair.append(r)
            best = r["val_accuracy"]
    if stair:
        ax.step([r["instructions"] for r in stair], [r["val_accuracy"] for r in stair], where="post", color="tab:red",
                linewidth=1.2, label="front (accuracy vs instructions)")
    for r in measured:
        ax.annotate(str(r["trial"]), (r["instructions"], r["val_accuracy"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("instructions per inference (Cortex-M4 on QEMU)")
    ax.set_ylabel("validation accuracy (int8)")
    ax.grid(alpha=0.3, which="both")
    for ram in sorted({low, max(rams)}):  # the size scale, in the legend
        ax.scatter([], [], s=size(ram), c="white", edgecolors="black", label=f"RAM {ram / 1024:.1f} KiB")
    ax.legend(loc="lower right", fontsize=8)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, pad=0.01)
    bar.set_label(f"firmware flash (B); the limit is {budget.flash_limit:,} B")
    if norm.vmin <= budget.flash_limit <= norm.vmax:
        bar.ax.axhline(budget.flash_limit, color="tab:red", linewidth=2)
    _memory_panel(ax_mem, measured, budget)
    fig.suptitle(title or f"hardware-aware search: {len(measured)} measured trials, {len(front)} on the front")
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def _memory_panel(ax: Any, measured: Sequence[dict[str, Any]], budget: BudgetConfig) -> None:
    """Flash against RAM of every measured trial, with the budget's box."""
    ax.scatter([r["ram"] / 1024 for r in measured], [r["flash"] / 1024 for r in measured],
               c=["tab:red" if not r.get("fits") else "tab:green" if r["front"] else "tab:gray" for r in measured],
               s=25, edgecolors="black", linewidths=0.4)
    for r in measured:
        ax.annotate(str(r["trial"]), (r["ram"] / 1024, r["flash"] / 1024), textcoords="offset points",
                    xytext=(4, 3), fontsize=7)
    ax.axvline(budget.ram_limit / 1024, color="tab:red", linestyle="--", linewidth=1)
    ax.axhline(budget.flash_limit / 1024, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xlim(0, max(budget.ram_limit, *(r["ram"] for r in measured)) / 1024 * 1.08)
    ax.set_ylim(0, max(budget.flash_limit, *(r["flash"] for r in measured)) / 1024 * 1.08)
    ax.set_xlabel("firmware RAM (KiB)")
    ax.set_ylabel("firmware flash (KiB)")
    ax.set_title(f"{budget.board} budget (dashed): flash {budget.flash_limit / 1024:.0f} KiB, RAM "
                 f"{budget.ram_limit / 1024:.0f} KiB", fontsize=9)
    ax.grid(alpha=0.3)


__all__ = ["COLUMNS", "dominates", "markdown", "pareto_indices", "plot_front", "trial_rows", "write_tables"]
