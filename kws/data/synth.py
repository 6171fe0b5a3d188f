"""`kws data synth`: the offline synthetic keyword set, text-to-speech in Speech Commands layout.

With no internet there is no Google Speech Commands, so the default dataset is synthesised with
espeak-ng (the pip package `espeakng-loader`, no system install needed) and laid out exactly like
the real release, so every later stage reads either without knowing which it got:

    <out>/<word>/<speaker_id>_nohash_<n>.wav      16 kHz mono 16-bit, exactly clip_duration_ms long
    <out>/_background_noise_/*.wav                white, pink, brown noise, mains hum, babble
    <out>/testing_list.txt, validation_list.txt   the speaker-hash split (10 % / 10 %) as in the release
    <out>/README.md                               what it is, seed, tool versions, licence
    <out>/manifest.json                           config, counts, SHA-256 of every file (written last)

    kws data synth --config kws/configs/demo.toml --out data/synth [--seed 7] [--workers 2] [--replace]

    from kws.config import SynthConfig, FrontendConfig
    from kws.data.synth import synthesize
    print(synthesize(SynthConfig(out_dir="data/synth"), FrontendConfig()).summary())

A "speaker" is one espeak-ng voice (an English accent plus a variant such as +m3, +f2, +klatt, +croak,
+whisper) with a base pitch, pitch range and speed; its 8-hex-digit id is a hash of those, so the
hash split keeps a speaker in one split, as in the real dataset. Each clip jitters its speaker's
speed and pitch a little, is placed at a random point of the window (never cut off: long words are
re-spoken faster), peak-normalised to a random gain, and gets a faint noise floor.

Reproducible: every random choice comes from numpy SeedSequence((seed, tag, ...)) keyed by the word
and clip index, and every clip is synthesised from the same espeak-ng state (see kws.data.espeak),
so the same seed and config give byte-identical files whatever the worker count.
Atomic: everything is built in a temporary folder beside out_dir and renamed at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import signal
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from kws.config import BACKGROUND_NOISE_DIR, ConfigError, FrontendConfig, SynthConfig
from kws.data import noise as noisegen
from kws.data.audio import to_int16
from kws.data.espeak import (ISOLATION_AVAILABLE, RATE_MAX, EspeakLocation, Synthesizer, espeak_version, find_espeak,
                             list_languages, list_variants)
from kws.data.split import SPLITS, which_set
from kws.errors import DataError, KwsError
from kws.fsutil import atomic_directory

# English accents shipped with espeak-ng; the ones present in the data folder are used.
ACCENTS: tuple[str, ...] = (
    "en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
# Voice variants that still sound like a person ("" = the accent's own voice). Left out on purpose:
# the robot and echo effects (robosoft*, UniRobot, anikaRobot, Demonic, RicishayMax*, announcer),
# variants that force their own language (Storm) and test files (fast).
VARIANTS: tuple[str, ...] = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "croak", "whisper", "whisperf",
    "Alex", "Andy", "Annie", "Denis", "Gene", "Jacky", "Lee", "Mario", "Michael", "Mike", "adam", "aunty",
    "belinda", "benjamin", "david", "ed", "edward", "grandma", "grandpa", "gustave", "ian", "john", "linda",
    "marcelo", "max", "michel", "norbert", "paul", "quincy", "rob", "robert", "shelby", "steph", "travis",
    "victor",
)
# Babble talkers speak pseudo-words in many languages: speech-like, but never one of the dataset's words.
BABBLE_LANGUAGES: tuple[str, ...] = ACCENTS + (
    "de", "nl", "af", "fr", "es", "it", "pt", "sv", "da", "pl", "cs", "fi", "hu", "ro", "id", "sw",
)
PITCH_RANGE: tuple[int, int] = (20, 90)
"""espeak-ng pitch range (0 monotone .. 99) of a speaker; not in SynthConfig (ask before adding it)."""
CLIPS_PER_SPEAKER_PER_WORD = 2
"""Average clips a speaker says of a keyword (the speaker pool is sized from it)."""
MIN_SPEAKERS = 10
BABBLE_TALKERS = 6
BABBLE_WORDS_PER_UTTERANCE = 6
NOISE_FLOOR_DBFS: tuple[float, float] = (-75.0, -55.0)
"""RMS of the per-clip noise floor: quiet, but a clip is never digital silence (real microphones hiss)."""
SPLIT_PERCENTAGES = (10.0, 10.0)
"""validation, testing: the lists are written exactly as the v0.02 release's."""

# Tags that keep the random streams of the different choices apart.
_TAG_SPEAKERS, _TAG_ASSIGN, _TAG_CLIP, _TAG_BABBLE, _TAG_NOISE = 1, 2, 3, 4, 5
_MANIFEST_FORMAT = "kws-synth-manifest/1"
_BAD_WORD = re.compile(r"^[_.]|[/\\\0]|^\s|\s$")


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: a voice with a base pitch, pitch range and speed."""

    speaker_id: str
    """8 hex digits, the file-name prefix the split hashes."""
    language: str
    """espeak-ng language voice (an English accent), e.g. 'en-gb-scotland'."""
    variant: str
    """espeak-ng voice variant, e.g. 'm3' or 'whisper'; '' for the accent's own voice."""
    pitch: int
    """Base pitch, 0-99."""
    pitch_range: int
    """Pitch range, 0 (monotone) - 99."""
    rate: int
    """Speaking rate in words per minute."""

    @property
    def voice(self) -> str:
        """The name espeak_SetVoiceByName takes."""
        return f"{self.language}+{self.variant}" if self.variant else self.language


@dataclass(frozen=True)
class SynthReport:
    """What `synthesize` wrote."""

    out_dir: Path
    """The finished dataset folder."""
    counts: dict[str, int]
    """Clips per word, keywords first."""
    keywords: tuple[str, ...]
    """Which of the words are keywords (the rest feed _unknown_)."""
    split_counts: dict[str, int]
    """Clips per split (training / validation / testing) by the speaker hash."""
    speakers: int
    """Distinct speakers."""
    voices: tuple[str, ...]
    """espeak-ng voices (accent+variant) the speakers use."""
    background: tuple[str, ...]
    """File names written in _background_noise_/."""
    background_seconds: float
    """Length of each background recording."""
    seconds: float
    """Wall-clock time taken."""
    workers: int
    """Worker processes used."""
    seed: int
    """The seed."""
    espeak_version: str
    """espeak-ng version that spoke."""

    @property
    def total_clips(self) -> int:
        """All word clips."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """A few human lines."""
        keyword_part = ", ".join(f"{w} {self.counts[w]}" for w in self.keywords)
        unknown = [w for w in self.counts if w not in self.keywords]
        unknown_clips = sum(self.counts[w] for w in unknown)
        accents = sorted({v.split("+")[0] for v in self.voices})
        variants = sorted({v.split("+")[1] for v in self.voices if "+" in v})
        rate = self.total_clips / self.seconds if self.seconds > 0 else float("inf")
        lines = [
            f"Synthesised {self.total_clips:,} clips into {self.out_dir} in {self.seconds:.1f} s "
            f"({rate:.0f} clips/s, {self.workers} worker{'s' if self.workers != 1 else ''}, seed {self.seed}).",
            f"  keywords: {keyword_part}; unknown: {len(unknown)} words, {unknown_clips:,} clips",
            f"  {self.speakers} speakers from {len(accents)} accents x {len(variants)} variants "
            f"(espeak-ng {self.espeak_version})",
            "  split by speaker hash: " + ", ".join(f"{s} {self.split_counts.get(s, 0):,}" for s in SPLITS),
            f"  {BACKGROUND_NOISE_DIR}/: {', '.join(self.background)} ({self.background_seconds:g} s each)",
        ]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ planning

@dataclass(frozen=True)
class _Job:
    """Everything a worker needs besides the task (sent once, to the pool initializer)."""

    cfg: SynthConfig
    sample_rate: int
    clip_samples: int
    location: EspeakLocation


@dataclass(frozen=True)
class _ClipTask:
    relpath: str
    word: str
    entropy: tuple[int, ...]
    speaker: Speaker


@dataclass(frozen=True)
class _BabbleTask:
    talker: int
    index: int
    text: str
    voice: str
    rate: int
    pitch: int
    pitch_range: int
    seed: int


def _key(text: str) -> int:
    """A stable 64-bit integer for a string (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(entropy)))


def _available(location: EspeakLocation) -> tuple[list[str], list[str], list[str]]:
    """Accents, variants and babble languages of our lists that this espeak-ng data folder has."""
    languages = list_languages(location.data_dir)
    variants = list_variants(location.data_dir)
    accents = [a for a in ACCENTS if a in languages]
    if not accents:
        raise KwsError(f"espeak-ng's data in {location.data_dir} has none of the English voices {', '.join(ACCENTS)}")
    return accents, [v for v in VARIANTS if v == "" or v in variants], [b for b in BABBLE_LANGUAGES if b in languages]


def plan_speakers(cfg: SynthConfig, accents: list[str], variants: list[str]) -> list[Speaker]:
    """The speaker pool: about CLIPS_PER_SPEAKER_PER_WORD clips of each keyword per speaker."""
    most = max(cfg.clips_per_keyword, cfg.clips_per_unknown_word)
    count = max(MIN_SPEAKERS, math.ceil(most / CLIPS_PER_SPEAKER_PER_WORD))
    rng = _rng(cfg.seed, _TAG_SPEAKERS)
    speakers: dict[str, Speaker] = {}
    for _attempt in range(count * 20):
        if len(speakers) == count:
            break
        language = accents[rng.integers(len(accents))]
        variant = variants[rng.integers(len(variants))]
        pitch = int(rng.integers(cfg.min_pitch, cfg.max_pitch + 1))
        pitch_range = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
        rate = int(rng.integers(cfg.min_speed_wpm, cfg.max_speed_wpm + 1))
        # The id names the voice settings, so the same settings are the same speaker in any dataset.
        sid = hashlib.sha1(f"{language}+{variant}|{pitch}|{pitch_range}|{rate}".encode()).hexdigest()[:8]
        speakers.setdefault(sid, Speaker(sid, language, variant, pitch, pitch_range, rate))
    return list(speakers.values())


def plan_clips(cfg: SynthConfig, speakers: list[Speaker]) -> list[_ClipTask]:
    """Every clip: its word, speaker, file name and random stream (keyed by seed, word and index)."""
    tasks: list[_ClipTask] = []
    for word, n in [(w, cfg.clips_per_keyword) for w in cfg.keywords] + \
                   [(w, cfg.clips_per_unknown_word) for w in cfg.unknown_words]:
        chosen = _rng(cfg.seed, _TAG_ASSIGN, _key(word)).integers(len(speakers), size=n)
        repeats: Counter[str] = Counter()
        for index, s in enumerate(chosen):
            speaker = speakers[int(s)]
            relpath = f"{word}/{speaker.speaker_id}_nohash_{repeats[speaker.speaker_id]}.wav"
            repeats[speaker.speaker_id] += 1
            tasks.append(_ClipTask(relpath, word, (cfg.seed, _TAG_CLIP, _key(word), index), speaker))
    return tasks


def _pseudo_word(rng: np.random.Generator, forbidden: set[str]) -> str:
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ("", "", "", "n", "m", "r", "s", "l")
    while True:
        word = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))]
                       for _ in range(int(rng.integers(2, 4))))
        word += codas[rng.integers(len(codas))]
        if word not in forbidden:
            return word


def plan_babble(cfg: SynthConfig, languages: list[str], variants: list[str]) -> list[_BabbleTask]:
    """Utterances for the babble recording: enough per talker to cover background_seconds."""
    rng = _rng(cfg.seed, _TAG_BABBLE)
    forbidden = {w.lower() for w in (*cfg.keywords, *cfg.unknown_words)}
    # An utterance of six 2-3 syllable words lasts about 2.5-4 s at these speeds; 2.2 s keeps a margin.
    per_talker = math.ceil(cfg.background_seconds / 2.2) + 1
    tasks = []
    for talker in range(BABBLE_TALKERS):
        for index in range(per_talker):
            text = " ".join(_pseudo_word(rng, forbidden) for _ in range(BABBLE_WORDS_PER_UTTERANCE))
            language = languages[rng.integers(len(languages))]
            variant = variants[rng.integers(len(variants))]
            tasks.append(_BabbleTask(
                talker, index, text, f"{language}+{variant}" if variant else language,
                int(rng.integers(cfg.min_speed_wpm, cfg.max_speed_wpm + 1)),
                int(rng.integers(cfg.min_pitch, cfg.max_pitch + 1)),
                int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)), int(rng.integers(1, 2**31 - 1))))
    return tasks


# ------------------------------------------------------------------------------------------ rendering

@functools.lru_cache(maxsize=4)
def _resample_filter(up: int, down: int) -> np.ndarray:
    """resample_poly's own default low-pass (Kaiser, beta 5), designed once instead of on every call."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly), e.g. espeak-ng's 22050 Hz to 16 kHz."""
    from scipy.signal import resample_poly

    if rate_in == rate_out:
        return audio.astype(np.float64)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    return resample_poly(audio.astype(np.float64), up, down, window=_resample_filter(up, down))


def trim_silence(audio: np.ndarray, sample_rate: int, *, threshold_db: float = -45.0,
                 margin_ms: float = 15.0) -> np.ndarray:
    """Cut leading/trailing stretches quieter than threshold_db below the loudest 10 ms frame."""
    frame = max(1, sample_rate // 100)
    n_frames = -(-len(audio) // frame)
    if n_frames == 0:
        return audio
    padded = np.zeros(n_frames * frame)
    padded[:len(audio)] = audio
    energy = np.mean(padded.reshape(n_frames, frame) ** 2, axis=1)
    if not energy.max() > 0:
        return audio[:0]
    active = np.flatnonzero(energy > energy.max() * 10.0 ** (threshold_db / 10.0))
    margin = int(sample_rate * margin_ms / 1000)
    start = max(0, active[0] * frame - margin)
    end = min(len(audio), (active[-1] + 1) * frame + margin)
    return audio[start:end]


def _speak(tts: Synthesizer, text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int,
           sample_rate: int) -> np.ndarray:
    raw = tts.synth(text, voice, rate=rate, pitch=pitch, pitch_range=pitch_range, seed=seed)
    speech = trim_silence(_resample(raw / 32768.0, tts.sample_rate, sample_rate), sample_rate)
    if speech.size == 0 or not np.any(speech):
        raise DataError(f"espeak-ng produced no sound for {text!r} with voice {voice!r}")
    return speech


def _speak_fitting(tts: Synthesizer, text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int,
                   sample_rate: int, max_samples: int) -> np.ndarray:
    """Speak `text`, re-speaking faster (up to espeak-ng's limit) until it fits in max_samples."""
    while True:
        speech = _speak(tts, text, voice, rate, pitch, pitch_range, seed, sample_rate)
        if len(speech) <= max_samples:
            return speech
        if rate >= RATE_MAX:
            raise DataError(
                f"{text!r} lasts {len(speech) / sample_rate:.2f} s even at {RATE_MAX} words per minute "
                f"(voice {voice}), longer than the {max_samples / sample_rate:.2f} s a clip leaves for it; "
                "use a shorter word or a longer frontend.clip_duration_ms")
        rate = min(RATE_MAX, math.ceil(rate * len(speech) / max_samples * 1.05))


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A canonical 44-byte-header PCM_16 WAV, as the real release's files are."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _render_clip(task: _ClipTask, tts: Synthesizer, job: _Job) -> tuple[str, str, bytes]:
    """One clip as WAV bytes: ('clip', relpath, data)."""
    cfg = job.cfg
    rng = _rng(*task.entropy)
    # Every draw happens up front, in a fixed order, so a re-spoken (faster) word changes nothing else.
    speaker = task.speaker
    rate = int(np.clip(round(speaker.rate * rng.uniform(0.92, 1.08)), cfg.min_speed_wpm, cfg.max_speed_wpm))
    pitch = int(np.clip(speaker.pitch + rng.integers(-3, 4), cfg.min_pitch, cfg.max_pitch))
    pitch_range = int(np.clip(speaker.pitch_range + rng.integers(-5, 6), 0, 99))
    espeak_seed = int(rng.integers(1, 2**31 - 1))
    gain_db = float(rng.uniform(cfg.min_gain_db, cfg.max_gain_db))
    floor_db = float(rng.uniform(*NOISE_FLOOR_DBFS))
    placement = float(rng.uniform())

    margin = job.sample_rate // 50  # 20 ms kept free at both ends, so no onset touches the edge
    speech = _speak_fitting(tts, task.word, speaker.voice, rate, pitch, pitch_range, espeak_seed,
                            job.sample_rate, job.clip_samples - 2 * margin)
    speech = speech * (noisegen.db_to_gain(gain_db) / np.max(np.abs(speech)))
    clip = np.zeros(job.clip_samples)
    offset = margin + int(placement * (job.clip_samples - 2 * margin - len(speech)))
    clip[offset:offset + len(speech)] = speech
    clip += noisegen.noise_floor(rng, job.clip_samples, floor_db)
    return "clip", task.relpath, _wav_bytes(to_int16(clip), job.sample_rate)


def _render_babble(task: _BabbleTask, tts: Synthesizer, job: _Job) -> tuple[str, int, int, np.ndarray]:
    """One babble utterance at the dataset rate, int16 at -20 dBFS RMS: ('babble', talker, index, samples)."""
    speech = _speak(tts, task.text, task.voice, task.rate, task.pitch, task.pitch_range, task.seed, job.sample_rate)
    return "babble", task.talker, task.index, to_int16(noisegen.normalise(speech, rms_dbfs=-20.0))


def _render(tasks: list, tts: Synthesizer, job: _Job) -> list[tuple]:
    return [_render_babble(t, tts, job) if isinstance(t, _BabbleTask) else _render_clip(t, tts, job)
            for t in tasks]


_WORKER: tuple[_Job, Synthesizer] | None = None


def _init_worker(job: _Job) -> None:
    """Worker initializer: the parent alone handles Ctrl-C; espeak-ng starts once per worker, here."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = (job, Synthesizer(job.location))  # its helper process ends when this worker does


def _worker_render(tasks: list) -> list[tuple]:
    assert _WORKER is not None, "_init_worker did not run"
    job, tts = _WORKER
    return _render(tasks, tts, job)


def _run_tasks(tasks: list, job: _Job, workers: int) -> Iterator[tuple]:
    """Rendered results in completion order: in this process for one worker, else in a process pool.

    Workers only compute; the parent writes every file, so once the parent stops (error, Ctrl-C)
    nothing more lands in the output folder, even while a worker finishes its current batch.
    """
    if workers <= 1:
        with Synthesizer(job.location) as tts:
            for task in tasks:
                yield from _render([task], tts, job)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    size = max(1, min(16, len(tasks) // (workers * 6)))
    batches = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    # spawn, not fork: the parent may hold threads (torch, tqdm's monitor) that fork would copy half-dead.
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(job,))
    try:
        pending = {executor.submit(_worker_render, batch) for batch in batches}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
    except BrokenProcessPool:
        executor.shutdown(wait=False, cancel_futures=True)
        raise KwsError("a synthesis worker process died (see the messages above); when calling synthesize() "
                       "from a script, put the call under `if __name__ == \"__main__\":` (workers are spawned "
                       "and import the main module)") from None
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


# ------------------------------------------------------------------------------------------ background

def _background(cfg: SynthConfig, sample_rate: int, babble: dict[int, dict[int, np.ndarray]]) -> dict[str, np.ndarray]:
    """The _background_noise_ recordings, float in [-1, 1], by file name."""
    n = int(round(cfg.background_seconds * sample_rate))
    rng = [_rng(cfg.seed, _TAG_NOISE, k) for k in range(6)]
    talkers = [[u / 32768.0 for _, u in sorted(babble.get(t, {}).items())] for t in range(BABBLE_TALKERS)]
    return {
        "white_noise.wav": noisegen.normalise(noisegen.white_noise(rng[0], n), rms_dbfs=-16.0),
        "pink_noise.wav": noisegen.normalise(noisegen.colored_noise(rng[1], n, 1.0, sample_rate=sample_rate,
                                                                    highpass_hz=10.0), rms_dbfs=-16.0),
        "brown_noise.wav": noisegen.normalise(noisegen.colored_noise(rng[2], n, 2.0, sample_rate=sample_rate,
                                                                     highpass_hz=20.0), rms_dbfs=-16.0),
        "mains_hum_50hz.wav": noisegen.normalise(noisegen.mains_hum(rng[3], n, sample_rate, mains_hz=50.0),
                                                 rms_dbfs=-20.0),
        "mains_hum_60hz.wav": noisegen.normalise(noisegen.mains_hum(rng[4], n, sample_rate, mains_hz=60.0),
                                                 rms_dbfs=-20.0),
        "babble.wav": noisegen.normalise(noisegen.mix_talkers(rng[5], talkers, n, sample_rate), rms_dbfs=-18.0),
    }


_BACKGROUND_README = """\
# Background noise (synthetic)

Long 16 kHz mono 16-bit recordings, mixed under training clips and cut into `_silence_` examples,
like the real Speech Commands `_background_noise_/` folder. All are generated, none recorded:

- white_noise.wav: Gaussian white noise.
- pink_noise.wav: 1/f noise (equal energy per octave).
- brown_noise.wav: 1/f^2 noise (a low rumble), high-passed at 20 Hz.
- mains_hum_50hz.wav, mains_hum_60hz.wav: electrical hum with harmonics, slow drift, faint hiss.
- babble.wav: {talkers} overlapping espeak-ng talkers speaking pseudo-words in several languages
  (never a word of this dataset).
"""


# ------------------------------------------------------------------------------------------ metadata

def _tool_versions(espeak: str, location: EspeakLocation) -> dict[str, str]:
    import scipy
    import soundfile

    from kws import __version__

    return {
        "kws": __version__,
        "espeak-ng": espeak,
        "espeak-ng source": location.source,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
    }


def _recorded_config(cfg: SynthConfig, frontend: FrontendConfig) -> dict:
    """The settings that shape the files (not out_dir or workers, which do not change a byte)."""
    synth = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()
             if k not in ("out_dir", "workers")}
    return {"synth": synth, "frontend": {"sample_rate": frontend.sample_rate,
                                         "clip_duration_ms": frontend.clip_duration_ms}}


def _bullet(text: str) -> str:
    """One Markdown list item, wrapped at 100 columns (Markdown joins the lines again)."""
    return textwrap.fill(text, width=100, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False)


def _readme(cfg: SynthConfig, frontend: FrontendConfig, counts: dict[str, int], splits: dict[str, int],
            speakers: list[Speaker], versions: dict[str, str]) -> str:
    accents = sorted({s.language for s in speakers})
    variants = sorted({s.variant for s in speakers if s.variant}, key=str.lower)
    items = [
        "Keywords: " + ", ".join(f"{w} ({counts[w]} clips)" for w in cfg.keywords) + ".",
        f"Unknown words ({cfg.clips_per_unknown_word} clips each): {', '.join(cfg.unknown_words) or 'none'}.",
        f"{len(speakers)} synthetic speakers. A speaker is an espeak-ng voice with a base pitch, pitch range "
        f"and speed; files are `<word>/<speaker_id>_nohash_<n>.wav`, the speaker id being a hash of those "
        f"settings. Accents: {', '.join(accents)}. Variants: {', '.join(variants) or 'none'}.",
        f"Clips: {frontend.sample_rate} Hz mono 16-bit PCM WAV, exactly {frontend.clip_duration_ms} ms; "
        f"{cfg.min_speed_wpm}-{cfg.max_speed_wpm} words per minute, pitch {cfg.min_pitch}-{cfg.max_pitch}, "
        f"peak level {cfg.min_gain_db:g} to {cfg.max_gain_db:g} dBFS, the word at a random place (never cut "
        "off), a faint noise floor.",
        f"`{BACKGROUND_NOISE_DIR}/`: white, pink and brown noise, 50 and 60 Hz mains hum, babble; "
        f"{cfg.background_seconds:g} s each.",
        "`testing_list.txt`, `validation_list.txt`: the speaker-hash split of the release (10 % / 10 %): "
        f"training {splits['training']}, validation {splits['validation']}, testing {splits['testing']} clips.",
        "`manifest.json`: the settings used and the SHA-256 of every file (written last).",
    ]
    tools = "\n".join(f"- {name}: {version}" for name, version in versions.items())
    return f"""\
# Synthetic keyword set (kws data synth)

An offline stand-in for Google Speech Commands: every clip is text-to-speech from espeak-ng, laid
out exactly like the Speech Commands release, so the same tools read both. Synthetic speech is far
less varied than real speakers: use it to exercise the pipeline, not to judge a model.

{chr(10).join(_bullet(item) for item in items)}

Seed: {cfg.seed}. The same seed, settings and tool versions give byte-identical files, whatever the
number of workers. Rebuild with `kws data synth --seed {cfg.seed}` and the `[synth]` settings
recorded in manifest.json.

Tools:
{tools}

Licence: generated data, free to use for any purpose without conditions (CC0 1.0 public-domain
dedication). espeak-ng (GPL-3.0-or-later) only produced the audio; its licence does not extend to it.
"""


# ------------------------------------------------------------------------------------------ entry point

def _check_words(cfg: SynthConfig) -> None:
    for word in (*cfg.keywords, *cfg.unknown_words):
        if not word or _BAD_WORD.search(word):
            raise ConfigError(f"synth word {word!r} cannot be a folder name (empty, a path, leading '_' or '.', "
                              "or surrounding spaces)")
    words = [*cfg.keywords, *cfg.unknown_words]
    duplicates = sorted(w for w, c in Counter(w.lower() for w in words).items() if c > 1)  # case-blind file systems
    if duplicates:
        raise ConfigError(f"synth words appear twice: {duplicates}")
    if not cfg.background_seconds > 0:
        raise ConfigError(f"synth.background_seconds must be positive, got {cfg.background_seconds}")


def synthesize(cfg: SynthConfig, frontend: FrontendConfig, *, replace: bool = False,
               progress: bool = True) -> SynthReport:
    """Write the synthetic dataset to cfg.out_dir (atomically) and report what was written."""
    started = time.perf_counter()
    cfg.validate()
    frontend.validate()
    _check_words(cfg)
    out_dir = Path(cfg.out_dir)
    if out_dir.exists() and not replace:
        raise KwsError(f"{out_dir} already exists; pass --replace (replace=True) to overwrite it, "
                       "or choose another --out")
    location = find_espeak()
    version = espeak_version(location)
    accents, variants, babble_languages = _available(location)

    speakers = plan_speakers(cfg, accents, variants)
    clips = plan_clips(cfg, speakers)
    babble_tasks = plan_babble(cfg, babble_languages, variants)
    workers = cfg.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(clips) + len(babble_tasks)))

    from tqdm import tqdm

    with contextlib.ExitStack() as stack:
        try:
            root = stack.enter_context(atomic_directory(out_dir, replace=replace))
        except FileExistsError:  # out_dir appeared since the check above
            raise KwsError(f"{out_dir} already exists; pass --replace (replace=True) to overwrite it") from None
        job = _Job(cfg, frontend.sample_rate, frontend.clip_samples, location)
        for word in (*cfg.keywords, *cfg.unknown_words):
            (root / word).mkdir()
        (root / BACKGROUND_NOISE_DIR).mkdir()
        files: dict[str, tuple[str, int]] = {}
        babble: dict[int, dict[int, np.ndarray]] = {}
        # Babble first: its utterances are the longest tasks, so they should not finish last.
        bar = stack.enter_context(tqdm(total=len(clips) + len(babble_tasks), unit="clip", desc="kws data synth",
                                       disable=not progress, dynamic_ncols=True))
        # closing(): stop the workers or the helper process at once, even if this loop fails.
        with contextlib.closing(_run_tasks([*babble_tasks, *clips], job, workers)) as results:
            for result in results:
                if result[0] == "babble":
                    babble.setdefault(result[1], {})[result[2]] = result[3]
                else:
                    _write(root, result[1], result[2], files)
                bar.update(1)
        bar.close()

        background = _background(cfg, frontend.sample_rate, babble)
        for name, audio in background.items():
            _write(root, f"{BACKGROUND_NOISE_DIR}/{name}", _wav_bytes(to_int16(audio), frontend.sample_rate), files)
        _write(root, f"{BACKGROUND_NOISE_DIR}/README.md",
               _BACKGROUND_README.format(talkers=BABBLE_TALKERS).encode(), files)
        counts, split_counts = _write_metadata(root, cfg, frontend, clips, speakers, sorted(background),
                                               _tool_versions(version, location), files)

    return SynthReport(
        out_dir=out_dir, counts=counts, keywords=tuple(cfg.keywords), split_counts=split_counts,
        speakers=len(speakers), voices=tuple(sorted({s.voice for s in speakers})),
        background=tuple(sorted(background)), background_seconds=cfg.background_seconds,
        seconds=time.perf_counter() - started, workers=workers, seed=cfg.seed, espeak_version=version)


def _write_metadata(root: Path, cfg: SynthConfig, frontend: FrontendConfig, clips: list[_ClipTask],
                    speakers: list[Speaker], background: list[str], versions: dict[str, str],
                    files: dict[str, tuple[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """The split lists, README.md and, last, manifest.json; returns (clips per word, clips per split)."""
    split_of = {t.relpath: which_set(t.relpath, *SPLIT_PERCENTAGES) for t in clips}
    for split, name in (("testing", "testing_list.txt"), ("validation", "validation_list.txt")):
        lines = sorted(p for p, s in split_of.items() if s == split)
        _write(root, name, "".join(f"{line}\n" for line in lines).encode(), files)
    counts = {w: 0 for w in (*cfg.keywords, *cfg.unknown_words)}
    for task in clips:
        counts[task.word] += 1
    split_counts = {s: sum(1 for v in split_of.values() if v == s) for s in SPLITS}
    _write(root, "README.md", _readme(cfg, frontend, counts, split_counts, speakers, versions).encode(), files)

    manifest = {
        "format": _MANIFEST_FORMAT,
        "generator": "kws data synth",
        "seed": cfg.seed,
        "config": _recorded_config(cfg, frontend),
        "tools": versions,
        "deterministic_across_workers": ISOLATION_AVAILABLE,
        "counts": counts,
        "splits": split_counts,
        "speakers": [dataclasses.asdict(s) for s in sorted(speakers, key=lambda s: s.speaker_id)],
        "background": background,
        "files": [{"path": p, "sha256": files[p][0], "bytes": files[p][1]} for p in sorted(files)],
    }
    # Last: the Makefile treats manifest.json as the dataset's file target.
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return counts, split_counts


def _write(root: Path, relpath: str, data: bytes, files: dict[str, tuple[str, int]]) -> None:
    # Plain writes: the whole folder is already atomic (built under a temporary name, renamed at the end).
    (root / relpath).write_bytes(data)
    files[relpath] = (hashlib.sha256(data).hexdigest(), len(data))


__all__ = ["ACCENTS", "BABBLE_LANGUAGES", "PITCH_RANGE", "Speaker", "SynthReport", "VARIANTS",
           "plan_clips", "plan_speakers", "synthesize", "trim_silence"]
