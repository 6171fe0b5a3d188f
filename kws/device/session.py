"""One board session: open the port (or start the emulated board), handshake, check the board's identity,
resend, reconnect. Used by kws flash (the handshake after an upload), kws eval (clips and streams) and
kws monitor.

    from kws.device.session import BoardSession, LinkSettings
    with BoardSession(exported, port="/dev/ttyACM0") as session:          # HELLO, identity checked
        result, attempts = session.run_clip(pcm, "yes/abc_nohash_0.wav")  # RESET, the clip, whole or again
    with BoardSession(None, port=port, handshake=False) as session:       # no run to compare with (monitor)
        session.link ...

Identity (`check_identity`): the model SHA-256 and labels in the board's INFO must be the export's, its
features frames x features the run's, and, whenever the board's own frontend makes the model's input (audio
fed or heard, not FEATURES), its frontend spec hash too.

Faults: the link (kws.device.link) resends a frame after NAK(BAD_CRC) or a timeout. On top of it, run_clip
checks each clip whole (the ACKed sample or frame count, exactly one SCORES and one TIMING); a clip whose
result was damaged (a board frame lost on the line), a board that rebooted (it answers NAK(BAD_STATE) in
text mode) or a link that gave up is handled by saying HELLO again and running the clip again from its
RESET, so nothing is lost and nothing is counted twice. A port that vanishes (a reset Nano re-enumerates
on USB) is opened again once it is back (within RECONNECT_S). A board that does not answer the new HELLO
is a BoardStopped error.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kws.errors import KwsError

if TYPE_CHECKING:
    from kws.device import protocol as P
    from kws.device.artifacts import ExportedModel
    from kws.device.link import BoardLink, FeedResult

EMULATED = "emulated"
"""How reports name kws's own emulated board."""
RECONNECT_S = 15.0
"""How long a vanished port may take to come back (a Nano re-enumerates within a few seconds)."""
FEEDS = ("audio", "features")


@dataclass(frozen=True)
class LinkSettings:
    """How patient a session is with the line: the defaults of every command that talks to a board."""

    timeout: float = 2.0
    """Seconds to wait for each answer of the board before resending."""
    retries: int = 3
    """Resends of one frame before the link gives up (then a new handshake and the clip again)."""
    chunk_samples: int = 1024
    """Samples per AUDIO frame (at most 1,024)."""
    max_attempts: int = 8
    """Times one clip is tried (after a damaged result, a reboot or a link that gave up)."""

    def validate(self) -> None:
        """SessionError naming the option that cannot work."""
        if self.timeout <= 0 or self.retries < 0 or self.max_attempts < 1:
            raise SessionError("--timeout must be > 0, --retries >= 0 and max_attempts >= 1")
        if not 1 <= self.chunk_samples <= 1024:
            raise SessionError(f"--chunk-samples must be in 1..1024, got {self.chunk_samples}")


class SessionError(KwsError):
    """The board cannot be used for this run; the message names the port and what to do."""


class IdentityMismatch(SessionError):
    """The board runs another model, labels or frontend than the run's export."""


class BoardStopped(SessionError):
    """The board stopped answering (timeouts even after a new handshake)."""


def board_description(info: "P.Info") -> str:
    """'emulated' for kws's emulated board, else what the firmware says it is."""
    from kws.device.emulator import BOARD_NAME

    if info.board == BOARD_NAME:
        return EMULATED
    return f"{info.board} ({info.backend}, firmware {info.firmware_version})"


def board_clock(description: str) -> str:
    """What a board's TIMING microseconds measure, from its description (board_description): a property of the
    board, however it was reached (--emulate, --board or the port of `kws emulate`)."""
    from kws.device.boards import CLOCKS

    if description == EMULATED:
        return CLOCKS["host"]
    if description.startswith("mps2-an386"):
        return CLOCKS["m4"]
    return "the board's own microsecond clock"


def identity_fix(run: str) -> str:
    """What to do when a board runs another run's model."""
    return (f"flash this run's model (`kws flash --run {run}`, or `make flash RUN={run}`) or evaluate it on the "
            f"emulated board (`kws eval --run {run} --emulate`)")


def check_identity(info: "P.Info", exported: "ExportedModel", port: str, *, feed: str = "audio",
                   fix: str | None = None, error: type[SessionError] = IdentityMismatch) -> None:
    """`error` unless the board runs the run's exported model with its labels and features (module docstring).
    `feed` 'features' skips the frontend hash: the board's frontend then makes none of the model's input."""
    run = exported.run_dir.name
    fix = fix or identity_fix(run)
    if info.model_sha256 != exported.sha256:
        raise error(f"the board on {port} runs model {info.model_sha256[:16]}..., but the export "
                    f"{exported.model_path} is {exported.sha256[:16]}...: its scores would not be this run's; {fix}")
    if tuple(info.labels) != tuple(exported.labels):
        raise error(f"the board on {port} has labels {','.join(info.labels)}, the export "
                    f"{','.join(exported.labels)}; {fix}")
    frontend = exported.frontend
    if feed == "audio" and info.frontend_hash and info.frontend_hash != frontend.spec_hash():
        raise error(f"the board on {port} computes other features (frontend spec {info.frontend_hash[:16]}...) "
                    f"than {run}'s config ({frontend.spec_hash()[:16]}...); {fix}")
    if (info.num_frames, info.num_features) != (frontend.num_frames, frontend.num_features):
        raise error(f"the board on {port} feeds its model {info.num_frames}x{info.num_features} features, the run "
                    f"{frontend.num_frames}x{frontend.num_features}; {fix}")


@dataclass
class SessionStats:
    """What the session had to do on top of the link's own resends."""

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


class BoardSession:
    """A link to a board, identity checked against `exported` (None: no check): a port, or the emulated
    board started here (emulate=True; `board` 'host' or 'm4', kws.device.boards)."""

    def __init__(self, exported: "ExportedModel | None", *, port: str | None = None, emulate: bool = False,
                 feed: str = "audio", link: LinkSettings = LinkSettings(), build_dir: Path | None = None,
                 handshake: bool = True, baudrate: int | None = None, board: str = "host") -> None:
        if feed not in FEEDS:
            raise SessionError(f"--feed must be one of {', '.join(FEEDS)}, got {feed!r}")
        self.exported = exported
        self.port = port or ""
        self.emulate = emulate
        self.board_kind = board
        self.feed = feed
        self.settings = link
        self.build_dir = build_dir
        self.baudrate = baudrate
        self._handshake_on_enter = handshake
        self.emulator: Any = None
        self.firmware: dict[str, Any] | None = None
        """Linker figures of the emulated board's firmware (the M4 board), else None."""
        self.link: "BoardLink | None" = None
        self.info: "P.Info | None" = None
        self.stats = SessionStats()
        self._params: "P.Params | None" = None
        self._closed_link_stats: dict[str, int] = {}

    # -------------------------------------------------------------------------------- open / close

    def __enter__(self) -> "BoardSession":
        try:
            if self.emulate:
                from kws.device.boards import emulated_board

                if self.exported is None:
                    raise SessionError("the emulated board needs a run's export to serve")
                self.emulator = emulated_board(self.board_kind, self.exported, build_dir=self.build_dir)
                self.port = self.emulator.start()
                from kws.device.boards import firmware_figures

                self.firmware = firmware_figures(self.emulator)
            self.link = self._open()
            if self._handshake_on_enter:
                self.handshake()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> "BoardLink":
        from kws.device.link import DEFAULT_BAUDRATE, BoardLink

        s = self.settings
        return BoardLink.open(self.port, baudrate=self.baudrate or DEFAULT_BAUDRATE, timeout=s.timeout,
                              retries=s.retries, chunk_samples=s.chunk_samples)

    def reconnect(self, wait_s: float = RECONNECT_S) -> None:
        """The port went away (a reset Nano re-enumerates): open it again once it is back, then handshake.
        An emulated board started here that has stopped (its QEMU killed or crashed) is started again, as a reset
        board would boot again: a fresh board, on a new port; it counts as a reconnect. BoardStopped when the port
        does not come back within wait_s, or the emulated board cannot be started again."""
        from kws.device.link import PortError

        if self.link is not None:
            for name, value in asdict(self.link.stats).items():
                self._closed_link_stats[name] = self._closed_link_stats.get(name, 0) + value
            try:
                self.link.close()
            except OSError:
                pass  # the port is gone: closing what is left of it cannot fail the session
            self.link = None
        check = getattr(self.emulator, "check", None)
        settled = time.monotonic() + 2.0  # its port closes as it dies: give the exit a moment to be seen
        while check is not None:
            try:
                check()
            except KwsError as stopped:  # it will never come back by itself: boot it again
                try:
                    self.emulator.stop()
                    self.port = self.emulator.start()
                except KwsError as exc:  # one line: QEMU's log may span several
                    raise BoardStopped(" ".join(f"the emulated board stopped ({stopped}) and could not be started "
                                                f"again ({exc})".split())) from None
                break
            if time.monotonic() >= settled:
                break
            time.sleep(0.05)
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
        if self.exported is not None:
            check_identity(info, self.exported, self.port, feed=self.feed)
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
            return self.link.feed_audio(payload, self.settings.chunk_samples)
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
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
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
            if attempt < attempts:
                self.stats.clip_retries += 1
        raise SessionError(f"clip {clip!r} failed {attempts} times on {self.port}; the last problem: {last}. "
                           f"Check the cable (or the line's error rate), then rerun to resume")

    def link_stats(self) -> dict[str, int]:
        """The link's counters plus this session's (for summary.json)."""
        out = asdict(self.stats)
        totals = dict(self._closed_link_stats)
        if self.link is not None:
            for name, value in asdict(self.link.stats).items():
                totals[name] = totals.get(name, 0) + value
        out.update({f"link_{k}": v for k, v in totals.items()})
        return out


def handshake_when_ready(port: str, exported: "ExportedModel", *, timeout: float = 20.0, fix: str | None = None,
                         error: type[SessionError] = IdentityMismatch) -> "P.Info":
    """HELLO a board that may still be booting (retried until `timeout`), then the identity check. The
    handshake after `kws flash` uploads: `error` and `fix` say what a mismatch means there."""
    from kws.device.link import LinkError, PortPermissionError

    deadline = time.monotonic() + timeout
    while True:
        try:
            with BoardSession(None, port=port, link=LinkSettings(timeout=1.0, retries=1)) as session:
                info = session.info
            break
        except PortPermissionError:
            raise
        except (LinkError, SessionError) as exc:  # not there yet, still booting, or USB settling: try again
            if time.monotonic() >= deadline:
                raise SessionError(f"the board on {port} did not answer the handshake within {timeout:g} s: "
                                   f"{exc}") from None
            time.sleep(0.5)
    assert info is not None
    check_identity(info, exported, port, feed="audio", fix=fix, error=error)
    return info


__all__ = ["BoardSession", "BoardStopped", "EMULATED", "FEEDS", "IdentityMismatch", "LinkSettings", "RECONNECT_S",
           "SessionError", "SessionStats", "board_clock", "board_description", "check_identity",
           "handshake_when_ready", "identity_fix"]
