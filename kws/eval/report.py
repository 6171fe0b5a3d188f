"""`kws report`: one self-contained page of everything a run produced, the numbers a person deploys by.

    kws report --run demo          # or: make report  ->  runs/demo/report/report.html (+ .md, .json)

Reads what the stages wrote into runs/<run>/ (training metrics and curves, quant_*.json, the export's
parity.json, the device evaluation in eval/, the calibration) and writes report.html (PNG plots
embedded, no external files), report.md (plots beside it) and report.json (every number). A section
whose inputs are missing says which command makes them instead of silently disappearing.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kws.config import KwsConfig
from kws.eval.headroom import describe_headroom
from kws.fsutil import write_json
from kws.run import Run, as_run


@dataclass
class Section:
    """One part of the report."""

    title: str
    text: list[str] = field(default_factory=list)
    """Markdown paragraphs (plain text; tables in Markdown)."""
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    """(header, rows)."""
    images: list[tuple[Path, str]] = field(default_factory=list)
    """(png path, caption)."""
    missing: str = ""
    """When set: what to run to fill this section."""
    optional: bool = False
    """A section that needs what a machine may not have (real test audio): unfilled, it does not fail --strict."""


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _pct(value: Any) -> str:
    try:
        return "n/a" if value is None or not np.isfinite(float(value)) else f"{100 * float(value):.2f} %"
    except (TypeError, ValueError):
        return "n/a"


# ------------------------------------------------------------------------------------------ sections

def _data_section(config: KwsConfig, run: Run) -> Section:
    section = Section("Data")
    metrics = _read_json(run.metrics)
    try:
        from kws.data.stats import dataset_stats

        stats = dataset_stats(config.data, config.frontend, progress=False)
        splits = list(stats.splits)
        rows = []
        for label in stats.labels:
            rows.append([label] + [str(stats.label_counts[split].get(label, 0)) for split in splits])
        rows.append(["total"] + [str(stats.total(split)) for split in splits])
        section.tables.append((["label"] + splits, rows))
        section.text.append(f"Dataset `{config.data.data_dir}` ({stats.layout} layout, split by {stats.split_method}); "
                            f"wanted words {', '.join(config.data.wanted_words)}.")
    except Exception as exc:  # the dataset may have moved since training: say so, keep the report
        section.text.append(f"The dataset could not be scanned now ({exc}).")
        if metrics:
            section.text.append(f"At training time the splits held {metrics.get('split_sizes')}.")
    return section


def _throughput(clips_per_s: Any) -> str:
    """'1,234 training clips/s', or that it was not measured (a rerun that trained nothing wrote null)."""
    if not isinstance(clips_per_s, (int, float)) or clips_per_s != clips_per_s:
        return "training throughput not measured"
    return f"{clips_per_s:,.0f} training clips/s"


def _training_section(run: Run) -> Section:
    section = Section("Training")
    metrics = _read_json(run.metrics)
    if metrics is None:
        section.missing = "kws train (make train)"
        return section
    section.text.append(
        f"{metrics['model']}: {metrics['steps']:,} steps; best validation accuracy "
        f"{_pct(metrics['best_val_accuracy'])} "
        f"at step {metrics['best_step']:,}; test accuracy {_pct(metrics['test_accuracy'])}; "
        f"{_throughput(metrics.get('throughput_clips_per_s'))}.")
    for png, caption in ((run.training_curves, "loss and accuracy"),
                         (run.confusion_matrix, "float model, test split")):
        if png.exists():
            section.images.append((png, caption))
    return section


def _accuracy_section(config: KwsConfig, run: Run) -> tuple[Section, dict[str, float]]:
    from kws.data.kind import SYNTHETIC, dataset_kind

    section = Section("Accuracy: float, int8 simulations, TFLite, on the device")
    figures: dict[str, float] = {}
    where: dict[str, str] = {}
    own = f"{config.data.data_dir} test split ({dataset_kind(config.data.data_dir)})"
    metrics = _read_json(run.metrics) or {}
    if "test_accuracy" in metrics:
        figures["PyTorch float"] = metrics["test_accuracy"]
    for method in ("ptq", "qat"):
        quant = _read_json(run.quant_report(method))
        if quant:
            figures[f"{method.upper()} simulated int8"] = quant["int8_test_accuracy"]
    parity = _read_json(run.parity)
    if parity:
        for hop in parity.get("hops", []):
            if hop["hop"] in ("tflite_int8", "tflite_micro"):
                figures[f"{hop['title']} ({parity['source']})"] = hop["accuracy"]
    device = _read_json(run.eval_summary)
    if device:
        name = f"on device ({device.get('board', 'board')}, {device.get('feed', 'audio')} feed)"
        figures[name] = device["accuracy"]
        kind = device.get("data", dataset_kind(device["data_dir"]))
        where[name] = (f"{device.get('data_dir', '?')} {device.get('split', 'testing')} split, selection "
                       f"'{device.get('selection', 'recipe')}' ({kind})")
    real = _read_json(run.real_speech)
    for key, m in (real or {}).get("mappings", {}).items():
        name = f"TFLite Micro int8 on real speech, mapping ({key}) {m['selection']}"
        figures[name] = m["accuracy"]
        where[name] = f"{real['data_dir']}, all {m['clips']:,} clips ({real['data']})"
    if not figures:
        section.missing = "make train quantize export, then kws eval"
        return section, figures
    section.tables.append((["model", "accuracy", "measured on"],
                           [[k, _pct(v), where.get(k, own)] for k, v in figures.items()]))
    if dataset_kind(config.data.data_dir) == SYNTHETIC:
        section.text.append("The run trained and was tested on synthetic speech: its own test split says little "
                            "about real voices. " + ("The real-speech rows are the yardstick."
                                                     if real else "Run `make bench-real` for the real-speech rows."))
    if parity is None:
        section.text.append("No export yet: run `make export` for the TFLite rows.")
    if device is None:
        section.text.append("No on-device evaluation yet: run `kws eval --port ...` (or `make demo`).")
    else:
        section.text.append(f"On-device: {device['clips']:,} test clips of `{device.get('data_dir', '')}` sent to the "
                            f"board as {device.get('feed', 'audio')}.")
    return section, figures


def _real_section(run: Run) -> Section:
    section = Section("Real speech: every clip of a real test set, both label mappings", optional=True)
    real = _read_json(run.real_speech)
    if real is None:
        section.missing = "make bench-real (the model on every clip of ../shared/data/sc-real-dev)"
        return section
    section.text.append(f"Measured on {real['data_dir']} ({real['data']}), never trained on; model {real['model']}.")
    rows = []
    for key, m in real["mappings"].items():
        unknown = ", ".join(sorted(k for k, v in m["mapping"].items() if v == "_unknown_"))
        rows.append([f"({key}) {m['selection']}", f"{m['clips']:,}", _pct(m["accuracy"]), unknown])
    section.tables.append((["mapping", "clips", "accuracy", "scored as _unknown_"], rows))
    rows = []
    for key, m in real["mappings"].items():
        for word, k in m["per_keyword"].items():
            fired = ", ".join(f"{w} {n}" for w, n in list(k["fired_by"].items())[:5]) or "none"
            rows.append([f"({key}) {word}", _pct(k["false_reject_rate"]), _pct(k["false_accept_rate"]),
                         f"{k['auc']:.3f}", fired])
    section.tables.append((["keyword", "false rejects", "false accepts", "ROC AUC", "fired by (top 5)"], rows))
    for key, m in real["mappings"].items():
        if "bias_headroom" in m:  # real.json files written before it existed have none
            section.text.append(f"({key}) {describe_headroom(m['bias_headroom'])}.")
    return section


def _device_section(run: Run, out_dir: Path) -> Section:
    section = Section("On-device detection: confusion, ROC/DET, operating point")
    summary = _read_json(run.eval_summary)
    if summary is None:
        section.missing = "kws eval --port PORT --run RUN (the emulated board: kws emulate)"
        return section
    from kws.eval.analysis import plot_roc_det
    from kws.plots import plot_confusion_matrix

    labels = summary["labels"]
    cm_png = out_dir / "device_confusion.png"
    plot_confusion_matrix(np.asarray(summary["confusion_matrix"]), labels, cm_png,
                          title=f"on device: accuracy {_pct(summary['accuracy'])}")
    section.images.append((cm_png, "confusion matrix on the device"))
    roc_png = out_dir / "roc_det.png"
    plot_roc_det(summary, str(roc_png), title="per keyword, clip level")
    section.images.append((roc_png, "ROC and DET per keyword; dots mark the operating point"))
    rows = []
    for word, entry in summary["per_keyword"].items():
        if "auc" not in entry:
            rows.append([word, str(entry["positives"]), "n/a", "n/a", "n/a", "n/a"])
            continue
        op = entry["operating_point"]
        dep = entry["at_deploy_threshold"]
        op_threshold = "never" if op["threshold"] is None else f">= {op['threshold']:.0f}"  # None: nothing accepted
        rows.append([word, str(entry["positives"]), f"{entry['auc']:.4f}", _pct(entry["eer"]),
                     f"{op_threshold}: FRR {_pct(op['frr'])}, FAR {_pct(op['far'])}",
                     f">= {dep['threshold']}: FRR {_pct(dep['frr'])}, FAR {_pct(dep['far'])}"])
    section.tables.append((["keyword", "clips", "AUC", "EER", f"operating point (FAR <= {summary['target_far']:g})",
                            "at the deployed threshold"], rows))
    return section


def _stream_section(run: Run) -> Section:
    section = Section("Streaming: false accepts per hour vs false rejects, calibration")
    stream = _read_json(run.stream_summary)
    calibration = _read_json(run.calibration_result)
    if stream is None and calibration is None:
        section.missing = "kws eval --stream, then kws calibrate"
        return section
    if stream:
        m = stream["metrics"]
        section.text.append(
            f"Stream of {stream['duration_s'] / 60:.1f} min with {int(m['events'])} keywords over background noise "
            f"(SNR {stream.get('snr_db', 'n/a')} dB), the device's own recognizer deciding: "
            f"{m['false_accepts_per_hour']:.2f} false accepts per hour, false reject rate "
            f"{_pct(m['false_reject_rate'])}, "
            f"mean detection delay {m['mean_delay_s'] * 1000:.0f} ms after the word ended.")
    if calibration:
        chosen = calibration["chosen"]
        verdict = "meets" if calibration["target_met"] else "does NOT meet"
        section.text.append(
            f"Calibration over {len(calibration['sweep'])} settings: window {chosen['average_window_ms']} ms, "
            f"threshold "
            f"> {chosen['detection_threshold']}, suppression {chosen['suppression_ms']} ms gives "
            f"{chosen['false_accepts_per_hour']:.2f} FA/h at FRR {_pct(chosen['false_reject_rate'])}, which {verdict} "
            f"the target of {calibration['target_fa_per_hour']:g} FA/h. Written to runs/<run>/deploy.toml; the next "
            f"`make flash` deploys it.")
        png = run.calibration_plot
        if png.exists():
            section.images.append((png, "FA/hour vs FRR of every recognizer setting tried"))
    return section


def _latency_section(run: Run, out_dir: Path) -> Section:
    section = Section("Latency (device clock)")
    scores = run.eval_scores
    summary = _read_json(run.eval_summary)
    if not scores.exists() or summary is None:
        section.missing = "kws eval"
        return section
    from kws.eval.analysis import plot_latency

    data = np.load(scores)
    png = out_dir / "latency.png"
    plot_latency(data["frontend_us"], data["inference_us"], str(png), title=f"{summary.get('board', 'board')}")
    section.images.append((png, "frontend time per frame and inference time per clip"))
    rows = []
    for name in ("frontend", "inference"):
        lat = summary["latency"][name]
        if not lat.get("count"):  # a features feed runs no frontend on the board
            continue
        rows.append([name, f"{lat['p50']:.0f}", f"{lat['p95']:.0f}", f"{lat['max']:.0f}", str(int(lat["count"]))])
    if summary.get("board", "").startswith("mps2-an386"):
        _m4_latency(section, summary)
        return section
    section.tables.append((["stage", "p50 us", "p95 us", "max us", "count"], rows))
    if summary.get("board") == "emulated":
        section.text.append("Host timing: the emulated host board times the portable core on this machine's CPU, "
                            "not a microcontroller. `kws eval --board m4` measures the Cortex-M4 firmware.")
    return section


def _m4_latency(section: Section, summary: dict[str, Any]) -> None:
    """Instructions counted by QEMU (1 us of board time = 1,000 instructions at -icount shift=0) and what they
    would take at the Nano's 64 MHz if every instruction took one cycle (a real M4 needs at least one)."""
    rows = []
    for name, per in (("frontend", "per 20 ms frame"), ("inference", "per inference")):
        lat = summary["latency"][name]
        if not lat["count"]:
            continue
        instructions = lat["p50"] * 1000
        ms = instructions / 64e3
        share = f"{ms / 20:.1%} of a 20 ms frame" if name == "frontend" else f"{ms / 20:.0%} of a 20 ms hop"
        rows.append([f"{name} ({per})", f"{instructions:,.0f}", f"{lat['max'] * 1000:,.0f}", f"{ms:.2f} ms", share])
    section.tables.append((["stage", "instructions (median)", "max", "at 64 MHz (estimate)", "real-time share"],
                           rows))
    section.text.append(f"Measured on the Cortex-M4 board under QEMU ({summary.get('clock', '')}). The milliseconds "
                        f"are an estimate that assumes one cycle per instruction; loads, taken branches and "
                        f"multiplies take more on a real M4, so they are a lower bound.")


def _budget_section(run: Run, out_dir: Path) -> Section:
    section = Section("Flash and RAM budget")
    parity = _read_json(run.parity)
    if parity is None or not parity.get("budget") or not parity.get("arena"):
        section.missing = "make export"
        return section
    b = parity["budget"]
    from kws.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 2.8))
    board = b["board"]
    rows = [("flash", b["model_bytes"], board["code_flash_estimate"], board["flash_bytes"], b["flash_limit"],
             "model", "tab:blue"),
            ("RAM", b["arena_bytes"], board["ram_reserved_estimate"], board["ram_bytes"], b["ram_limit"],
             "tensor arena", "tab:orange")]
    for i, (name, own, rest, total, limit, own_name, colour) in enumerate(rows):
        ax.barh(i, total / 1024, color="none", edgecolor="black", linewidth=0.8)  # the whole memory
        ax.barh(i, own / 1024, color=colour, label=f"{own_name} ({own / 1024:.1f} KiB)")
        ax.barh(i, rest / 1024, left=own / 1024, color="tab:gray", alpha=0.5,
                label="rest of the firmware (estimate)" if i == 0 else None)
        ax.plot([limit / 1024] * 2, [i - 0.45, i + 0.45], color="red", label="limit with headroom" if i == 0 else None)
        ax.text(total / 1024, i + 0.42, f"{total // 1024} KiB", ha="right", va="bottom", fontsize=8)
    ax.set_yticks([0, 1], ["flash", "RAM"])
    ax.set_ylim(-0.6, 1.9)
    ax.set_xlabel("KiB")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.set_title(board["description"])
    png = out_dir / "budget.png"
    try:
        save_figure(fig, png)
    finally:
        plt.close(fig)
    section.images.append((png, "what the model and arena take of the board"))
    section.tables.append((["", "used", "limit", "fits"], [
        ["flash", f"{b['flash_used']:,} B", f"{b['flash_limit']:,} B", str(b["fits"])],
        ["RAM", f"{b['ram_used']:,} B", f"{b['ram_limit']:,} B", str(b["fits"])]]))
    arena = parity["arena"]
    section.text.append(f"TensorFlow Lite Micro on the Nano sketch: model {b['model_bytes']:,} B; arena "
                        f"{b['arena_bytes']:,} B (measured minimum {arena.get('minimum', 0):,} B + "
                        f"{arena.get('margin', 0):,} B margin). Its code and reserved RAM are stated estimates: the "
                        f"mbed core's share is only known from a build with arduino-cli.")
    _measured_firmware(section, _read_json(run.eval_summary))
    return section


def _measured_firmware(section: Section, summary: dict[str, Any] | None) -> None:
    """The linker's figures of the firmware the evaluation ran (the M4 board), when there are any."""
    fw = (summary or {}).get("firmware")
    if not fw:
        section.text.append("No measured firmware yet: `kws eval --board m4` builds the firmware for the Cortex-M4 "
                            "board and records what the linker says it takes.")
        return
    kib = lambda n: f"{n / 1024:.1f} KiB"  # noqa: E731
    frame = fw.get("largest_stack_frame") or {}
    section.tables.append((["measured (linker, M4 board build)", "bytes", "of the Nano's"], [
        ["flash: code", f"{fw['code']:,}", ""],
        ["flash: constants (weights, tables)", f"{fw['rodata']:,}", ""],
        ["flash: initial data", f"{fw['ram_data']:,}", ""],
        ["flash total", f"{fw['flash_used']:,} ({kib(fw['flash_used'])})", kib(fw["flash_size"])],
        ["RAM: data + bss (buffers, the compiled model's activations)",
         f"{fw['ram_data'] + fw['ram_bss'] - fw['stack_reserved']:,}", ""],
        ["RAM: stacks reserved", f"{fw['stack_reserved']:,}", ""],
        ["RAM total", f"{fw['ram_used']:,} ({kib(fw['ram_used'])})", kib(fw["ram_size"])],
    ]))
    section.text.append(f"Measured: {fw['source']}; the whole firmware (core, frontend, recognizer, protocol, "
                        f"compiled model, kernels, startup) without the Arduino/mbed runtime. Largest stack frame: "
                        f"{frame.get('bytes', '?')} B in {frame.get('function', '?')}. Anchor: the TFLM Arduino "
                        f"micro_speech sketch takes ~166 KB flash and ~54 KB RAM (its README).")


def _parity_section(run: Run) -> Section:
    section = Section("Parity at every hop")
    parity = _read_json(run.parity)
    if parity is None or "hops" not in parity:
        section.missing = "make export"
        return section
    if parity.get("source") == "imported":  # a model trained elsewhere: no chain of hops to compare
        section.text.append(f"Imported model ({parity.get('imported_from', '?')}, SHA-256 "
                            f"{str(parity.get('model_sha256', ''))[:16]}...): it was converted elsewhere, so there is "
                            f"no PyTorch -> TFLite chain here; the boards' scores are compared with TFLite Micro's by "
                            f"the evaluation itself.")
        return section
    rows = []
    for hop in parity["hops"]:
        diff = hop.get("max_abs_diff")
        rows.append([hop["title"], _pct(hop["accuracy"]), _pct(hop["agreement_with_float"]),
                     "n/a" if diff is None else f"{diff:.2e}", hop.get("note", "")])
    section.tables.append((["hop", "accuracy", "top-1 agreement with float", "max abs diff", "note"], rows))
    def shown(name: str, value: float) -> str:  # agreement is a share; drops and gaps are accuracy differences
        return _pct(value) if "agreement" in name else f"{100 * value:+.2f} points"

    targets = [[t["name"], shown(t["name"], t["value"]), shown(t["name"], t["limit"]), "met" if t["ok"] else "MISSED"]
               for t in parity["targets"]]
    section.tables.append((["target", "value", "limit", ""], targets))
    tflm = parity["tflite_micro"]
    section.text.append(f"Source `{parity['source']}`, {parity['test_clips']} test clips. TFLite Micro vs TFLite "
                        f"reference "
                        f"kernels: {'bit-exact' if tflm['bit_exact'] else 'NOT bit-exact'}"
                        f" ({tflm['explained_fc_rounding_ties']} proven FULLY_CONNECTED rounding ties).")
    section.tables.append((["artifact", "bytes"], [[k, f"{v:,}"] for k, v in parity["sizes"].items()]))
    return section


def _layers_section(config: KwsConfig, run: Run) -> Section:
    section = Section("Model: parameters, MACs, activation memory per layer")
    path = run.float_model
    if not path.exists():
        parity = _read_json(run.parity) or {}
        if parity.get("source") == "imported":
            section.text.append("An imported model: no PyTorch checkpoint here to summarise (`kws compile "
                                f"{run.export_model}` lists its layers and MACs).")
            return section
        section.missing = "make train"
        return section
    from kws.checkpoint import load_checkpoint_model
    from kws.models.summary import summarize

    model, _ = load_checkpoint_model(path, expect=config)
    summary = summarize(model, (config.frontend.num_frames, config.frontend.num_features))
    rows = [[layer.name, layer.kind, "x".join(map(str, layer.output_shape)), f"{layer.params:,}", f"{layer.macs:,}",
             f"{layer.activation_bytes:,}"] for layer in summary.layers]
    rows.append(["total", "", "", f"{summary.total_params:,}", f"{summary.total_macs:,}",
                 f"peak {summary.peak_activation_bytes:,}"])
    section.tables.append((["layer", "kind", "output", "params", "MACs", "int8 activation bytes"], rows))
    return section


# ------------------------------------------------------------------------------------------ rendering

def _search_section(run: Run) -> list[Section]:
    """For a run made by `kws search pick`: its trial, what the search measured, the front; else no section."""
    record = _read_json(run.search_trial)
    if not record or "search" not in record:
        return []
    section = Section(f"Search: trial {record.get('trial')} of search {record['search']}")
    params = ", ".join(f"{k}={v}" for k, v in sorted(record.get("params", {}).items()))
    section.text.append(f"Picked from `{record.get('trial_run', '')}` ({params}). "
                        "The search's figures: validation accuracy of the int8 model (TFLite Micro), instructions "
                        "per inference on the M4 board (QEMU, 1 us = 1,000 instructions), the M4 firmware's linker "
                        "flash and RAM.")
    rows = [[name, value] for name, value in (
        ("validation accuracy (int8)", _pct(record.get("val_accuracy"))),
        ("instructions / inference", f"{record.get('instructions', 0):,}"),
        ("frontend instructions / frame", f"{record.get('frontend_instructions_per_frame', 0):,}"),
        ("firmware flash / RAM (B)", f"{record.get('flash', 0):,} / {record.get('ram', 0):,}"),
        ("fits the budget", {True: "yes", False: "no"}.get(record.get("fits"), "n/a")),
        ("exported from", str(record.get("export_source"))))]
    section.tables.append((["search figure", "value"], rows))
    if run.search_front.is_file():
        section.images.append((run.search_front, f"the front of search {record['search']} when this run was picked"))
    return [section]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    clean = lambda c: str(c).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(clean, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(clean, row)) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class='{'bad' if str(c) == 'MISSED' else ''}'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_code(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}td.bad{color:#fff;background:#c00;font-weight:bold}.missing{color:#a60;font-style:italic}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:13px}code{background:#f3f3f3;padding:0 3px}"""


def build_report(config: KwsConfig, run: "Run | str | Path") -> dict[str, Path]:
    """Write runs/<run>/report/report.{html,md,json}; returns their paths."""
    from kws.fsutil import atomic_write_text

    run = as_run(run)
    if not run.dir.is_dir():
        from kws.errors import KwsError

        raise KwsError(f"run folder {run.dir} does not exist; train first (make train RUN={run.name})")
    out_dir = run.report_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    accuracy, figures = _accuracy_section(config, run)
    sections = [_data_section(config, run), _training_section(run), accuracy, _real_section(run),
                _device_section(run, out_dir), _stream_section(run), _latency_section(run, out_dir),
                _budget_section(run, out_dir), _parity_section(run), _layers_section(config, run),
                *_search_section(run)]

    title = f"Keyword spotting report: run {run.name} ({config.model.name}, {', '.join(config.data.wanted_words)})"
    md = [f"# {title}", ""]
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        md += [f"## {section.title}", ""]
        page.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.missing:
            md += [f"*Not available yet: run `{section.missing}`.*", ""]
            page.append(f"<p class='missing'>Not available yet: run {_inline_code('`' + section.missing + '`')}.</p>")
            continue
        for paragraph in section.text:
            md += [paragraph, ""]
            page.append(f"<p>{_inline_code(paragraph)}</p>")
        for header, rows in section.tables:
            md += [_md_table(header, rows), ""]
            page.append(_html_table(header, rows))
        for png, caption in section.images:
            rel = Path("..") / png.relative_to(run.dir) if not png.is_relative_to(out_dir) else png.relative_to(out_dir)
            md += [f"![{caption}]({rel.as_posix()})", ""]
            encoded = base64.b64encode(png.read_bytes()).decode("ascii")
            page.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{encoded}'>"
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    page.append("</body></html>")
    numbers = {"run": run.name, "accuracy": figures,
               "sections": {s.title: (("optional, not filled: " if s.optional else "missing: ") + s.missing)
                            if s.missing else "filled" for s in sections}}
    for path in (run.metrics, run.quant_report("ptq"), run.quant_report("qat"), run.parity, run.eval_summary,
                 run.stream_summary, run.calibration_result, run.real_speech):
        value = _read_json(path)
        if value is not None:
            numbers[path.relative_to(run.dir).as_posix()] = value
    paths = {"html": out_dir / "report.html", "md": out_dir / "report.md", "json": out_dir / "report.json"}
    atomic_write_text(paths["md"], "\n".join(md))
    write_json(paths["json"], json.loads(json.dumps(numbers, default=str)))
    atomic_write_text(paths["html"], "\n".join(page))
    return paths


def missing_sections(report_json: str | Path) -> list[str]:
    """Titles of the sections a written report could not fill."""
    data = json.loads(Path(report_json).read_text(encoding="utf-8"))
    return [title for title, state in data["sections"].items()
            if state != "filled" and not state.startswith("optional")]
