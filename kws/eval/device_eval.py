"""Evaluation over serial: the test split's clips through a board (a flashed Nano or the emulated one), resumable.

    kws eval --run demo --emulate                          # starts the emulated board for the run, stops it after
    kws eval --run demo --port /dev/ttyACM0                # a flashed Nano 33 BLE Sense (or `kws emulate`'s pty)
    kws eval --run demo --emulate --feed features          # the model alone: int8 reference features as FEATURES
    kws eval --run demo --emulate --limit 200 --restart    # a spread-out subset; --restart drops the journal

    from kws.eval.device_eval import EvalOptions, evaluate_clips
    result = evaluate_clips(Path("runs/demo"), EvalOptions(port="/dev/pts/7"))
    result.summary["accuracy"], result.scores          # what eval/summary.json and eval/scores.npz hold

Per clip the board gets a clean state (RESET), then the clip: its audio as AUDIO chunks (test split, no
augmentation; generated silence gets the deterministic noise of kws.data.augment's eval_audio), or its int8
reference features (kws.frontend) as FEATURES. A one-second clip gives exactly one SCORES (+ TIMING); that
is the clip's result. Before anything, the board's identity is checked: the model SHA-256 in its INFO must
be the run's export's (otherwise the numbers would belong to another model).

Resumable: every finished clip is one line of runs/<run>/eval/journal.jsonl, appended, flushed and fsynced;
the first line is a header naming the model, labels, board, feed and a hash of the clip list. A rerun skips
the clips the journal holds (a torn last line left by a kill is cut off), so a run killed at any point and
rerun gives the same totals as an uninterrupted one; a journal made for another model, board, feed or clip
list is refused unless --restart. At the end: eval/scores.npz (truth, raw int8 scores [N, labels], frontend
time per frame, inference time) and eval/summary.json (kws.eval.analysis.analyze_clips plus latency, board,
feed, dataset and link counters).

Faults: the link (kws.device.link) resends a chunk after NAK(BAD_CRC) or a timeout. On top of it, each clip
is checked whole (the ACKed sample or frame count, exactly one SCORES and one TIMING); a clip whose result
was damaged (a board frame lost on the line), a board that rebooted (it answers NAK(BAD_STATE) in text
mode) or a link that gave up is handled by saying HELLO again and running the clip again from its RESET,
so nothing is lost and nothing is counted twice. A port that vanishes (a reset Nano re-enumerates on USB)
is opened again once it is back (within RECONNECT_S). A board that does not answer the new HELLO is a
BoardStopped error naming the clip, the port and the journal that keeps what was done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from kws.errors import KwsError
from kws.fsutil import write_json

if TYPE_CHECKING:
    from kws.config import DataConfig, FrontendConfig, KwsConfig
    from kws.data.dataset import ClipBank, Example
    from kws.device import protocol as P
    from kws.device.artifacts import ExportedModel
    from kws.device.link import BoardLink, FeedResult

EVAL_DIR = "eval"
JOURNAL = "journal.jsonl"
SCORES_FILE = "scores.npz"
SUMMARY_FILE = "summary.json"
JOURNAL_VERSION = 1
FEEDS = ("audio", "features")
EMULATED = "emulated"
# Header fields that must match for a journal to be resumed (the rest is informative).
_JOURNAL_IDENTITY = ("version", "model_sha256", "labels", "feed", "board", "split", "clips", "clips_sha256")


class DeviceEvalError(KwsError):
    """On-device evaluation cannot go on; the message names the port, clip or file and what to do."""


class BoardStopped(DeviceEvalError):
    """The board stopped answering (timeouts even after a new handshake)."""


# ------------------------------------------------------------------------------------------- options

@dataclass(frozen=True)
class EvalOptions:
    """How to reach the board and what to feed it (the `kws eval` options)."""

    port: str | None = None
    """Serial port of the board (a device path, a pty); None with emulate=True."""
    emulate: bool = False
    """Start the emulated board for the run (kws.device.emulator) and stop it at the end."""
    feed: str = "audio"
    """'audio' (the whole device pipeline) or 'features' (int8 reference features: the model alone)."""
    data_dir: str | None = None
    """Dataset root (default: the run's data.data_dir)."""
    split: str = "testing"
    limit: int | None = None
    """Evaluate an evenly spread subset of this many clips of the split (every label keeps its share)."""
    restart: bool = False
    """Start a new journal even if one exists (default: resume it)."""
    progress: bool = True
    target_far: float = 0.01
    """Clip-level false accept rate of the ROC operating point in the summary."""
    timeout: float = 2.0
    """Seconds to wait for each answer of the board before resending."""
    retries: int = 3
    """Resends of one frame before the link gives up (then a new handshake and the clip again)."""
    chunk_samples: int = 1024
    """Samples per AUDIO frame (at most 1,024)."""
    max_attempts: int = 8
    """Times one clip is tried (after a damaged result, a reboot or a link that gave up)."""
    build_dir: Path | None = None
    """Build folder of the emulated board's core (default: kws.device.cbuild's)."""

    def validate(self) -> None:
        if self.feed not in FEEDS:
            raise DeviceEvalError(f"--feed must be one of {', '.join(FEEDS)}, got {self.feed!r}")
        if self.emulate == bool(self.port):
            raise DeviceEvalError("give either a port (--port) or --emulate, not both and not neither")
        if self.limit is not None and self.limit < 1:
            raise DeviceEvalError(f"--limit must be at least 1, got {self.limit}")
        if not 0.0 <= self.target_far <= 1.0:
            raise DeviceEvalError(f"--target-far is a share of clips in 0..1, got {self.target_far}")
        if self.timeout <= 0 or self.retries < 0 or self.max_attempts < 1:
            raise DeviceEvalError("--timeout must be > 0, --retries >= 0 and max_attempts >= 1")
        if not 1 <= self.chunk_samples <= 1024:
            raise DeviceEvalError(f"--chunk-samples must be in 1..1024, got {self.chunk_samples}")


# ------------------------------------------------------------------------------------------- the clips

@dataclass
class ClipSet:
    """The clips to evaluate: examples of one split, their decoded audio and the deterministic eval audio."""

    data_dir: Path
    split: str
    examples: list["Example"]
    split_indices: np.ndarray
    """Each clip's index in the whole split (seeds generated silence exactly as a full evaluation would)."""
    bank: "ClipBank"
    frontend: "FrontendConfig"
    augmenter: Any

    def __len__(self) -> int:
        return len(self.examples)

    def name(self, k: int) -> str:
        """The clip as a person finds it: its path under the dataset, or the generated silence's index."""
        example = self.examples[k]
        if example.generated:
            return f"_silence_ (generated from background noise, split index {int(self.split_indices[k])})"
        try:
            return Path(example.path).relative_to(self.data_dir).as_posix()
        except ValueError:
            return example.path

    def audio(self, k: int) -> np.ndarray:
        """int16 [clip_samples]: the clip as the device hears it in evaluation (no augmentation)."""
        from kws.data.audio import to_int16

        x = self.augmenter.eval_audio(np.asarray(self.bank.audio[k:k + 1]), self.bank.generated_silence[k:k + 1],
                                      self.split_indices[k:k + 1])
        return to_int16(x[0])

    def features(self, k: int) -> np.ndarray:
        """int8 [frames, features]: the reference features of audio(k) (kws.frontend, the definition)."""
        from kws.frontend import reference_features_int8

        return reference_features_int8(self.audio(k), self.frontend)

    @property
    def labels(self) -> np.ndarray:
        return np.array([e.label for e in self.examples], dtype=np.int64)

    def sha256(self) -> str:
        """A hash of the clip list (names, labels, split indices): a journal is only resumed for the same list."""
        digest = hashlib.sha256()
        for k, example in enumerate(self.examples):
            digest.update(json.dumps([self.name(k), example.word, example.label, int(self.split_indices[k])])
                          .encode("utf-8") + b"\n")
        return digest.hexdigest()


def spread_subset(n: int, limit: int | None) -> np.ndarray:
    """Indices of an evenly spread subset of n items (all of them without a limit): every stretch of the
    split, hence every label of an ordered split, keeps its share."""
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def select_clips(data: "DataConfig", frontend: "FrontendConfig", split: str = "testing", limit: int | None = None,
                 *, progress: bool = True) -> ClipSet:
    """The split's examples (kws.data.dataset's recipe), a spread subset of `limit`, decoded (cached)."""
    from kws.data.augment import Augmenter
    from kws.data.dataset import build_splits, load_background_noise, load_clips
    from kws.data.split import SPLITS

    if split not in SPLITS:
        raise DeviceEvalError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    examples = build_splits(data, frontend)[split]
    if not examples:
        raise DeviceEvalError(f"the {split} split of {data.data_dir} is empty: nothing to evaluate "
                              f"(a test-set layout folder only has 'testing')")
    chosen = spread_subset(len(examples), limit)
    selected = [examples[int(i)] for i in chosen]
    bank = load_clips(selected, data, frontend, progress=progress)
    if len(bank) != len(selected):  # data.on_bad_audio='skip' left unreadable files out
        skipped = {path for path, _ in bank.skipped}
        keep = [j for j, e in enumerate(selected) if e.generated or e.path not in skipped]
        chosen, selected = chosen[keep], [selected[j] for j in keep]
    root = Path(data.data_dir).expanduser().resolve()
    noise = load_background_noise(root, frontend) if bank.generated_silence.any() else []
    return ClipSet(root, split, selected, chosen, bank, frontend, Augmenter(data, frontend, noise))


# ------------------------------------------------------------------------------------------- the board

def board_description(info: "P.Info") -> str:
    """'emulated' for kws's emulated board, else what the firmware says it is."""
    from kws.device.emulator import BOARD_NAME

    if info.board == BOARD_NAME:
        return EMULATED
    return f"{info.board} ({info.backend}, firmware {info.firmware_version})"


def check_identity(info: "P.Info", exported: "ExportedModel", port: str, feed: str) -> None:
    """DeviceEvalError unless the board runs the run's exported model with its labels and frontend."""
    run = exported.run_dir.name
    fix = (f"flash this run's model (`kws flash --run {run}`, or `make flash RUN={run}`) or evaluate it on the "
           f"emulated board (`kws eval --run {run} --emulate`)")
    if info.model_sha256 != exported.sha256:
        raise DeviceEvalError(f"the board on {port} runs model {info.model_sha256[:16]}..., but "
                              f"{exported.model_path} is {exported.sha256[:16]}...: its scores would not be this "
                              f"run's; {fix}")
    if tuple(info.labels) != tuple(exported.labels):
        raise DeviceEvalError(f"the board on {port} has labels {','.join(info.labels)}, the export "
                              f"{','.join(exported.labels)}; {fix}")
    frontend = exported.frontend
    if feed == "audio" and info.frontend_hash and info.frontend_hash != frontend.spec_hash():
        raise DeviceEvalError(f"the board on {port} computes other features (frontend spec "
                              f"{info.frontend_hash[:16]}...) than {run}'s config ({frontend.spec_hash()[:16]}...); "
                              f"{fix}")
    if (info.num_frames, info.num_features) != (frontend.num_frames, frontend.num_features):
        raise DeviceEvalError(f"the board on {port} feeds its model {info.num_frames}x{info.num_features} "
                              f"features, the run {frontend.num_frames}x{frontend.num_features}; {fix}")


@dataclass
class SessionStats:
    """What the evaluation had to do on top of the link's own resends."""

    handshakes: int = 0
    clip_retries: int = 0
    """Clips run again from their RESET (damaged result, reboot, or a link that gave up)."""
    board_resets: int = 0
    """Times the board was found rebooted (NAK(BAD_STATE): back in text mode) and handshaken again."""
    damaged_results: int = 0
    """Clip results rejected because a board frame was lost (no SCORES/TIMING, or a wrong count)."""
    link_gave_up: int = 0
    reconnects: int = 0
    """Times the port vanished and was opened again (a Nano re-enumerates on USB after a reset)."""


RECONNECT_S = 15.0
"""How long a vanished port may take to come back (a Nano re-enumerates within a few seconds)."""


class BoardSession:
    """A link to the run's board, identity checked: a port, or the emulated board started here.

        with BoardSession(exported, port="/dev/ttyACM0") as session:
            result = session.run_clip(pcm, "audio", "yes/abc_nohash_0.wav")
    """

    def __init__(self, exported: "ExportedModel", *, port: str | None = None, emulate: bool = False,
                 feed: str = "audio", timeout: float = 2.0, retries: int = 3, chunk_samples: int = 1024,
                 max_attempts: int = 8, build_dir: Path | None = None) -> None:
        self.exported = exported
        self.port = port or ""
        self.emulate = emulate
        self.feed = feed
        self.timeout = timeout
        self.retries = retries
        self.chunk_samples = chunk_samples
        self.max_attempts = max_attempts
        self.build_dir = build_dir
        self.emulator: Any = None
        self.link: "BoardLink | None" = None
        self.info: "P.Info | None" = None
        self.stats = SessionStats()
        self._params: "P.Params | None" = None
        self._closed_link_stats: dict[str, int] = {}

    # -------------------------------------------------------------------------------- open / close

    def __enter__(self) -> "BoardSession":
        try:
            if self.emulate:
                from kws.device.emulator import Emulator

                self.emulator = Emulator(exported=self.exported, build_dir=self.build_dir)
                self.port = self.emulator.start()
            self.link = self._open()
            self.handshake()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> "BoardLink":
        from kws.device.link import BoardLink

        return BoardLink.open(self.port, timeout=self.timeout, retries=self.retries, chunk_samples=self.chunk_samples)

    def reconnect(self, wait_s: float = RECONNECT_S) -> None:
        """The port went away (a reset Nano re-enumerates): open it again once it is back, then handshake.
        BoardStopped when it does not come back within wait_s."""
        from kws.device.link import PortError

        if self.link is not None:
            for name, value in asdict(self.link.stats).items():
                self._closed_link_stats[name] = self._closed_link_stats.get(name, 0) + value
            try:
                self.link.close()
            except OSError:
                pass  # the port is gone: closing what is left of it cannot fail the evaluation
            self.link = None
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.link = self._open()
                break
            except PortError as exc:
                if time.monotonic() >= deadline:
                    raise BoardStopped(f"{self.port} went away and did not come back within {wait_s:g} s "
                                       f"({exc})") from None
                time.sleep(0.2)
        self.stats.reconnects += 1
        self.handshake()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Say BYE and close the port; stop the emulated board if it was started here."""
        try:
            if self.link is not None:
                self.link.close()
        finally:
            self.link = None
            if self.emulator is not None:
                self.emulator.stop()
                self.emulator = None

    @property
    def board(self) -> str:
        return board_description(self.info) if self.info is not None else ""

    def handshake(self) -> "P.Info":
        """HELLO -> INFO, the identity check, and the report flags (SCORES + TIMING) with the board's params."""
        from kws.device import protocol as P
        from kws.device.link import LinkTimeout

        assert self.link is not None
        try:
            info = self.link.hello()
        except LinkTimeout as exc:
            raise BoardStopped(f"{exc}") from None
        self.stats.handshakes += 1
        check_identity(info, self.exported, self.port, self.feed)
        self.info = info
        wanted = self._params or replace(info.params, flags=int(P.FLAG_DEFAULT))
        if info.params != wanted:  # e.g. a monitor left LIVE_AUDIO on, or a rebooted board lost set_params
            self.link.set_params(wanted)
        return info

    def use_params(self, params: "P.Params") -> None:
        """Send SET_PARAMS now and again after every new handshake (a rebooted board forgets them)."""
        assert self.link is not None
        self._params = params
        self.link.set_params(params)

    # -------------------------------------------------------------------------------- one clip

    def _feed_once(self, payload: np.ndarray) -> "FeedResult":
        assert self.link is not None
        self.link.reset()  # what arrived before its ACK belongs to earlier requests: not this clip's
        if self.feed == "audio":
            return self.link.feed_audio(payload, self.chunk_samples)
        return self.link.feed_features(payload)

    def _problem(self, result: "FeedResult", payload: np.ndarray) -> str:
        """Why a clip's result cannot be used ('' when it is whole)."""
        expected = payload.shape[0]
        if result.count != expected:
            return f"the board acknowledged {result.count} {'samples' if self.feed == 'audio' else 'frames'}, " \
                   f"not {expected}"
        if len(result.scores) != 1 or len(result.timings) != 1:
            return f"{len(result.scores)} SCORES and {len(result.timings)} TIMING frames arrived, not one each " \
                   f"(a board frame was lost on the line)"
        if result.scores[0].inference != 0 or result.timings[0].inference != 0:
            return f"inference {result.scores[0].inference} instead of the clip's first"
        return ""

    def run_clip(self, payload: np.ndarray, clip: str, *, journal: Path | None = None,
                 done: int = 0) -> tuple["FeedResult", int]:
        """RESET, then the clip (int16 audio or int8 features); (the whole result, attempts it took).

        Damaged results, reboots and a link that gave up are retried from a new handshake (module docstring);
        BoardStopped when the board does not answer a handshake, naming `clip` and the journal."""
        from kws.device import protocol as P
        from kws.device.link import BoardRefused, LinkError, LinkTimeout, PortError

        last = ""
        rehello = reopen = False
        for attempt in range(1, self.max_attempts + 1):
            try:
                if reopen:
                    self.reconnect()
                    reopen = rehello = False
                elif rehello:
                    self.handshake()
                    rehello = False
                result = self._feed_once(payload)
                last = self._problem(result, payload)
                if not last:
                    return result, attempt
                self.stats.damaged_results += 1
            except BoardStopped as exc:
                where = f"; {journal} keeps the {done} clips finished before it: rerun the same command to " \
                        f"resume" if journal is not None else ""
                raise BoardStopped(f"the board on {self.port} stopped answering during clip {clip!r} "
                                   f"({exc}){where}") from None
            except BoardRefused as exc:
                if exc.code == P.ErrorCode.BAD_STATE:
                    self.stats.board_resets += 1  # it rebooted (text mode): handshake, then the clip again
                last = str(exc)
                rehello = True
            except LinkTimeout as exc:
                self.stats.link_gave_up += 1
                last = str(exc)
                rehello = True
            except PortError as exc:  # the board reset and its USB port went away, or it was unplugged
                last = str(exc)
                reopen = True
            except LinkError as exc:
                last = str(exc)
                rehello = True
            if attempt < self.max_attempts:
                self.stats.clip_retries += 1
        raise DeviceEvalError(f"clip {clip!r} failed {self.max_attempts} times on {self.port}; the last problem: "
                              f"{last}. Check the cable (or the line's error rate), then rerun to resume")

    def link_stats(self) -> dict[str, int]:
        """The link's counters plus this session's (for summary.json)."""
        out = asdict(self.stats)
        totals = dict(self._closed_link_stats)
        if self.link is not None:
            for name, value in asdict(self.link.stats).items():
                totals[name] = totals.get(name, 0) + value
        out.update({f"link_{k}": v for k, v in totals.items()})
        return out


# ------------------------------------------------------------------------------------------- the journal

class Journal:
    """runs/<run>/eval/journal.jsonl: a header line, then one line per finished clip (append, flush, fsync).

        journal, done = Journal.open(path, header, restart=False)   # done: clip index -> record
        journal.append({"i": 7, ...})
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: Path, header: dict[str, Any], *, restart: bool = False) -> tuple["Journal", dict[int, dict]]:
        """Resume `path` when its header matches `header` (a torn last line is cut off), else refuse; create
        it (header only, atomically) when absent or with restart=True."""
        from kws.fsutil import atomic_write_text

        path = Path(path)
        done: dict[int, dict] = {}
        if path.exists() and not restart:
            old_header, done, good_bytes = read_journal(path)
            mismatched = [k for k in _JOURNAL_IDENTITY if old_header.get(k) != header.get(k)]
            if mismatched:
                detail = "; ".join(f"{k}: journal {_short(old_header.get(k))} vs now {_short(header.get(k))}"
                                   for k in mismatched)
                raise DeviceEvalError(f"{path} was made for another evaluation ({detail}); rerun with --restart "
                                      f"to start over (it is replaced), or evaluate what it was made for")
            if good_bytes != path.stat().st_size:
                os.truncate(path, good_bytes)  # a kill mid-line: the next append must start on a fresh line
        else:
            atomic_write_text(path, json.dumps(header, sort_keys=True) + "\n")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        return cls(path, fd), done

    def append(self, record: dict[str, Any]) -> None:
        """One line, written with one write() and fsynced before returning: a kill loses at most this line."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        written = os.write(self._fd, line)
        if written != len(line):
            raise DeviceEvalError(f"{self.path}: short write ({written} of {len(line)} bytes); is the disk full?")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_journal(path: Path) -> tuple[dict[str, Any], dict[int, dict], int]:
    """(header, clip index -> record, bytes of whole lines). A last line without its newline (a kill while
    writing) is ignored; a damaged line elsewhere, or a clip recorded twice, is an error."""
    raw = Path(path).read_bytes()
    end = raw.rfind(b"\n") + 1  # whole lines only
    lines = raw[:end].splitlines()
    if not lines:
        raise DeviceEvalError(f"{path} has no header line; rerun with --restart to start a new journal")
    records: dict[int, dict] = {}
    try:
        header = json.loads(lines[0])
        for number, line in enumerate(lines[1:], start=2):
            record = json.loads(line)
            index = int(record["i"])
            if index in records:
                raise DeviceEvalError(f"{path} line {number} records clip {index} a second time; the journal is "
                                      f"damaged: rerun with --restart")
            records[index] = record
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DeviceEvalError(f"{path} is damaged ({exc}); rerun with --restart to start over") from None
    if header.get("journal") != "kws-eval":
        raise DeviceEvalError(f"{path} is not a kws eval journal; move it away or rerun with --restart")
    return header, records, end


# ------------------------------------------------------------------------------------------- evaluation

@dataclass
class EvalResult:
    """What one `kws eval` wrote (and returns to Python callers)."""

    summary: dict[str, Any]
    truth: np.ndarray
    scores: np.ndarray
    frontend_us: np.ndarray
    inference_us: np.ndarray
    names: list[str]
    evaluated_now: int
    """Clips run in this call (the others came from the journal)."""
    paths: dict[str, Path] = field(default_factory=dict)


def _run_config(run_dir: Path) -> "KwsConfig":
    from kws.eval.calibrate import load_run_config

    if not (run_dir / "config.toml").is_file():
        raise DeviceEvalError(f"{run_dir}/config.toml does not exist: train and export the run first "
                              f"(make export RUN={run_dir.name})")
    return load_run_config(run_dir)


def evaluate_clips(run_dir: str | Path, options: EvalOptions, *, config: "KwsConfig | None" = None,
                   on_clip: Callable[[int, dict[str, Any]], None] | None = None,
                   say: Callable[[str], None] | None = None) -> EvalResult:
    """`kws eval` (clips): see the module docstring. `on_clip(index, record)` runs after each journal line."""
    from tqdm import tqdm

    from kws.config import replace as config_replace
    from kws.device.artifacts import ExportedModel

    options.validate()
    run_dir = Path(run_dir)
    config = config or _run_config(run_dir)
    exported = ExportedModel.load(run_dir, config=config)
    data = config.data if options.data_dir is None else config_replace(config.data, data_dir=str(options.data_dir))
    clips = select_clips(data, config.frontend, options.split, options.limit, progress=options.progress)
    eval_dir = run_dir / EVAL_DIR
    journal_path = eval_dir / JOURNAL
    n = len(clips)
    names = [clips.name(k) for k in range(n)]
    truth = clips.labels

    with BoardSession(exported, port=options.port, emulate=options.emulate, feed=options.feed,
                      timeout=options.timeout, retries=options.retries, chunk_samples=options.chunk_samples,
                      max_attempts=options.max_attempts, build_dir=options.build_dir) as session:
        header = {"journal": "kws-eval", "version": JOURNAL_VERSION, "model_sha256": exported.sha256,
                  "labels": list(exported.labels), "feed": options.feed, "board": session.board,
                  "split": options.split, "clips": n, "clips_sha256": clips.sha256(),
                  "data_dir": str(clips.data_dir), "frontend_hash": config.frontend.spec_hash(),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        eval_dir.mkdir(parents=True, exist_ok=True)
        fresh = options.restart or not journal_path.exists()
        journal, done = Journal.open(journal_path, header, restart=options.restart)
        if fresh:  # results of an earlier evaluation must not sit beside a journal they do not come from
            for name in (SCORES_FILE, SUMMARY_FILE):
                (eval_dir / name).unlink(missing_ok=True)
        todo = [k for k in range(n) if k not in done]
        if say and done:
            say(f"resuming {journal_path}: {len(done)} of {n} clips already done")
        with journal, tqdm(total=n, initial=len(done), desc=f"eval ({options.feed}, {session.board})", unit="clip",
                           disable=not options.progress) as bar:
            stray = [i for i in done if not 0 <= i < n]
            if stray:  # the header's clip count matched, so this is a hand-edited or foreign journal
                raise DeviceEvalError(f"{journal_path} records clip {stray[0]}, outside the {n} clips; rerun with "
                                      f"--restart")
            for k in todo:
                payload = clips.audio(k) if options.feed == "audio" else clips.features(k)
                result, attempts = session.run_clip(payload, names[k], journal=journal_path, done=len(done))
                s, t = result.scores[0], result.timings[0]
                record = {"i": k, "clip": names[k], "label": int(truth[k]), "scores": list(s.scores),
                          "frontend_us": int(t.frontend_us), "frames": int(t.frames), "invoke_us": int(t.invoke_us),
                          "attempts": attempts}
                journal.append(record)
                done[k] = record
                bar.update(1)
                if on_clip is not None:
                    on_clip(k, record)
        link = session.link_stats()
        board = session.board
    return _write_results(run_dir, config, exported.labels, options, board, clips.data_dir, names, truth, done,
                          link, evaluated_now=len(todo))


def _write_results(run_dir: Path, config: "KwsConfig", labels: Sequence[str], options: EvalOptions, board: str,
                   data_dir: Path, names: list[str], truth: np.ndarray, done: dict[int, dict],
                   link: dict[str, int], *, evaluated_now: int) -> EvalResult:
    from kws.eval.analysis import analyze_clips
    from kws.eval.metrics import latency_summary
    from kws.fsutil import atomic_path

    n = len(names)
    records = [done[k] for k in range(n)]
    for k, record in enumerate(records):
        if record["clip"] != names[k] or record["label"] != int(truth[k]):
            raise DeviceEvalError(f"journal line for clip {k} names {record['clip']!r}, expected {names[k]!r}; "
                                  f"rerun with --restart")
    scores = np.array([r["scores"] for r in records], dtype=np.int8).reshape(n, len(labels))
    frames = np.array([r["frames"] for r in records], dtype=np.int64)
    # Per frame: TIMING's frontend_us covers the `frames` frames since the previous inference (49 per clip).
    frontend_us = np.array([r["frontend_us"] / max(1, r["frames"]) for r in records], dtype=np.float64)
    inference_us = np.array([r["invoke_us"] for r in records], dtype=np.int64)
    summary = analyze_clips(labels, truth, scores, target_far=options.target_far,
                            deploy_threshold=config.deploy.detection_threshold)
    # With FEATURES the board's frontend does not run: no frontend latency to report.
    frontend_latency = frontend_us if options.feed == "audio" else np.zeros(0)
    summary.update({
        "latency": {"frontend": latency_summary(frontend_latency), "inference": latency_summary(inference_us)},
        "board": board, "feed": options.feed, "data_dir": str(data_dir), "split": options.split,
        "limit": options.limit, "deploy_threshold": config.deploy.detection_threshold,
        "attempts": int(sum(r["attempts"] for r in records)), "link": link,
    })
    eval_dir = run_dir / EVAL_DIR
    with atomic_path(eval_dir / SCORES_FILE) as tmp:
        with open(tmp, "wb") as handle:  # np.savez on a name would append .npz to the temporary name
            np.savez(handle, truth=truth, scores=scores, frontend_us=frontend_latency, inference_us=inference_us,
                     frames=frames, names=np.array(names, dtype=str))
    write_json(eval_dir / SUMMARY_FILE, summary)
    return EvalResult(summary, truth, scores, frontend_latency, inference_us, names, evaluated_now,
                      {"scores": eval_dir / SCORES_FILE, "summary": eval_dir / SUMMARY_FILE,
                       "journal": eval_dir / JOURNAL})


def operating_point_text(op: dict[str, float], target_far: float) -> str:
    """'at clip FAR <= 0.01: score >= 212 gives FRR 28.0 % (FAR 0.9 %)', or that no threshold reaches it."""
    if not np.isfinite(op["threshold"]):  # the curve's first point: nothing accepted
        return f"at clip FAR <= {target_far:g}: no score threshold gets there (ties at the top of the scale)"
    return (f"at clip FAR <= {target_far:g}: score >= {op['threshold']:.0f} gives FRR {op['frr']:.2%} "
            f"(FAR {op['far']:.2%})")


def describe(result: EvalResult) -> Iterator[str]:
    """Lines for the terminal: accuracy, per-keyword operating point, latency, link figures."""
    s = result.summary
    yield (f"on-device accuracy {s['accuracy']:.2%} on {s['clips']} clips ({s['board']}, {s['feed']} feed; "
           f"{result.evaluated_now} evaluated now, {s['clips'] - result.evaluated_now} from the journal)")
    for word, entry in s["per_keyword"].items():
        if "operating_point" in entry:
            yield (f"  {word}: AUC {entry['auc']:.4f}, EER {entry['eer']:.2%}; "
                   f"{operating_point_text(entry['operating_point'], s['target_far'])}")
    lat = s["latency"]
    if lat["frontend"]["count"]:
        yield (f"  frontend per frame p50 {lat['frontend']['p50']:.0f} us, p95 {lat['frontend']['p95']:.0f} us; "
               f"inference p50 {lat['inference']['p50']:.0f} us, p95 {lat['inference']['p95']:.0f} us")
    else:
        yield f"  inference p50 {lat['inference']['p50']:.0f} us, p95 {lat['inference']['p95']:.0f} us"
    link = s["link"]
    yield (f"  link: {link.get('link_resends', 0)} resends, {link['clip_retries']} clips run again, "
           f"{link['board_resets']} board resets handled; wrote {result.paths['summary']} and "
           f"{result.paths['scores'].name}")


__all__ = ["BoardSession", "BoardStopped", "ClipSet", "DeviceEvalError", "EvalOptions", "EvalResult", "Journal",
           "board_description", "check_identity", "describe", "evaluate_clips", "operating_point_text", "read_journal",
           "select_clips", "spread_subset"]
