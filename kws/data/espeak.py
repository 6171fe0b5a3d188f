"""A small ctypes binding to the espeak-ng speech synthesiser, for the synthetic keyword set.

The library and its voice data come from the pip package `espeakng-loader` (no system install
needed); a system espeak-ng (Debian's `espeak-ng` package) is used only when that package is missing.

    from kws.data.espeak import find_espeak, Synthesizer
    with Synthesizer(find_espeak()) as tts:    # KwsError saying what to install when absent
        samples = tts.synth("yes", "en-us+m3", rate=160, pitch=40, pitch_range=60, seed=7)
        # int16 numpy array at tts.sample_rate (espeak-ng's native 22050 Hz)

    python -m kws.data.espeak                  # which espeak-ng, which voices and variants

Why a helper process that forks once per utterance: espeak-ng keeps synthesis state in C statics
that no API call resets (the pitch "flutter" index, the automatic gain control, wave phases, the
Klatt noise generator); even espeak_Terminate + espeak_Initialize leaves them. The same call then
gives different samples depending on what the process said before, and a dataset would depend on
how its clips were spread over workers. So a small server process ("zygote": Python, ctypes and
espeak-ng, nothing else) initialises espeak-ng once and never speaks itself; for each utterance it
forks a child that speaks and exits. Every utterance starts from the same state, and forking a
small process costs about a millisecond. Without os.fork (Windows) the server speaks in-process and
results are reproducible only for the same order of utterances.

Nothing happens at import: libraries load and processes start only when asked.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from kws.errors import KwsError

if TYPE_CHECKING:
    import numpy as np

INSTALL_HINT = ("install it with `pip install espeakng-loader` (it ships the library and its voices), "
                "or Debian's `apt-get install espeak-ng`")

# speak_lib.h (API revision 12): the enum values this binding uses.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_POS_CHARACTER = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_EE_OK = 0
RATE_MIN, RATE_MAX = 80, 450
"""espeak-ng's speaking-rate limits (words per minute)."""

# Where Debian and other distributions put the voice data of a system espeak-ng.
_SYSTEM_DATA_DIRS = (
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
    "/usr/lib/espeak-ng-data", "/usr/share/espeak-ng-data", "/usr/local/share/espeak-ng-data",
)

ISOLATION_AVAILABLE = hasattr(os, "fork")
"""True where every utterance starts from the same espeak-ng state (see the module docstring)."""


@dataclass(frozen=True)
class EspeakLocation:
    """Where the espeak-ng library and its voice data are."""

    library: str
    """Path (or loader name) of the shared library."""
    data_dir: str
    """The espeak-ng-data folder (voices, dictionaries, phoneme data)."""
    source: str
    """Which package provided it, for READMEs and reports (e.g. 'espeakng-loader 0.2.4')."""


def find_espeak() -> EspeakLocation:
    """Locate espeak-ng: the espeakng-loader pip package first, a system install second."""
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        try:
            library = espeakng_loader.get_library_path()
            data_dir = espeakng_loader.get_data_path()
        except RuntimeError as exc:  # the package raises RuntimeError when its data folder is missing
            raise KwsError(f"espeakng-loader is installed but broken ({exc}); reinstall it: "
                           "`pip install --force-reinstall espeakng-loader`") from None
        if Path(library).is_file() and (Path(data_dir) / "phontab").is_file():
            return EspeakLocation(library, data_dir, f"espeakng-loader {_package_version('espeakng-loader')}")
    library = ctypes.util.find_library("espeak-ng")
    if library is not None:
        for candidate in _SYSTEM_DATA_DIRS:
            if (Path(candidate) / "phontab").is_file():
                return EspeakLocation(library, candidate, "system espeak-ng")
        raise KwsError(f"espeak-ng's library ({library}) was found but not its voice data "
                       f"(looked in {', '.join(_SYSTEM_DATA_DIRS)}); {INSTALL_HINT}")
    raise KwsError(f"espeak-ng cannot be loaded: the synthetic dataset needs it; {INSTALL_HINT}")


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def espeak_version(location: EspeakLocation) -> str:
    """espeak-ng's version string, read without initialising the synthesiser (also proves it loads)."""
    lib = _load(location)
    return (lib.espeak_Info(None) or b"unknown").decode("ascii", "replace")


def list_languages(data_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Language voices shipped in the data folder: lower-case name -> file name (e.g. 'en-us' -> 'en-US')."""
    root = Path(data_dir) / "lang"
    return {p.name.lower(): p.name for p in sorted(root.rglob("*")) if p.is_file()}


def list_variants(data_dir: str | os.PathLike[str]) -> set[str]:
    """Voice variants (the '+name' suffixes) shipped in the data folder.

    espeak-ng quietly ignores an unknown variant ('en+nosuch' speaks as 'en'), so callers check here.
    """
    root = Path(data_dir) / "voices" / "!v"
    return {p.name for p in root.iterdir() if p.is_file()} if root.is_dir() else set()


# ------------------------------------------------------------------------------------ the ctypes side

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _load(location: EspeakLocation) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(location.library)
    except OSError as exc:
        raise KwsError(f"espeak-ng cannot be loaded from {location.library} ({exc}); {INSTALL_HINT}") from None
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_Callback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    return lib


class Phonemizer:
    """espeak-ng's IPA for a text (espeak_TextToPhonemes) in this process, e.g. Phonemizer(find_espeak(),
    "en-us")("yes") == "jˈɛs". Unlike synthesis, phonemes carry no state between calls, so no helper process
    is needed; the library loads on the first call."""

    def __init__(self, location: EspeakLocation, voice: str) -> None:
        self.location = location
        self.voice = voice
        self._lib: ctypes.CDLL | None = None

    def _library(self) -> ctypes.CDLL:
        if self._lib is None:
            lib = _load(self.location)
            if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self.location.data_dir.encode("utf-8"), 0) <= 0:
                raise KwsError(f"espeak-ng failed to initialise with the data in {self.location.data_dir}; "
                               f"{INSTALL_HINT}")
            if lib.espeak_SetVoiceByName(self.voice.encode("utf-8")) != _EE_OK:
                raise KwsError(f"espeak-ng has no voice {self.voice!r} in {self.location.data_dir}")
            self._lib = lib
        return self._lib

    def __call__(self, text: str) -> str:
        lib = self._library()
        cursor = ctypes.c_char_p(text.encode("utf-8"))
        clauses = []
        while cursor.value:  # one clause per call; the cursor moves past it
            out = lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, _PHONEMES_IPA)
            if out:
                clauses.append(out.decode("utf-8"))
        return " ".join(clauses)


class _Espeak:
    """espeak-ng in this process, in synchronous retrieval mode. Used inside the zygote only."""

    def __init__(self, location: EspeakLocation) -> None:
        # Checked here because espeak_Initialize, given a folder without voice data, silently falls
        # back to a path compiled into the library and then calls exit(1).
        if not (Path(location.data_dir) / "phontab").is_file():
            raise KwsError(f"{location.data_dir} is not an espeak-ng-data folder (no phontab); {INSTALL_HINT}")
        lib = _load(location)
        # espeak-ng >= 1.52 has its own PRNG (breath noise, Klatt voices); older ones use libc rand().
        self._set_rand_seed: Callable[[int], object] | None = None
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            self._set_rand_seed = lib.espeak_ng_SetRandSeed
        self._libc_srand = getattr(ctypes.CDLL(None), "srand", None) if os.name == "posix" else None
        self._lib = lib
        self._chunks: list[bytes] = []
        self._callback = _Callback(self._collect)  # kept on self: C holds a pointer to it
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, location.data_dir.encode("utf-8"), 0)
        if rate <= 0:
            raise KwsError(f"espeak-ng failed to initialise with the data in {location.data_dir}; {INSTALL_HINT}")
        self.sample_rate = int(rate)
        lib.espeak_SetSynthCallback(self._callback)
        self.version = (lib.espeak_Info(None) or b"unknown").decode("ascii", "replace")
        # Load the English dictionary once here rather than in every forked child.
        if lib.espeak_SetVoiceByName(b"en") != _EE_OK:
            raise KwsError(f"espeak-ng has no English voice in {location.data_dir}; {INSTALL_HINT}")

    def _collect(self, wav: object, numsamples: int, events: object) -> int:
        if wav and numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # 0 = keep synthesising

    def speak(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int) -> bytes:
        """Native-endian int16 samples of `text` (state-carrying: see the module docstring)."""
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
            raise KwsError(f"espeak-ng has no voice {voice!r}")
        # Parameters after the voice: selecting a voice resets them.
        for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range),
                                 (_PARAM_VOLUME, 100)):
            if lib.espeak_SetParameter(parameter, int(value), 0) != _EE_OK:
                raise KwsError(f"espeak-ng rejected parameter {parameter}={value} for voice {voice!r}")
        seed = int(seed) & 0x7FFFFFFF
        if self._set_rand_seed is not None:
            self._set_rand_seed(seed)
        if self._libc_srand is not None:
            self._libc_srand(seed)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != _EE_OK:
            raise KwsError(f"espeak-ng could not synthesise {text!r} with voice {voice!r} (status {status})")
        out, self._chunks = b"".join(self._chunks), []
        return out


# ------------------------------------------------------------------------------- framing and the zygote

_HEADER = struct.Struct("<BI")  # status (0 ok, 1 error), payload length


def _send(stream: IO[bytes], status: int, payload: bytes) -> None:
    stream.write(_HEADER.pack(status, len(payload)) + payload)
    stream.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _receive(stream: IO[bytes]) -> tuple[int, bytes] | None:
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    status, length = _HEADER.unpack(header)
    payload = _read_exact(stream, length)
    return None if payload is None else (status, payload)


def _speak_in_child(engine: _Espeak, request: dict) -> tuple[int, bytes]:
    """Fork; the child speaks and sends the samples back; the parent (the zygote) stays untouched."""
    args = (request["text"], request["voice"], request["rate"], request["pitch"], request["pitch_range"],
            request["seed"])
    if not ISOLATION_AVAILABLE:
        try:
            return 0, engine.speak(*args)
        except KwsError as exc:
            return 1, str(exc).encode("utf-8", "replace")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            try:
                status, payload = 0, engine.speak(*args)
            except KwsError as exc:
                status, payload = 1, str(exc).encode("utf-8", "replace")
            with os.fdopen(write_fd, "wb") as pipe:
                _send(pipe, status, payload)
            code = 0
        finally:
            os._exit(code)  # no Python clean-up in the child: it owns nothing
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        reply = _receive(pipe)
    _, wait_status = os.waitpid(pid, 0)
    if reply is None or os.waitstatus_to_exitcode(wait_status) != 0:
        return 1, (f"espeak-ng crashed speaking {request['text']!r} with voice {request['voice']!r} "
                   f"(exit status {os.waitstatus_to_exitcode(wait_status)})").encode()
    return reply


def _serve(library: str, data_dir: str) -> int:
    """The zygote: initialise espeak-ng, then answer one request at a time until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides what Ctrl-C means
    # Keep the protocol on a private descriptor; anything a C library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    try:
        engine = _Espeak(EspeakLocation(library, data_dir, "zygote"))
    except KwsError as exc:
        _send(out, 1, str(exc).encode("utf-8", "replace"))
        return 1
    try:
        _send(out, 0, json.dumps({"sample_rate": engine.sample_rate, "version": engine.version}).encode())
        while True:
            message = _receive(requests)
            if message is None:  # the client closed the pipe or died
                return 0
            _send(out, *_speak_in_child(engine, json.loads(message[1])))
    except BrokenPipeError:  # the client stopped listening (closed, interrupted): nothing left to do
        return 0


class Synthesizer:
    """Client of a zygote process: one espeak-ng per Synthesizer, reproducible per utterance."""

    def __init__(self, location: EspeakLocation) -> None:
        self.location = location
        # Isolated mode (-I: no current folder, no PYTHON* variables on the path) plus this very
        # package's folder, so the helper runs this code whatever the current folder holds.
        package_root = str(Path(__file__).resolve().parents[2])
        bootstrap = ("import sys; sys.path.insert(0, sys.argv[1]); from kws.data.espeak import _main; "
                     "raise SystemExit(_main(sys.argv[2:]))")
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-c", bootstrap, package_root, "--serve", location.library, location.data_dir],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:
            raise KwsError(f"cannot start the espeak-ng helper process ({exc})") from None
        try:
            info = json.loads(self._reply("starting espeak-ng"))
        except KwsError:
            self.close()
            raise
        self.sample_rate: int = int(info["sample_rate"])
        """espeak-ng's output rate in Hz (22050)."""
        self.version: str = str(info["version"])
        """espeak-ng's version string."""

    def _reply(self, what: str) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        message = _receive(self._proc.stdout)
        if message is None:
            code = self._proc.wait()
            self._proc = None
            raise KwsError(f"the espeak-ng helper process ended while {what} (exit status {code}); "
                           f"see the messages above; {INSTALL_HINT}")
        status, payload = message
        if status != 0:
            raise KwsError(payload.decode("utf-8", "replace"))
        return payload

    def synth(self, text: str, voice: str, *, rate: int, pitch: int, pitch_range: int, seed: int) -> "np.ndarray":
        """int16 samples of `text` at self.sample_rate; the same arguments always give the same samples."""
        import numpy as np

        if self._proc is None or self._proc.stdin is None:
            raise KwsError("this Synthesizer is closed")
        request = json.dumps({"text": text, "voice": voice, "rate": int(rate), "pitch": int(pitch),
                              "pitch_range": int(pitch_range), "seed": int(seed)}).encode("utf-8")
        try:
            _send(self._proc.stdin, 0, request)
        except BrokenPipeError:
            self._proc.wait()
            self._proc = None
            raise KwsError("the espeak-ng helper process is gone") from None
        return np.frombuffer(self._reply(f"speaking {text!r} with voice {voice!r}"), dtype=np.int16).copy()

    def close(self) -> None:
        """End the helper process (closing its input is enough: it exits at end of input)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # Both pipes: a helper blocked writing a reply nobody will read then ends too.
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> "Synthesizer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"] and len(argv) == 3:
        return _serve(argv[1], argv[2])
    location = find_espeak()
    print(f"espeak-ng {espeak_version(location)} from {location.source}")
    print(f"  library: {location.library}\n  data:    {location.data_dir}")
    languages = list_languages(location.data_dir)
    print(f"  {len(languages)} languages; English: {', '.join(sorted(k for k in languages if k.startswith('en')))}")
    print(f"  variants: {', '.join(sorted(list_variants(location.data_dir), key=str.lower))}")
    return 0


__all__ = ["EspeakLocation", "INSTALL_HINT", "ISOLATION_AVAILABLE", "Phonemizer", "RATE_MAX", "RATE_MIN", "Synthesizer",
           "espeak_version", "find_espeak", "list_languages", "list_variants"]

if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
