"""Speaking the planned clips with espeak-ng: resample, trim, fit the window, place, add a noise floor, WAV bytes.

    from kws.data.synth_render import RenderJob, run_tasks
    for result in run_tasks(tasks, RenderJob(cfg, 16000, 16000, location), workers=2):
        ...   # ('clip', relpath, wav bytes) or ('babble', talker, index, int16 samples), in completion order

Each task draws from its own random stream and every utterance starts from the same espeak-ng state
(kws.data.espeak), so the bytes do not depend on the worker count or the order of completion.
"""

from __future__ import annotations

import functools
import io
import math
import multiprocessing
import signal
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from kws.config import SynthConfig
from kws.data import noise as noisegen
from kws.data.acoustics import formant_resample
from kws.data.audio import to_int16
from kws.data.espeak import RATE_MAX, EspeakLocation, Synthesizer
from kws.data.festival import festival_speak
from kws.data.flite import flite_speak
from kws.data.piper import load_piper_voice, piper_speak
from kws.data.synth_plan import FLITE_BASE_WPM, RECORDED_ENGINES, BabbleTask, ClipTask, seeded_rng
from kws.errors import DataError, KwsError

NOISE_FLOOR_DBFS: tuple[float, float] = (-75.0, -55.0)
"""RMS of the per-clip noise floor: quiet, but a clip is never digital silence (real microphones hiss)."""


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker needs besides the task (sent once, to the pool initializer)."""

    cfg: SynthConfig
    sample_rate: int
    clip_samples: int
    location: EspeakLocation
    flite: str = ""
    """The flite command (kws.data.flite.find_flite) when the plan has flite speakers."""
    festival: str = ""
    """festival's text2wave command (kws.data.festival.find_festival) when the plan has festival speakers."""


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
           sample_rate: int, formant: float = 1.0) -> np.ndarray:
    raw = tts.synth(text, voice, rate=rate, pitch=pitch, pitch_range=pitch_range, seed=seed)
    return _finish_speech(raw / 32768.0, tts.sample_rate, sample_rate, formant, text, voice)


def _finish_speech(raw: np.ndarray, rate_in: int, sample_rate: int, formant: float, text: str,
                   voice: str) -> np.ndarray:
    """Resample (scaling every frequency by `formant`), trim; an error if nothing is left."""
    audio = _resample(raw, rate_in, sample_rate) if formant == 1.0 else formant_resample(raw, rate_in, sample_rate,
                                                                                          formant)
    speech = trim_silence(audio, sample_rate)
    if speech.size == 0 or not np.any(speech):
        raise DataError(f"espeak-ng produced no sound for {text!r} with voice {voice!r}")
    return speech


def _speak_fitting(tts: Synthesizer | str, text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int,
                   sample_rate: int, max_samples: int, formant: float = 1.0, engine: str = "espeak") -> np.ndarray:
    """Speak `text`, re-speaking faster (up to espeak-ng's limit) until it fits in max_samples. `tts` is
    espeak-ng, or the flite / festival command of `engine` (then pitch is a mean pitch in Hz, 0 for the voice's
    own); for engine 'piper', `seed` chooses the voice's noise."""
    while True:
        if engine == "piper":
            raw, rate_in = piper_speak(load_piper_voice(voice), text, length_scale=FLITE_BASE_WPM / rate,
                                       noise_seed=seed)
            speech = _finish_speech(raw, rate_in, sample_rate, formant, text, voice)
        elif isinstance(tts, str):
            speak = flite_speak if engine == "flite" else festival_speak
            raw, rate_in = speak(tts, text, voice, duration_stretch=FLITE_BASE_WPM / rate, f0_mean=pitch)
            speech = _finish_speech(raw, rate_in, sample_rate, formant, text, voice)
        else:
            speech = _speak(tts, text, voice, rate, pitch, pitch_range, seed, sample_rate, formant)
        if len(speech) <= max_samples:
            return speech
        if rate >= RATE_MAX:
            raise DataError(
                f"{text!r} lasts {len(speech) / sample_rate:.2f} s even at {RATE_MAX} words per minute "
                f"(voice {voice}), longer than the {max_samples / sample_rate:.2f} s a clip leaves for it; "
                "use a shorter word or a longer frontend.clip_duration_ms")
        rate = min(RATE_MAX, math.ceil(rate * len(speech) / max_samples * 1.05))


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A canonical 44-byte-header PCM_16 WAV, as the real release's files are."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _render_clip(task: ClipTask, tts: Synthesizer, job: RenderJob) -> tuple[str, str, bytes]:
    """One clip as WAV bytes: ('clip', relpath, data)."""
    cfg = job.cfg
    rng = seeded_rng(*task.entropy)
    # Every draw happens up front, in a fixed order, so a re-spoken (faster) word changes nothing else.
    speaker = task.speaker
    rate = int(np.clip(round(speaker.rate * rng.uniform(0.92, 1.08)), cfg.min_speed_wpm, cfg.max_speed_wpm))
    pitch_step = int(rng.integers(-3, 4))
    pitch = int(np.clip(speaker.pitch + pitch_step, cfg.min_pitch, cfg.max_pitch))
    pitch_range = int(np.clip(speaker.pitch_range + rng.integers(-5, 6), 0, 99))
    espeak_seed = int(rng.integers(1, 2**31 - 1))
    gain_db = float(rng.uniform(cfg.min_gain_db, cfg.max_gain_db))
    floor_db = float(rng.uniform(*NOISE_FLOOR_DBFS))
    placement = float(rng.uniform())

    margin = job.sample_rate // 50  # 20 ms kept free at both ends, so no onset touches the edge
    if speaker.engine in RECORDED_ENGINES:  # mean pitch in Hz: 3 Hz per espeak-ng step
        f0 = speaker.pitch + 3 * pitch_step if speaker.pitch else 0
        command = {"flite": job.flite, "festival": job.festival}.get(speaker.engine, "")
        speech = _speak_fitting(command, task.word, speaker.voice, rate, f0, 0, espeak_seed, job.sample_rate,
                                job.clip_samples - 2 * margin, speaker.formant, speaker.engine)
    else:
        speech = _speak_fitting(tts, task.word, speaker.voice, rate, pitch, pitch_range, espeak_seed,
                                job.sample_rate, job.clip_samples - 2 * margin, speaker.formant)
    speech = speech * (noisegen.db_to_gain(gain_db) / np.max(np.abs(speech)))
    clip = np.zeros(job.clip_samples)
    offset = margin + int(placement * (job.clip_samples - 2 * margin - len(speech)))
    clip[offset:offset + len(speech)] = speech
    clip += noisegen.noise_floor(rng, job.clip_samples, floor_db)
    return "clip", task.relpath, wav_bytes(to_int16(clip), job.sample_rate)


def _render_babble(task: BabbleTask, tts: Synthesizer, job: RenderJob) -> tuple[str, int, int, np.ndarray]:
    """One babble utterance at the dataset rate, int16 at -20 dBFS RMS: ('babble', talker, index, samples)."""
    speech = _speak(tts, task.text, task.voice, task.rate, task.pitch, task.pitch_range, task.seed, job.sample_rate)
    return "babble", task.talker, task.index, to_int16(noisegen.normalise(speech, rms_dbfs=-20.0))


def _render(tasks: list, tts: Synthesizer, job: RenderJob) -> list[tuple]:
    return [_render_babble(t, tts, job) if isinstance(t, BabbleTask) else _render_clip(t, tts, job)
            for t in tasks]


_WORKER: tuple[RenderJob, Synthesizer] | None = None


def _init_worker(job: RenderJob) -> None:
    """Worker initializer: the parent alone handles Ctrl-C; espeak-ng starts once per worker, here."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = (job, Synthesizer(job.location))  # its helper process ends when this worker does


def _worker_render(tasks: list) -> list[tuple]:
    assert _WORKER is not None, "_init_worker did not run"
    job, tts = _WORKER
    return _render(tasks, tts, job)


def run_tasks(tasks: list, job: RenderJob, workers: int) -> Iterator[tuple]:
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


__all__ = ["NOISE_FLOOR_DBFS", "RenderJob", "run_tasks", "trim_silence", "wav_bytes"]
