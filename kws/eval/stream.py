"""Streaming evaluation: a labelled long stream through the board, its own recognizer deciding.

    kws eval --run demo --emulate --stream                         # 10 min: test-split keywords over noise, 10 dB SNR
    kws eval --run demo --emulate --stream --minutes 30 --snr-db 5 --snr-db 20 --gap-s 2 8
    kws eval --run demo --port /dev/ttyACM0 --stream --wav kitchen.wav --wav-labels kitchen.csv   # your own recording
    kws calibrate --run demo                                        # then: recognizer settings from this stream

The stream (build_stream): the dataset's background noise (`_background_noise_/`, or `--noise DIR`, or in the
test-set layout its `_silence_` recordings) as one continuous bed, segments of the recordings at seeded
random offsets cross-faded into each other, each recording first brought to the same loudness; on it, at
seeded random gaps, test-split clips of the wanted words and (a quarter of the placements by default)
clips of other words as distractors. Each clip is energy-trimmed to its speech (10 ms frames within 25 dB
of its loudest frame), placed with 50 ms of its own audio either side and 10 ms fades, at a gain that puts
its speech's RMS `snr_db` above the noise bed's RMS (the loudest SNR asked for sits at -26 dBFS; a word
that would clip is turned down and its real SNR recorded). The keyword events are the trimmed speech
extents (start_s, end_s, label); distractors are recorded apart (detecting a keyword in one is a false
accept). A user's WAV comes with a CSV of `start_s,end_s,label` rows (a header line and `#` comments are
allowed); rows whose label is not a wanted word become distractors.

The board gets the recognizer parameters of the run's config (with the calibrated deploy.toml, if any) by
SET_PARAMS, one RESET at stream time 0, then the whole stream in `chunk_ms` AUDIO chunks, never reset: the
board's frontend, model and recognizer run exactly as on a live microphone (stream time is audio time, so
feeding faster than real time changes nothing but the wall clock). Every SCORES frame (with its stream
time) and every DETECTION is kept; the detections are matched to the events with a tolerance
(kws.eval.metrics.streaming_metrics), and replayed: kws.recognizer over the board's own SCORES must give
exactly the board's detections (recorded as replay_matches_device).

Writes runs/<run>/eval/stream/: scores.npz (t_us int64 unwrapped stream time, scores int8 [N, labels]),
events.json, detections.json, summary.json, stream.wav (to listen to, or to replay with `kws emulate --mic`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from kws.config import DEVICE_FEATURE_TYPES
from kws.device.session import BoardSession
from kws.eval.errors import DeviceEvalError
from kws.eval.options import EvalOptions
from kws.fsutil import write_json
from kws.run import Run, as_run

if TYPE_CHECKING:
    from kws.config import DataConfig, FrontendConfig, KwsConfig
    from kws.device import protocol as P
    from kws.recognizer import RecognizerConfig

SPEECH_DBFS = -26.0
"""Active-speech RMS of a word at the highest SNR asked for (a typical close-talk level)."""
TRIM_FRAME_MS = 10
TRIM_BELOW_PEAK_DB = 25.0
PAD_S = 0.05
FADE_S = 0.01
NOISE_SEGMENT_S = (5.0, 20.0)
LEAD_IN_S = 1.0
"""No word in the first second: the board's first inference needs one second of audio."""
PEAK_LIMIT = 0.98


@dataclass(frozen=True)
class StreamOptions:
    """How the stream is made and judged (the `kws eval --stream` options)."""

    minutes: float = 10.0
    snr_db: tuple[float, ...] = (10.0,)
    """Speech-to-noise ratios; each placed word gets one of them (seeded)."""
    gap_s: tuple[float, float] = (1.5, 5.0)
    """Pause between the end of one placed clip and the start of the next, drawn uniformly."""
    unknown_share: float = 0.25
    """Share of placements that are other words (distractors) instead of keywords."""
    seed: int = 0
    noise_dir: str | None = None
    wav: str | None = None
    labels_csv: str | None = None
    chunk_ms: float = 20.0
    tolerance_s: float = 1.0
    """A detection up to this long after a keyword's end still matches it."""
    max_attempts: int = 3
    """Times the whole stream is fed again after a lost board frame or a reboot (the recognizer's history
    cannot be rebuilt half-way)."""

    def validate(self) -> None:
        if (self.wav is None) != (self.labels_csv is None):
            raise DeviceEvalError("--wav and --wav-labels go together: the recording and its label CSV")
        if self.wav is None:
            if self.minutes <= 0:
                raise DeviceEvalError(f"--minutes must be positive, got {self.minutes}")
            if not self.snr_db:
                raise DeviceEvalError("give at least one --snr-db")
            low, high = self.gap_s
            if not 0 <= low <= high:
                raise DeviceEvalError(f"--gap-s MIN MAX needs 0 <= MIN <= MAX, got {low} {high}")
            if not 0 <= self.unknown_share < 1:
                raise DeviceEvalError(f"the unknown-word share must be in [0, 1), got {self.unknown_share}")
        if not 0 < self.chunk_ms <= 64:
            raise DeviceEvalError(f"--chunk-ms must be in (0, 64] (an AUDIO frame holds at most 1,024 samples), "
                                  f"got {self.chunk_ms}")
        if self.tolerance_s < 0:
            raise DeviceEvalError(f"--tolerance-s must not be negative, got {self.tolerance_s}")


@dataclass
class LabelledStream:
    """int16 audio with its keyword events and distractors (times in seconds from the start)."""

    audio: np.ndarray
    sample_rate: int
    events: list[dict[str, Any]]
    """{"start_s", "end_s", "label", ...}: what should be detected."""
    distractors: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.audio.size / self.sample_rate

    def event_tuples(self) -> list[tuple[float, float, str]]:
        return [(float(e["start_s"]), float(e["end_s"]), str(e["label"])) for e in self.events]


# ------------------------------------------------------------------------------------------ building

def speech_extent(audio: np.ndarray, sample_rate: int, frame_ms: int = TRIM_FRAME_MS,
                  below_peak_db: float = TRIM_BELOW_PEAK_DB) -> tuple[int, int] | None:
    """(first, end) sample of the speech in a clip: the 10 ms frames within `below_peak_db` of the loudest
    one, first to last; None for a silent clip."""
    x = np.asarray(audio, dtype=np.float64)
    hop = max(1, sample_rate * frame_ms // 1000)
    frames = x.size // hop
    if frames == 0:
        return None
    rms = np.sqrt(np.mean(x[:frames * hop].reshape(frames, hop) ** 2, axis=1))
    peak = rms.max()
    if peak <= 1e-5:  # digital silence or near it (-100 dBFS): no speech to place
        return None
    active = np.nonzero(rms >= peak * 10 ** (-below_peak_db / 20))[0]
    return int(active[0] * hop), int((active[-1] + 1) * hop)


def noise_recordings(data_dir: str | Path, frontend: "FrontendConfig", noise_dir: str | Path | None = None) -> \
        tuple[list[np.ndarray], str]:
    """Background noise for the stream and where it came from: --noise DIR, else the dataset's
    _background_noise_/, else its _silence_/ recordings (test-set layout)."""
    from kws.config import BACKGROUND_NOISE_DIR, SILENCE_LABEL
    from kws.data.audio import load_audio

    candidates = [Path(noise_dir)] if noise_dir is not None else \
        [Path(data_dir) / BACKGROUND_NOISE_DIR, Path(data_dir) / SILENCE_LABEL]
    for folder in candidates:
        files = sorted(p for p in folder.glob("*.wav") if not p.name.startswith(".")) if folder.is_dir() else []
        if files:
            return [load_audio(p, frontend.sample_rate)[0] for p in files], str(folder)
    if noise_dir is not None:
        raise DeviceEvalError(f"--noise {noise_dir}: no .wav files there")
    raise DeviceEvalError(f"no background noise for the stream: neither {candidates[0]} nor {candidates[1]} has "
                          f".wav files; pass --noise DIR (e.g. a Speech Commands _background_noise_ folder)")


def noise_bed(recordings: Sequence[np.ndarray], samples: int, rms: float, rng: np.random.Generator,
              sample_rate: int) -> np.ndarray:
    """float64 [samples]: segments of the recordings (each at unit RMS first) at random offsets, cross-faded,
    scaled to `rms`."""
    usable = [np.asarray(r, dtype=np.float64) for r in recordings if r.size and np.sqrt(np.mean(r ** 2)) > 1e-6]
    if not usable:
        raise DeviceEvalError("the background noise recordings are silent")
    usable = [r / np.sqrt(np.mean(r ** 2)) for r in usable]
    fade = max(1, int(FADE_S * 2 * sample_rate))
    ramp = np.linspace(0.0, 1.0, fade)
    out = np.zeros(samples + fade)
    pos = 0
    while pos < samples:
        rec = usable[int(rng.integers(len(usable)))]
        length = int(rng.uniform(*NOISE_SEGMENT_S) * sample_rate)
        start = int(rng.integers(max(1, rec.size - length)))
        piece = np.resize(rec[start:start + length], length + fade)  # short recordings are tiled
        piece[:fade] *= ramp
        piece[-fade:] *= ramp[::-1]
        end = min(out.size, pos + piece.size)
        out[pos:end] += piece[:end - pos]
        pos += length
    out = out[:samples]
    return out * (rms / max(1e-12, np.sqrt(np.mean(out ** 2))))


def _dbfs(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


def build_stream(data: "DataConfig", frontend: "FrontendConfig", options: StreamOptions, *, split: str = "testing",
                 progress: bool = True) -> LabelledStream:
    """A labelled stream from the dataset (see the module docstring); the same for the same options."""
    from kws.data.audio import to_int16
    from kws.data.clips import load_clips
    from kws.data.index import build_splits

    options.validate()
    sr = frontend.sample_rate
    examples = build_splits(data, frontend)[split]
    keywords = [e for e in examples if e.label >= 2]
    unknown = [e for e in examples if e.label == 1 and not e.generated]
    if not keywords:
        raise DeviceEvalError(f"the {split} split of {data.data_dir} has no clips of {', '.join(data.wanted_words)}")
    bank = load_clips(keywords + unknown, data, frontend, progress=progress)
    rows = {id(e): i for i, e in enumerate(bank.examples)}
    pools = {"keyword": [e for e in keywords if id(e) in rows], "unknown": [e for e in unknown if id(e) in rows]}
    recordings, noise_source = noise_recordings(data.data_dir, frontend, options.noise_dir)

    rng = np.random.default_rng([int(options.seed) % (1 << 63), 0x5354524541])  # "STREA"
    samples = int(round(options.minutes * 60 * sr))
    top_snr = max(options.snr_db)
    noise_rms = 10 ** ((SPEECH_DBFS - top_snr) / 20)
    mix = noise_bed(recordings, samples, noise_rms, rng, sr)
    orders = {kind: rng.permutation(len(pool)) for kind, pool in pools.items()}
    used = {kind: 0 for kind in pools}
    pad, fade = int(PAD_S * sr), int(FADE_S * sr)
    events: list[dict[str, Any]] = []
    distractors: list[dict[str, Any]] = []
    cursor = int((LEAD_IN_S + rng.uniform(*options.gap_s)) * sr)
    labels = data.labels()
    silent_in_a_row = 0
    while True:
        kind = "unknown" if pools["unknown"] and rng.random() < options.unknown_share else "keyword"
        pool = pools[kind]
        example = pool[int(orders[kind][used[kind] % len(pool)])]
        used[kind] += 1
        snr = float(options.snr_db[int(rng.integers(len(options.snr_db)))])
        gap = rng.uniform(*options.gap_s)
        clip = np.asarray(bank.audio[rows[id(example)]], dtype=np.float64) / 32768.0
        extent = speech_extent(clip, sr)
        if extent is None:  # a silent file: nothing to place
            silent_in_a_row += 1
            if silent_in_a_row > len(pools["keyword"]) + len(pools["unknown"]):
                raise DeviceEvalError(f"every clip of the {split} split of {data.data_dir} is silent")
            continue
        silent_in_a_row = 0
        first, end = extent
        lo, hi = max(0, first - pad), min(clip.size, end + pad)
        segment = clip[lo:hi].copy()
        if cursor + segment.size > samples - int(0.5 * sr):
            break
        n_fade = min(fade, segment.size // 2)
        if n_fade:
            ramp = np.linspace(0.0, 1.0, n_fade)
            segment[:n_fade] *= ramp
            segment[-n_fade:] *= ramp[::-1]
        speech_rms = np.sqrt(np.mean(clip[first:end] ** 2))
        gain = noise_rms * 10 ** (snr / 20) / max(speech_rms, 1e-9)
        peak = np.abs(segment).max() * gain + noise_rms * 4  # room for the noise under the word
        if peak > PEAK_LIMIT:
            gain *= PEAK_LIMIT / peak
        mix[cursor:cursor + segment.size] += segment * gain
        start_s = (cursor + first - lo) / sr
        entry = {"start_s": round(start_s, 4), "end_s": round(start_s + (end - first) / sr, 4),
                 "label": labels[example.label] if kind == "keyword" else example.word,
                 "clip": example.path, "snr_db": round(_dbfs(speech_rms * gain) - _dbfs(noise_rms), 2)}
        (events if kind == "keyword" else distractors).append(entry)
        cursor += segment.size + int(gap * sr)
    audio = to_int16(np.clip(mix, -1.0, 1.0))
    source = {"kind": "generated", "split": split, "data_dir": str(data.data_dir), "noise": noise_source,
              "minutes": options.minutes, "snr_db": list(options.snr_db), "gap_s": list(options.gap_s),
              "unknown_share": options.unknown_share, "seed": options.seed, "noise_dbfs": round(_dbfs(noise_rms), 2),
              "speech_dbfs_at_top_snr": SPEECH_DBFS}
    return LabelledStream(audio, sr, events, distractors, source)


def load_labelled_wav(wav: str | Path, labels_csv: str | Path, keywords: Sequence[str],
                      sample_rate: int) -> LabelledStream:
    """A user's recording and its `start_s,end_s,label` CSV (rows of other labels become distractors)."""
    from kws.data.audio import load_audio, to_int16

    audio = to_int16(load_audio(wav, sample_rate)[0])
    duration = audio.size / sample_rate
    events: list[dict[str, Any]] = []
    distractors: list[dict[str, Any]] = []
    path = Path(labels_csv)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DeviceEvalError(f"cannot read the label CSV {path}: {exc}") from None
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 3:
            raise DeviceEvalError(f"{path} line {number}: expected start_s,end_s,label, got {','.join(row)!r}")
        try:
            start, end = float(row[0]), float(row[1])
        except ValueError:
            if number == 1:
                continue  # a header line
            raise DeviceEvalError(f"{path} line {number}: start_s and end_s must be seconds, got "
                                  f"{row[0]!r}, {row[1]!r}") from None
        label = row[2].strip()
        if not 0 <= start < end <= duration + 1e-6:
            raise DeviceEvalError(f"{path} line {number}: {start}..{end} s is not a span inside the "
                                  f"{duration:.2f} s of {wav}")
        entry = {"start_s": start, "end_s": end, "label": label}
        (events if label in keywords else distractors).append(entry)
    if not events:
        raise DeviceEvalError(f"{path} labels none of the wanted words ({', '.join(keywords)}): nothing to detect")
    events.sort(key=lambda e: e["start_s"])
    return LabelledStream(audio, sample_rate, events, distractors,
                          {"kind": "wav", "wav": str(wav), "labels": str(labels_csv)})


# ------------------------------------------------------------------------------------------ feeding

@dataclass
class StreamRecording:
    """What the board reported over a whole stream."""

    t_us: np.ndarray
    """int64 [N]: stream time of each inference, unwrapped (the board's u32 microseconds wrap at 71.6 min)."""
    t_u32: np.ndarray
    scores: np.ndarray
    """int8 [N, labels]."""
    detections: list["P.Detection"]
    errors: int
    attempts: int


def unwrap_u32(values: Sequence[int]) -> np.ndarray:
    """Monotonic int64 from u32 times that may wrap (steps below 2^31)."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return v
    steps = np.diff(v) & 0xFFFFFFFF
    return np.concatenate([[v[0]], v[0] + np.cumsum(steps)])


def feed_stream(session: BoardSession, audio: np.ndarray, params: "P.Params", chunk_samples: int, *,
                max_attempts: int = 3, progress: bool = True) -> StreamRecording:
    """SET_PARAMS, RESET at 0, the whole stream in chunks; fed again from the start if anything was lost."""
    from tqdm import tqdm

    from kws.device.link import BoardRefused, LinkError, LinkTimeout, PortError

    assert session.link is not None
    block = chunk_samples * max(1, 16000 // chunk_samples)  # about a second per link call, whole chunks
    last = ""
    reopen = False
    for attempt in range(1, max_attempts + 1):
        try:
            if reopen:
                session.reconnect()
                reopen = False
            elif attempt > 1:
                session.handshake()
            session.use_params(params)
            link = session.link
            lost_before = link.stats.lost_board_frames
            link.reset(0)
            scores: list = []
            detections: list = []
            errors = 0
            count = 0
            with tqdm(total=round(audio.size / 16000, 1), desc=f"stream ({session.board})", unit="s audio",
                      disable=not progress, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]"
                      ) as bar:
                for start in range(0, audio.size, block):
                    result = link.feed_audio(audio[start:start + block], chunk_samples)
                    scores.extend(result.scores)
                    detections.extend(result.detections)
                    errors += len(result.errors)
                    count = result.count
                    bar.update(min(block, audio.size - start) / 16000)
            inferences = [s.inference for s in scores]
            problems = []
            if count != audio.size:
                problems.append(f"the board acknowledged {count} of {audio.size} samples")
            if inferences != list(range(len(inferences))):
                problems.append("SCORES frames are missing (inference numbers have gaps)")
            if link.stats.lost_board_frames != lost_before:
                problems.append(f"{link.stats.lost_board_frames - lost_before} board frames were lost on the line")
            if not problems:
                t_u32 = np.array([s.time_us for s in scores], dtype=np.int64)
                return StreamRecording(unwrap_u32(t_u32), t_u32,
                                       np.array([s.scores for s in scores], dtype=np.int8).reshape(len(scores), -1),
                                       detections, errors, attempt)
            last = "; ".join(problems)
        except PortError as exc:  # the board reset and its USB port went away: reopen it, feed again
            last = str(exc)
            reopen = True
        except (BoardRefused, LinkTimeout, LinkError) as exc:
            last = str(exc)
    raise DeviceEvalError(f"the stream could not be fed whole to the board on {session.port} in {max_attempts} "
                          f"attempts; the last problem: {last}")


def replay_detections(config: "RecognizerConfig", labels: Sequence[str], t_u32: np.ndarray,
                      scores: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(inference, time_us, label, score) of every detection kws.recognizer makes on the board's SCORES."""
    from kws.recognizer import detections

    return detections(config, labels, zip(t_u32.tolist(), scores.tolist()))


# ------------------------------------------------------------------------------------------ the command

def evaluate_stream(run: "Run | str | Path", options: EvalOptions, stream_options: StreamOptions, *,
                    config: "KwsConfig | None" = None, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """`kws eval --stream`: build (or load) the stream, feed it, write eval/stream/; returns the summary."""
    from kws.config import replace as config_replace
    from kws.data.audio import write_wav
    from kws.device import protocol as P
    from kws.device.artifacts import ExportedModel
    from kws.eval.metrics import match_detections, streaming_metrics
    from kws.fsutil import atomic_path, atomic_write_text
    from kws.recognizer import RecognizerConfig

    options.validate()
    stream_options.validate()
    run = as_run(run)
    config = config or run.require_config()
    exported = ExportedModel.load(run, config=config)
    if config.frontend.feature_type not in DEVICE_FEATURE_TYPES:
        raise DeviceEvalError(f"a stream is audio, and the board has no {config.frontend.feature_type} frontend: "
                              f"streams need a model on the board's own features ({', '.join(DEVICE_FEATURE_TYPES)})")
    data = config.data if options.data_dir is None else config_replace(config.data, data_dir=str(options.data_dir))
    labels = list(exported.labels)
    sr = config.frontend.sample_rate
    if stream_options.wav is not None:
        stream = load_labelled_wav(stream_options.wav, stream_options.labels_csv or "", config.data.wanted_words, sr)
    else:
        stream = build_stream(data, config.frontend, stream_options, split=options.split, progress=options.progress)
    if say:
        say(f"stream: {stream.duration_s / 60:.1f} min, {len(stream.events)} keywords, "
            f"{len(stream.distractors)} distractors")
    recognizer = RecognizerConfig.from_deploy(config.deploy)
    recognizer.validate()
    chunk = max(1, int(round(stream_options.chunk_ms * sr / 1000)))

    link = config_replace(options.link_settings, chunk_samples=chunk)
    with BoardSession(exported, port=options.port, emulate=options.emulate, board=options.board, feed="audio",
                      link=link, build_dir=options.build_dir) as session:
        assert session.info is not None
        params = P.Params(**asdict(recognizer.recognizer_settings()), infer_every=session.info.params.infer_every,
                          flags=int(P.Flag.SCORES))
        recording = feed_stream(session, stream.audio, params, chunk, max_attempts=stream_options.max_attempts,
                                progress=options.progress)
        board = session.board
        link = session.link_stats()

    device = [(d.inference, d.time_us, d.label, d.score) for d in recording.detections]
    replayed = replay_detections(recognizer, labels, recording.t_u32, recording.scores)
    t_of = {i: int(t) for i, t in enumerate(recording.t_us.tolist())}  # unwrapped time by inference
    found = [(t_of.get(d.inference, d.time_us) / 1e6, labels[d.label]) for d in recording.detections]
    events = stream.event_tuples()
    suppression_s = recognizer.suppression_ms / 1000.0
    metrics = streaming_metrics(found, events, stream.duration_s, stream_options.tolerance_s, suppression_s)
    matching = match_detections(found, events, stream_options.tolerance_s)
    matched = {d: (e, delay) for e, d, delay in matching["matched"]}  # type: ignore[misc]
    detections_json = []
    for i, d in enumerate(recording.detections):
        hit = matched.get(i)
        detections_json.append({"t_s": found[i][0], "time_us": t_of.get(d.inference, d.time_us),
                                "inference": d.inference, "label": labels[d.label], "label_index": d.label,
                                "score": d.score, "event": None if hit is None else hit[0],
                                "delay_s": None if hit is None else round(hit[1], 4)})
    snr: Any = stream.source.get("snr_db")
    if isinstance(snr, list) and len(snr) == 1:
        snr = snr[0]
    summary = {
        "duration_s": stream.duration_s, "snr_db": snr, "recognizer": {k: v for k, v in asdict(recognizer).items()},
        "tolerance_s": stream_options.tolerance_s, "metrics": metrics,
        "replay_matches_device": replayed == device, "device_detections": len(device),
        "replay_detections": len(replayed), "inferences": int(recording.scores.shape[0]), "labels": labels,
        "chunk_ms": stream_options.chunk_ms, "board": board, "source": stream.source,
        "events": len(stream.events), "distractors": len(stream.distractors), "model_errors": recording.errors,
        "attempts": recording.attempts, "link": link,
    }
    out = run.stream_dir
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, t_us=recording.t_us, scores=recording.scores)
    atomic_write_text(out / "events.json", json.dumps({"events": stream.events, "distractors": stream.distractors,
                                                       "duration_s": stream.duration_s, "source": stream.source},
                                                      indent=1) + "\n")
    write_json(out / "detections.json", detections_json)
    write_wav(out / "stream.wav", stream.audio, sr)
    write_json(out / "summary.json", summary)
    return summary


def load_stream_recording(run: "Run | str | Path") -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, str]],
                                                         dict[str, Any]]:
    """(t_us, scores, events, summary) of runs/<run>/eval/stream/ (what kws calibrate reads)."""
    run = as_run(run)
    folder = run.stream_dir
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        events_doc = json.loads((folder / "events.json").read_text(encoding="utf-8"))
        data = np.load(folder / "scores.npz")
        t_us, scores = np.asarray(data["t_us"], dtype=np.int64), np.asarray(data["scores"], dtype=np.int8)
    except FileNotFoundError as exc:
        raise DeviceEvalError(f"{exc.filename} is missing: run `kws eval --run {run.name} --stream "
                              f"(--port PORT | --emulate)` first") from None
    except (OSError, ValueError, KeyError) as exc:
        raise DeviceEvalError(f"{folder} is damaged ({exc}): run `kws eval --stream` again") from None
    events = [(float(e["start_s"]), float(e["end_s"]), str(e["label"])) for e in events_doc["events"]]
    return t_us, scores, events, summary


def describe_stream(summary: dict[str, Any]) -> list[str]:
    """Lines for the terminal."""
    m = summary["metrics"]
    r = summary["recognizer"]
    return [
        f"stream of {summary['duration_s'] / 60:.1f} min ({summary['board']}): {int(m['events'])} keywords, "
        f"{int(m['detections'])} detections; {m['false_accepts_per_hour']:.1f} false accepts per hour, "
        f"false reject rate {m['false_reject_rate']:.1%}, mean delay {m['mean_delay_s'] * 1000:.0f} ms after the word",
        f"  recognizer: window {r['average_window_ms']} ms, threshold > {r['detection_threshold']}, suppression "
        f"{r['suppression_ms']} ms, minimum count {r['minimum_count']}; the Python recognizer on the board's scores "
        f"{'gives exactly' if summary['replay_matches_device'] else 'DIFFERS FROM'} the board's detections",
    ]


__all__ = ["LabelledStream", "StreamOptions", "StreamRecording", "build_stream", "describe_stream",
           "evaluate_stream", "feed_stream", "load_labelled_wav", "load_stream_recording", "noise_bed",
           "noise_recordings", "replay_detections", "speech_extent", "unwrap_u32"]
