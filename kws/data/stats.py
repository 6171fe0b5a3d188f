"""Dataset statistics, what `kws data stats --data DIR [--check-audio]` prints.

    from kws.data.stats import dataset_stats, print_stats
    print_stats(dataset_stats(cfg.data, cfg.frontend, check_audio=True))

Counts follow kws.data.index's recipe exactly (what build_splits would give); the audio check decodes
every clip and noise file with kws.data.clips' decoder and reports format fixes, clips longer than one
clip (only their start is used) and unusable files (`kws data stats --check-audio` then exits 2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kws.config import DataConfig, FrontendConfig
from kws.data.clips import FIX_KINDS, count_fixes, decode_many, trimmed_note
from kws.data.index import LAYOUT_FULL, empty_splits, index_dataset
from kws.data.split import SPLITS


@dataclass(frozen=True)
class DatasetStats:
    """What `kws data stats` prints: counts per split and label, words on disk, noise, audio health."""

    root: str
    layout: str
    """'full' or 'testset'."""
    split_method: str
    """'hash', 'lists' or 'testset' (resolved from data.split_method)."""
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    """The splits this layout has (all three, or 'testing' only)."""
    label_counts: dict[str, dict[str, int]]
    """split -> label -> examples chosen by the recipe."""
    word_counts: dict[str, dict[str, int]]
    """split -> word -> clips on disk."""
    noise_files: tuple[str, ...]
    noise_seconds: float
    generated_silence: dict[str, int]
    """split -> silence examples generated from noise (full layout)."""
    audio_checked: bool = False
    files_checked: int = 0
    fixes: dict[str, int] | None = None
    """resampled / downmixed / converted / trimmed file counts (check_audio only). Trimmed counts clips
    longer than frontend.clip_duration_ms, of which only the start is used (noise files are meant to be long)."""
    first_long: tuple[tuple[str, float], ...] = ()
    """Up to five (path, seconds) of the trimmed clips."""
    clip_seconds: float = 1.0
    """frontend.clip_duration_ms in seconds (for the trimmed note)."""
    bad_files: int = 0
    first_bad: tuple[tuple[str, str], ...] = ()
    """Up to five (path, reason) of unusable files."""
    problems: tuple[str, ...] = ()
    """Why build_splits would refuse this dataset as configured (empty splits); stats still counts it."""

    def total(self, split: str) -> int:
        """Examples in one split."""
        return sum(self.label_counts[split].values())


def dataset_stats(data: DataConfig, frontend: FrontendConfig, check_audio: bool = False,
                  progress: bool = True) -> DatasetStats:
    """Count what build_splits would give; with check_audio also decode every clip on disk and report.

    Unlike build_splits, an empty split is not an error here: it is listed in `problems` and printed,
    since finding that out is why one asks for stats. The other DataErrors still apply. The audio check
    never stops at a bad file (it is a report); how training treats them is data.on_bad_audio.
    """
    import soundfile

    frontend.validate()
    index = index_dataset(data)
    labels = data.labels()
    splits = SPLITS if index.layout == LAYOUT_FULL else ("testing",)
    label_counts = {s: {label: 0 for label in labels} for s in splits}
    generated = {s: 0 for s in splits}
    for s in splits:
        for ex in index.splits[s]:
            label_counts[s][labels[ex.label]] += 1
            generated[s] += ex.generated
    noise_seconds = 0.0
    for path in index.noise_files:
        try:
            info = soundfile.info(path)
            noise_seconds += info.frames / info.samplerate
        except (RuntimeError, soundfile.LibsndfileError):
            pass  # reported by check_audio; the count must not fail on it
    stats = DatasetStats(
        root=str(index.root), layout=index.layout, split_method=index.split_method, labels=labels,
        splits=splits, label_counts=label_counts, word_counts={s: index.word_counts[s] for s in splits},
        noise_files=tuple(str(p) for p in index.noise_files), noise_seconds=noise_seconds,
        generated_silence=generated, problems=tuple(empty_splits(data, index)))
    if not check_audio:
        return stats
    clips = [str(p) for p in index.all_files]
    paths = clips + [str(p) for p in index.noise_files]
    fixes = dict.fromkeys(FIX_KINDS, 0)
    bad: list[tuple[str, str]] = []
    long: list[tuple[str, float]] = []
    for i, _, fix, error in decode_many(paths, frontend, stop_on_error=False, progress=progress,
                                         desc="checking audio"):
        if error is not None:
            bad.append((error.path, error.reason))
            continue
        if i >= len(clips):  # a noise file: long on purpose, cut into clips by the augmenter
            fix = dataclasses.replace(fix, trimmed_from=None)
        elif fix.trimmed_from is not None:
            long.append((paths[i], round(fix.trimmed_from / frontend.sample_rate, 2)))
        count_fixes(fixes, fix)
    return dataclasses.replace(stats, audio_checked=True, files_checked=len(paths), fixes=fixes,
                               bad_files=len(bad), first_bad=tuple(bad[:5]), first_long=tuple(long[:5]),
                               clip_seconds=frontend.clip_duration_ms / 1000)


def print_stats(stats: DatasetStats) -> None:
    """Print the stats as rich tables: labels x splits (with totals), then words on disk, then notes."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{stats.root}[/bold]: {stats.layout} layout, split by {stats.split_method}",
                  highlight=False)
    table = Table(title="examples per split")
    table.add_column("label")
    for split in stats.splits:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right", style="bold")
    for label in stats.labels:
        row = [stats.label_counts[s][label] for s in stats.splits]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [stats.total(s) for s in stats.splits]
    table.add_section()
    table.add_row("total", *map(str, totals), str(sum(totals)), style="bold")
    console.print(table)

    words = sorted({w for s in stats.splits for w in stats.word_counts[s]})
    word_table = Table(title="clips on disk per word")
    word_table.add_column("word")
    for split in stats.splits:
        word_table.add_column(split, justify="right")
    word_table.add_column("total", justify="right", style="bold")
    for word in words:
        row = [stats.word_counts[s].get(word, 0) for s in stats.splits]
        word_table.add_row(word, *map(str, row), str(sum(row)))
    console.print(word_table)

    generated = sum(stats.generated_silence.values())
    console.print(f"background noise: {len(stats.noise_files)} files, {stats.noise_seconds:.1f} s"
                  + (f"; {generated} silence examples are generated from it" if generated else ""))
    for problem in stats.problems:
        console.print(f"[yellow]warning[/yellow]: {problem}", highlight=False)
    if stats.audio_checked and stats.fixes is not None:
        fixes = ", ".join(f"{v} {k}" for k, v in stats.fixes.items())
        console.print(f"audio check: {stats.files_checked} files, {fixes}, {stats.bad_files} unusable")
        for path, reason in stats.first_bad:
            console.print(f"  [red]bad[/red] {path}: {reason}", highlight=False)
        if stats.bad_files > len(stats.first_bad):
            console.print(f"  ... and {stats.bad_files - len(stats.first_bad)} more")
        if stats.bad_files:
            console.print("  training stops at the first of these unless data.on_bad_audio='skip'")
        trimmed = stats.fixes.get("trimmed", 0)
        if trimmed:
            console.print(f"[yellow]warning[/yellow]: {trimmed_note(trimmed, stats.clip_seconds)}", highlight=False)
            for path, seconds in stats.first_long:
                console.print(f"  [yellow]long[/yellow] {path}: {seconds:.1f} s", highlight=False)
            if trimmed > len(stats.first_long):
                console.print(f"  ... and {trimmed - len(stats.first_long)} more")


__all__ = ["DatasetStats", "dataset_stats", "print_stats"]
