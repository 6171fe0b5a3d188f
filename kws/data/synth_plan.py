"""What the synthetic keyword set will hold: the voices, the speaker pool, every clip and babble utterance.

    from kws.data.synth_plan import available_voices, plan_babble, plan_clips, plan_speakers
    accents, variants, babble_languages = available_voices(find_espeak())
    speakers = plan_speakers(cfg, accents, variants)
    clips = plan_clips(cfg, speakers)                     # ClipTask: file name, word, speaker, random stream

A "speaker" is one espeak-ng voice (an English accent plus a variant such as +m3, +f2, +klatt, +croak,
+whisper) with a base pitch, pitch range and speed; its 8-hex-digit id is a hash of those, so the
hash split keeps a speaker in one split, as in the real dataset. Every random choice comes from
`seeded_rng(seed, TAG_..., ...)`, keyed by the word and clip index, never by the order of work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from kws.config import SynthConfig
from kws.data import festival, flite, piper
from kws.data.espeak import EspeakLocation, list_languages, list_variants
from kws.errors import KwsError

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

# Tags that keep the random streams of the different choices apart.
TAG_SPEAKERS, TAG_ASSIGN, TAG_CLIP, TAG_BABBLE, TAG_NOISE, TAG_FORMANT, TAG_FLITE, TAG_FESTIVAL = 1, 2, 3, 4, 5, 6, 7, 8
TAG_PIPER = 9
FLITE_F0_HZ: tuple[int, int] = (75, 190)
"""Mean pitch range (Hz) of flite and festival speakers whose voice takes one (PITCHED_VOICES of kws.data.flite
and kws.data.festival)."""
_RECORDED = {"flite": (flite, TAG_FLITE), "festival": (festival, TAG_FESTIVAL), "piper": (piper, TAG_PIPER)}
"""Each recorded-voice engine's module (its VOICES and PITCHED_VOICES) and random-stream tag, in the order their
speakers join the pool; SynthConfig has a `<engine>_speakers` share for each."""
RECORDED_ENGINES: tuple[str, ...] = tuple(_RECORDED)
"""Engines whose voices are models of recorded people (the rest of the pool is espeak-ng)."""
FLITE_BASE_WPM = 175
"""Speaking rate that flite's duration_stretch 1 corresponds to, roughly."""


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
    engine: str = "espeak"
    """'espeak', 'flite', 'festival' or 'piper' (then variant is that engine's voice, pitch its mean pitch in Hz
    or 0)."""
    formant: float = 1.0
    """Vocal-tract factor: every frequency of the voice is scaled by it (resampling); 1 = unchanged."""

    @property
    def voice(self) -> str:
        """The name espeak_SetVoiceByName takes (the engine's voice for flite and festival speakers)."""
        if self.engine in RECORDED_ENGINES:
            return self.variant
        return f"{self.language}+{self.variant}" if self.variant else self.language


@dataclass(frozen=True)
class ClipTask:
    """One clip to speak: its file (relative to the dataset), word, speaker and random stream."""

    relpath: str
    word: str
    entropy: tuple[int, ...]
    speaker: Speaker


@dataclass(frozen=True)
class BabbleTask:
    """One utterance of one babble talker, with its voice settings."""

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


def seeded_rng(*entropy: int) -> np.random.Generator:
    """The generator of one random stream, e.g. seeded_rng(seed, TAG_NOISE, k)."""
    return np.random.default_rng(np.random.SeedSequence(list(entropy)))


def available_voices(location: EspeakLocation) -> tuple[list[str], list[str], list[str]]:
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
    total = max(MIN_SPEAKERS, math.ceil(most / CLIPS_PER_SPEAKER_PER_WORD))
    shares = {engine: int(round(total * getattr(cfg, f"{engine}_speakers"))) for engine in RECORDED_ENGINES}
    count = total - sum(shares.values())
    rng = seeded_rng(cfg.seed, TAG_SPEAKERS)
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
    pool = _with_formants(cfg, list(speakers.values()))
    for engine, share in shares.items():
        pool += _recorded_speakers(cfg, engine, share, {s.speaker_id for s in pool})
    return pool


def _speaker_id(speaker: Speaker) -> str:
    """8 hex digits naming the voice settings (the same settings are the same speaker in any dataset)."""
    if speaker.engine in RECORDED_ENGINES:
        text = f"{speaker.engine}:{speaker.variant}|{speaker.pitch}|{speaker.rate}|f{speaker.formant:.3f}"
    else:
        text = f"{speaker.language}+{speaker.variant}|{speaker.pitch}|{speaker.pitch_range}|{speaker.rate}"
        if speaker.formant != 1.0:
            text += f"|f{speaker.formant:.3f}"
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _formant(cfg: SynthConfig, rng: np.random.Generator) -> float:
    low, high = np.log(cfg.min_formant_factor), np.log(cfg.max_formant_factor)
    return round(float(np.exp(rng.uniform(low, high))), 3) if high > low else cfg.min_formant_factor


def _with_formants(cfg: SynthConfig, speakers: list[Speaker]) -> list[Speaker]:
    """Each espeak-ng speaker's vocal-tract factor (its own stream: the voices drawn above stay the same)."""
    if cfg.min_formant_factor == cfg.max_formant_factor == 1.0:
        return speakers
    out = []
    for k, speaker in enumerate(speakers):
        warped = dataclasses.replace(speaker, formant=_formant(cfg, seeded_rng(cfg.seed, TAG_FORMANT, k)))
        out.append(dataclasses.replace(warped, speaker_id=_speaker_id(warped)))
    return out


def _recorded_speakers(cfg: SynthConfig, engine: str, count: int, taken: set[str]) -> list[Speaker]:
    """`count` speakers of `engine` (one of RECORDED_ENGINES): a voice, a mean pitch (voices that take one), a
    rate and a vocal-tract factor, drawn from the engine's own random stream."""
    module, tag = _RECORDED[engine]
    voices, pitched = module.VOICES, module.PITCHED_VOICES
    rng = seeded_rng(cfg.seed, tag)
    speakers: dict[str, Speaker] = {}
    for _attempt in range(count * 20):
        if len(speakers) == count:
            break
        voice = voices[int(rng.integers(len(voices)))]
        f0 = int(rng.integers(FLITE_F0_HZ[0], FLITE_F0_HZ[1] + 1))
        rate = int(rng.integers(cfg.min_speed_wpm, cfg.max_speed_wpm + 1))
        if voice in pitched:
            pitch = f0
        elif engine == "flite" and cfg.flite_voice_pitch and voice in flite.CLUSTERGEN_F0_HZ:
            # The same draw, moved into the voice's own range, so every other speaker stays as it was.
            low, high = flite.CLUSTERGEN_F0_HZ[voice]
            pitch = low + round((f0 - FLITE_F0_HZ[0]) * (high - low) / (FLITE_F0_HZ[1] - FLITE_F0_HZ[0]))
        else:
            pitch = 0
        speaker = Speaker("", engine, voice, pitch, 0, rate, engine, _formant(cfg, rng))
        sid = _speaker_id(speaker)
        if sid not in taken:
            speakers.setdefault(sid, dataclasses.replace(speaker, speaker_id=sid))
    return list(speakers.values())


def plan_clips(cfg: SynthConfig, speakers: list[Speaker]) -> list[ClipTask]:
    """Every clip: its word, speaker, file name and random stream (keyed by seed, word and index)."""
    tasks: list[ClipTask] = []
    for word, n in [(w, cfg.clips_per_keyword) for w in cfg.keywords] + \
                   [(w, cfg.clips_per_unknown_word) for w in cfg.unknown_words]:
        chosen = seeded_rng(cfg.seed, TAG_ASSIGN, _key(word)).integers(len(speakers), size=n)
        repeats: Counter[str] = Counter()
        for index, s in enumerate(chosen):
            speaker = speakers[int(s)]
            relpath = f"{word}/{speaker.speaker_id}_nohash_{repeats[speaker.speaker_id]}.wav"
            repeats[speaker.speaker_id] += 1
            tasks.append(ClipTask(relpath, word, (cfg.seed, TAG_CLIP, _key(word), index), speaker))
    return tasks


def _pseudo_word(rng: np.random.Generator, forbidden: set[str]) -> str:
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ("", "", "", "n", "m", "r", "s", "l")
    while True:
        word = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))]
                       for _ in range(int(rng.integers(2, 4))))
        word += codas[rng.integers(len(codas))]
        if word not in forbidden:
            return word


def plan_babble(cfg: SynthConfig, languages: list[str], variants: list[str]) -> list[BabbleTask]:
    """Utterances for the babble recording: enough per talker to cover background_seconds."""
    rng = seeded_rng(cfg.seed, TAG_BABBLE)
    forbidden = {w.lower() for w in (*cfg.keywords, *cfg.unknown_words)}
    # An utterance of six 2-3 syllable words lasts about 2.5-4 s at these speeds; 2.2 s keeps a margin.
    per_talker = math.ceil(cfg.background_seconds / 2.2) + 1
    tasks = []
    for talker in range(BABBLE_TALKERS):
        for index in range(per_talker):
            text = " ".join(_pseudo_word(rng, forbidden) for _ in range(BABBLE_WORDS_PER_UTTERANCE))
            language = languages[rng.integers(len(languages))]
            variant = variants[rng.integers(len(variants))]
            tasks.append(BabbleTask(
                talker, index, text, f"{language}+{variant}" if variant else language,
                int(rng.integers(cfg.min_speed_wpm, cfg.max_speed_wpm + 1)),
                int(rng.integers(cfg.min_pitch, cfg.max_pitch + 1)),
                int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)), int(rng.integers(1, 2**31 - 1))))
    return tasks


__all__ = ["ACCENTS", "BABBLE_LANGUAGES", "BABBLE_TALKERS", "BabbleTask", "ClipTask", "MIN_SPEAKERS", "PITCH_RANGE",
           "Speaker", "VARIANTS", "available_voices", "plan_babble", "plan_clips", "plan_speakers", "seeded_rng"]
