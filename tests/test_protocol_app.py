"""The serial protocol from the board's end: the conversation with the host-built app (handshake,
feeds, ACK/NAK, duplicates, errors, text mode), the ctypes seam, and a sanitizer-built fuzz run of the
parser, codec and app. The wire format itself (constants, codec, decoder, C round trips) is
tests/test_protocol.py; helpers shared by the two are in tests/protocol_support.py.

    .venv/bin/python -m pytest tests/test_protocol_app.py -q
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
from protocol_support import hostile_stream, run

from kws.config import FrontendConfig
from kws.device import framing as F
from kws.device import protocol as P

# --------------------------------------------------------------------------------- the board (app)

@pytest.fixture(scope="module")
def app_exe(c_build) -> Path:
    return c_build("app_pipe", sanitize="auto")


def converse(app_exe: Path, wire: bytes, *args: object) -> tuple[list, str]:
    result = run(app_exe, *args, stdin=wire)
    return P.decode_stream(result.stdout), result.stderr.decode()


def frames_of(events: list) -> list[P.Message]:
    return [e for e in events if isinstance(e, P.Message)]


def text_of(events: list) -> str:
    return b"".join(e.data for e in events if isinstance(e, F.Text)).decode("ascii")


def test_boot_text_then_handshake_then_info(app_exe):
    events, stats = converse(app_exe, P.encode_messages([P.Hello()]))
    assert text_of(events) == "KWS ready firmware=0.1.0-host board=host-test protocol=1 model=0000000000000000 " \
                              "labels=_silence_,_unknown_,yes,no\r\n"
    (info,) = frames_of(events)
    cfg = FrontendConfig()
    assert info == P.Info(protocol_version=1, max_payload=2048, arena_bytes=10240, sample_rate=16000,
                          stride_samples=320, num_frames=49, num_features=40, input_scale=float(np.float32(0.1)),
                          input_zero_point=10, output_scale=0.00390625, output_zero_point=-128,
                          params=P.Params(1000, 1500, 3, 200, 1, int(P.FLAG_DEFAULT)),
                          firmware_version="0.1.0-host", board="host-test", backend="fake",
                          model_sha256="0" * 64, frontend_hash=cfg.spec_hash(), feature_type="logmel",
                          labels=("_silence_", "_unknown_", "yes", "no"))
    assert "mode=1" in stats


def test_audio_feed_gives_scores_timing_and_ack_in_order(app_exe, tmp_path):
    rng = np.random.default_rng(0)
    audio = rng.integers(-8000, 8000, 16000).astype(np.int16)
    chunks = [P.Audio.from_samples(audio[i:i + 1000]) for i in range(0, 16000, 1000)]
    counter = P.SequenceCounter()
    wire = P.encode_messages([P.Hello(), P.Reset(), *chunks], counter)
    events, _ = converse(app_exe, wire, "--dump-input", tmp_path / "in.i8")
    messages = frames_of(events)
    assert isinstance(messages[0], P.Info) and messages[1] == P.Ack(1, P.MsgType.RESET, 0, 0)
    acks = [m for m in messages if isinstance(m, P.Ack)][1:]
    assert [(a.acked_seq, a.acked_type, a.status, a.count) for a in acks] == [
        (2 + i, P.MsgType.AUDIO, P.AckStatus.OK, 1000 * (i + 1)) for i in range(16)]
    # One second after RESET = exactly one inference, on the last chunk, before that chunk's ACK.
    scores = [m for m in messages if isinstance(m, P.Scores)]
    timing = [m for m in messages if isinstance(m, P.Timing)]
    assert len(scores) == len(timing) == 1
    assert messages[-3:] == [scores[0], timing[0], acks[-1]]
    assert scores[0].inference == 0 and scores[0].time_us == (48 * 320 + 512) * 1_000_000 // 16000
    assert (scores[0].scale, scores[0].zero_point) == (0.00390625, -128)
    model_input = np.fromfile(tmp_path / "in.i8", dtype=np.int8).reshape(49, 40)
    assert scores[0].scores == tuple(int(v) for v in model_input[-1, :4])  # the echo model
    assert timing[0].frames == 49 and timing[0].invoke_us > 0 and timing[0].frontend_us > 0
    # The board numbers its own frames 0, 1, 2, ... without gaps.
    assert [e.seq for e in F.FrameDecoder().feed(run(app_exe, stdin=wire).stdout) if isinstance(e, F.Frame)] == \
        list(range(len(messages)))


def test_resent_chunk_is_acked_as_duplicate_not_processed_twice(app_exe):
    chunk = P.Audio.from_samples(np.ones(500, dtype=np.int16))
    wire = (P.encode_message(P.Hello(), 0) + P.encode_message(chunk, 1) + P.encode_message(chunk, 1)
            + P.encode_message(chunk, 2))
    acks = [m for m in frames_of(converse(app_exe, wire)[0]) if isinstance(m, P.Ack)]
    assert [(a.acked_seq, a.status, a.count) for a in acks] == [(1, 0, 500), (1, 1, 500), (2, 0, 1000)]


def test_a_pipelined_duplicate_is_not_processed_twice(app_exe):
    """A host that sent chunks 1 and 2 without waiting, then resent 1 (its ACK was late): the board
    remembered only the last data seq, so chunk 1 was processed a second time, after 2. It remembers the
    last P.DUP_WINDOW accepted data seqs: the resend is ACKed DUPLICATE, the sample count unchanged."""
    chunk = P.Audio.from_samples(np.ones(500, dtype=np.int16))
    wire = P.encode_message(P.Hello(), 0) + b"".join(P.encode_message(chunk, s) for s in (1, 2, 1, 3))
    acks = [m for m in frames_of(converse(app_exe, wire)[0]) if isinstance(m, P.Ack)]
    assert [(a.acked_seq, a.status, a.count) for a in acks] == [(1, 0, 500), (2, 0, 1000), (1, 1, 1000),
                                                                (3, 0, 1500)]


def test_the_duplicate_window_holds_only_accepted_frames_and_slides(app_exe):
    """A NAKed frame was never accepted, so its resend is processed (after the later frames a pipelining
    host sent: out of order, which is why the protocol is stop-and-wait). A seq older than the window is
    new data again (the u16 seq wraps after 65,536 frames), and HELLO forgets the window."""
    chunk = P.Audio.from_samples(np.ones(10, dtype=np.int16))
    broken = bytearray(P.encode_message(chunk, 2))
    broken[-1] ^= 1
    window = P.DUP_WINDOW
    wire = (P.encode_message(P.Hello(), 0) + P.encode_message(chunk, 1) + bytes(broken) + P.encode_message(chunk, 3)
            + P.encode_message(chunk, 2)
            + b"".join(P.encode_message(chunk, 4 + k) for k in range(window + 1))  # 4 .. 4 + window
            + P.encode_message(chunk, 5) + P.encode_message(chunk, 4)  # 5 is in the window of the last 8, 4 left it
            + P.encode_message(P.Hello(), 100) + P.encode_message(chunk, 5))
    replies = [m for m in frames_of(converse(app_exe, wire)[0]) if isinstance(m, (P.Ack, P.Nak))]
    statuses = [(m.acked_seq, m.status) if isinstance(m, P.Ack) else (m.acked_seq, "nak") for m in replies]
    assert statuses[:4] == [(1, 0), (2, "nak"), (3, 0), (2, 0)]
    assert statuses[4:5 + window] == [(4 + k, 0) for k in range(window + 1)]
    assert statuses[5 + window:] == [(5, 1), (4, 0), (5, 0)]


def test_bad_crc_is_naked_and_the_resend_accepted(app_exe):
    chunk = P.encode_message(P.Audio.from_samples(np.arange(100, dtype=np.int16)), 1)
    broken = bytearray(chunk)
    broken[20] ^= 0x40
    wire = P.encode_message(P.Hello(), 0) + b"garbage\xa5\x5a\xa5" + bytes(broken) + b"\x00\xa5" + chunk
    messages = frames_of(converse(app_exe, wire)[0])
    assert messages[1:] == [P.Nak(1, P.MsgType.AUDIO, P.ErrorCode.BAD_CRC), P.Ack(1, P.MsgType.AUDIO, 0, 100)]


def test_refusals_carry_the_right_error_code(app_exe):
    too_large_header = struct.pack("<BHH", P.MsgType.AUDIO, 9, 3000)
    wire = b"".join([
        P.encode_message(P.Audio.from_samples(np.zeros(10, np.int16)), 0),   # before HELLO
        P.encode_message(P.Hello(version=2), 1),                              # wrong version
        P.encode_message(P.Hello(), 2),
        F.encode_frame(P.MsgType.HELLO, 3, b"\x01"),                          # short payload
        P.encode_message(P.Features(bytes(41)), 4),                           # not whole frames
        P.encode_message(P.SetParams(P.Params(infer_every=0)), 5),
        P.encode_message(P.SetParams(P.Params(average_window_ms=700_000)), 6),
        P.encode_message(P.SetParams(P.Params(flags=0x80)), 7),
        P.encode_message(P.Info(), 8),                                        # a board -> host type
        F.SYNC + too_large_header + bytes([F.crc32(too_large_header) & 0xFF]),
        F.encode_frame(0x42, 10, b""),                                        # unknown type
        P.encode_message(P.Bye(), 11),
        P.encode_message(P.Features(bytes(40)), 12),                          # after BYE
    ])
    messages = frames_of(converse(app_exe, wire)[0])
    E = P.ErrorCode
    assert [(m.acked_seq, m.code) for m in messages if isinstance(m, P.Nak)] == [
        (0, E.BAD_STATE), (1, E.VERSION), (3, E.BAD_PAYLOAD), (4, E.BAD_PAYLOAD), (5, E.BAD_PARAM),
        (6, E.BAD_PARAM), (7, E.BAD_PARAM), (8, E.UNKNOWN_TYPE), (9, E.TOO_LARGE), (10, E.UNKNOWN_TYPE),
        (12, E.BAD_STATE)]
    assert P.Ack(11, P.MsgType.BYE, 0, 0) in messages


def test_set_params_changes_info_cadence_and_reports(app_exe):
    params = P.Params(average_window_ms=500, suppression_ms=100, minimum_count=1, detection_threshold=10,
                      infer_every=5, flags=0)
    frames = np.full((30, 40), -128, dtype=np.int8)
    wire = P.encode_messages([P.Hello(), P.SetParams(params), P.Hello(), P.Features.from_array(frames),
                              P.Features.from_array(frames), P.SetParams(), P.Features.from_array(frames[:3])])
    messages = frames_of(converse(app_exe, wire)[0])
    assert messages[1] == P.Ack(1, P.MsgType.SET_PARAMS, 0, 0)
    assert messages[2].params == params
    assert messages[3:6] == [P.Ack(3, P.MsgType.FEATURES, 0, 30), P.Ack(4, P.MsgType.FEATURES, 0, 60),
                             P.Ack(5, P.MsgType.SET_PARAMS, 0, 0)]  # flags 0: no SCORES/TIMING
    # Inferences ran at frames 49, 54 and 59 (every 5); back to the defaults (every frame, SCORES and
    # TIMING on), frames 61, 62 and 63 each run one: inference numbers continue 3, 4, 5.
    assert [m.inference for m in messages[6:] if isinstance(m, P.Scores)] == [3, 4, 5]
    assert [m.inference for m in messages[6:] if isinstance(m, P.Timing)] == [3, 4, 5]
    assert messages[-1] == P.Ack(6, P.MsgType.FEATURES, 0, 63)


def test_features_feed_drives_detections_and_a_model_failure_is_an_error_frame(app_exe):
    frames = np.full((120, 40), -128, dtype=np.int8)
    frames[55:115, 2] = 120  # the echo model scores "yes" at 248 for 60 frames (1.2 s)
    wire = P.encode_messages([P.Hello(), P.Reset(stream_time_us=5_000_000)]
                             + [P.Features.from_array(frames[i:i + 10]) for i in range(0, 120, 10)])
    messages = frames_of(converse(app_exe, wire)[0])
    (detection,) = [m for m in messages if isinstance(m, P.Detection)]
    scores = [m for m in messages if isinstance(m, P.Scores)]
    assert len(scores) == 120 - 48
    from kws.recognizer import RecognizerConfig, detections

    (expected,) = detections(RecognizerConfig(), ("_silence_", "_unknown_", "yes", "no"),
                             [(m.time_us, m.scores) for m in scores])
    index, time_us, label, score = expected
    assert (detection.inference, detection.time_us, detection.label, detection.score) == (index, time_us, label, score)
    assert (detection.name, score) == ("yes", 201)  # the first average above 200: 248 * 41 // 50
    messages = frames_of(converse(app_exe, wire, "--fail-every", 10)[0])
    errors = [m for m in messages if isinstance(m, P.Error)]
    assert errors and all(e.code == P.ErrorCode.MODEL and "code 3" in e.text for e in errors)
    assert len([m for m in messages if isinstance(m, P.Scores)]) == 72 - 7  # the failed ones report nothing


def test_binary_mode_can_listen_to_the_microphone_instead(app_exe, tmp_path):
    mic = np.random.default_rng(2).integers(-2000, 2000, 16000 + 5 * 320).astype(np.int16)
    (tmp_path / "mic.raw").write_bytes(mic.astype("<i2").tobytes())
    live = P.Params(flags=int(P.Flag.LIVE_AUDIO | P.Flag.SCORES))
    wire = P.encode_messages([P.Hello(), P.SetParams(live), P.Audio.from_samples(mic[:100])])
    messages = frames_of(converse(app_exe, wire, "--mic", tmp_path / "mic.raw")[0])
    assert messages[1:3] == [P.Ack(1, P.MsgType.SET_PARAMS, 0, 0), P.Nak(2, P.MsgType.AUDIO, P.ErrorCode.BAD_STATE)]
    assert [m.inference for m in messages if isinstance(m, P.Scores)] == list(range(6))
    assert not any(isinstance(m, P.Timing) for m in messages)
    # Without the flag the microphone is ignored in binary mode.
    wire = P.encode_messages([P.Hello()])
    replies = frames_of(converse(app_exe, wire, "--mic", tmp_path / "mic.raw")[0])
    assert not any(isinstance(m, P.Scores) for m in replies)


def test_text_mode_commands_and_detect_lines(app_exe, tmp_path):
    """A person with a serial monitor: typed commands, and DETECT lines from the microphone that equal
    what the Python reference frontend plus the Python recognizer predict for the same audio."""
    from kws.frontend import reference_features_int8
    from kws.recognizer import RecognizerConfig, detections

    rng = np.random.default_rng(4)
    t = np.arange(16000 * 6)
    # Tone bursts between 100 and 300 Hz in quiet noise: they light up mel channels 0..3.
    freq = 100 + 200 * ((t // 16000) % 3) / 2
    gate = ((t // 12000) % 2 == 1)
    mic = (rng.normal(0, 30, t.size) + gate * 12000 * np.sin(2 * np.pi * freq * t / 16000)).astype(np.int16)
    (tmp_path / "mic.raw").write_bytes(mic.astype("<i2").tobytes())
    labels = ("k0", "k1", "k2", "k3")
    config = RecognizerConfig(average_window_ms=400, suppression_ms=700, minimum_count=3, detection_threshold=150)
    reference = reference_features_int8(mic, FrontendConfig())
    stream = [(((48 + k) * 320 + 512) * 1_000_000 // 16000, list(reference[48 + k, :4]))
              for k in range(reference.shape[0] - 48)]
    expected = [f"DETECT {labels[label]} score={score} t_ms={t_us // 1000}"
                for _, t_us, label, score in detections(config, labels, stream)]
    assert len(expected) >= 2
    wire = b"help\r\n  INFO \nreset\nfoo\n" + b"x" * 40 + b"\n"
    events, stats = converse(app_exe, wire, "--mic", tmp_path / "mic.raw", "--labels", ",".join(labels),
                             "--window", 400, "--suppression", 700, "--threshold", 150)
    lines = text_of(events).split("\r\n")
    assert lines[0].startswith("KWS ready") and lines[1].startswith("commands: info, reset, help")
    assert lines[2].startswith("firmware 0.1.0-host board host-test protocol 1")
    assert lines[3].startswith("model " + "0" * 64 + " backend fake arena 10240 output_scale 0.00390625")
    assert lines[4] == f"frontend {FrontendConfig().spec_hash()} logmel 49x40"
    assert lines[5] == "labels k0,k1,k2,k3"
    assert lines[6] == "recognizer window_ms=400 threshold=150 suppression_ms=700 minimum_count=3 infer_every=1"
    assert lines[7:10] == ["OK reset", "ERROR unknown command; try: help", "ERROR line too long; try: help"]
    assert [line for line in lines if line.startswith("DETECT")] == expected
    assert not frames_of(events) and "mode=0" in stats


# ----------------------------------------------------------------------------------- ctypes seam

def test_the_core_as_a_shared_library_with_a_python_model(tmp_path):
    """The emulated board's seam: the core loaded with ctypes, the model a Python callable, time and
    serial in Python; the inter-byte timeout rescues a frame held by a false header."""
    from kws.device.cbuild import CBuildError, build_shared_library
    from kws.device.ccore import CoreApp
    from kws.recognizer import RecognizerConfig

    try:
        library = build_shared_library(FrontendConfig(), tmp_path)
    except CBuildError as exc:
        from conftest import fail_or_skip

        fail_or_skip(str(exc))
    sent: list[bytes] = []
    clock = [0xFFFF_FF00]  # about to wrap
    seen = []

    def model(features: np.ndarray) -> list[int]:
        seen.append(features.reshape(49, 40).copy())
        if len(seen) == 3:
            raise RuntimeError("the interpreter fell over")
        return [-128, -128, 127, -128]

    app = CoreApp(library, labels=("_silence_", "_unknown_", "yes", "no"), model=model, write=sent.append,
                  time_us=lambda: clock[0], model_sha256="ab" * 32, arena_bytes=10240,
                  recognizer=RecognizerConfig(average_window_ms=40, minimum_count=1))
    assert b"".join(sent).startswith(b"KWS ready firmware=0.1.0-host board=host")
    sent.clear()
    false = F.encode_frame(P.MsgType.AUDIO, 5, bytes(2000))[:F.HEADER_SIZE]
    app.receive(false + P.encode_message(P.Hello(), 0))
    assert sent == [] and not app.binary_mode          # held by the false candidate
    clock[0] = (clock[0] + 150_000) & 0xFFFFFFFF         # 150 ms of silence, across the wrap
    app.poll()
    assert app.binary_mode and isinstance(P.decode_stream(b"".join(sent))[0], P.Info)
    sent.clear()
    rng = np.random.default_rng(1)
    audio = rng.integers(-3000, 3000, 16000 + 2 * 320).astype(np.int16)
    with pytest.raises(RuntimeError, match="fell over"):
        app.receive(P.encode_messages(P.audio_chunks(audio), P.SequenceCounter(1)))
    messages = [m for m in P.decode_stream(b"".join(sent)) if isinstance(m, P.Message)]
    kinds = [type(m).__name__ for m in messages]
    assert kinds.count("Scores") == 2 and kinds.count("Error") == 1 and kinds[-1] == "Ack"
    assert kinds.count("Detection") == 1
    assert app.stats()["inferences"] == 3 and app.stats()["model_errors"] == 1
    from kws.frontend import reference_features_int8

    reference = reference_features_int8(audio, FrontendConfig())
    np.testing.assert_array_equal(seen[0], reference[:49])
    np.testing.assert_array_equal(seen[2], reference[2:51])


# ------------------------------------------------------------------------------------------ fuzz

def fuzz_input(seed: int, frames: int) -> bytes:
    """A HELLO, then thousands of hostile frames including well-formed host messages with random
    fields (so the app's handlers run on odd values), occasional HELLO, RESET and BYE."""
    rng = np.random.default_rng(seed)
    parts = [P.encode_message(P.Hello(), 0)]
    for i in range(frames):
        r = rng.random()
        if r < 0.35:
            parts.append(hostile_stream(int(rng.integers(0, 1 << 30)), 1))
        elif r < 0.6:
            samples = rng.integers(-32768, 32768, int(rng.integers(0, F.MAX_PAYLOAD // 2 + 1))).astype(np.int16)
            parts.append(P.encode_message(P.Audio.from_samples(samples), int(rng.integers(0, 65536))))
        elif r < 0.72:
            n = int(rng.integers(0, 49)) * 40 + int(rng.random() < 0.2)
            parts.append(P.encode_message(P.Features(bytes(rng.integers(0, 256, n).astype(np.uint8))), i))
        elif r < 0.77:
            flags = int(rng.integers(0, 4)) | (int(P.Flag.LIVE_AUDIO) if rng.random() < 0.1 else 0)
            fields = (int(rng.integers(0, 700_001)), int(rng.integers(0, 700_001)), int(rng.integers(0, 100)),
                      int(rng.integers(0, 256)), int(rng.integers(0, 4)), flags | (0x40 if rng.random() < 0.05 else 0))
            parts.append(P.encode_message(P.SetParams(P.Params(*fields)), i))
        elif r < 0.78:
            parts.append(P.encode_message(rng.choice([P.Hello(), P.Reset(int(rng.integers(0, 1 << 32))),
                                                      P.Reset(), P.Bye()]), i))
        else:  # random payload of a random type, correctly framed, possibly cut
            frame = F.encode_frame(int(rng.integers(0, 256)), i,
                                   bytes(rng.integers(0, 256, int(rng.integers(0, 300))).astype(np.uint8)))
            parts.append(frame if rng.random() < 0.7 else frame[:int(rng.integers(1, len(frame)))])
    return b"".join(parts)


def test_fuzz_never_crashes_the_sanitized_parser_codec_or_app(c_build):
    exe = c_build("protocol_fuzz", sanitize=True)  # ASan + UBSan, or skip/fail per the house rule
    generated = 0
    start = time.monotonic()
    totals: dict[str, int] = {}
    for seed in (11, 12, 13, 14):
        stream = fuzz_input(seed, 5000)
        result = run(exe, seed, stdin=stream, check=False)
        assert result.returncode == 0, f"seed {seed}: exit {result.returncode}\n{result.stderr.decode()[-4000:]}"
        stats = {k: int(v) for k, v in (kv.split("=") for kv in result.stdout.decode().split())}
        assert stats["failures"] == 0
        for key, value in stats.items():
            totals[key] = totals.get(key, 0) + value
        generated += 5000
    elapsed = time.monotonic() - start
    print(f"fuzz: {generated} generated frames, {totals['bytes']} bytes in {elapsed:.1f} s: {totals}")
    assert totals["frames"] > 10_000 and totals["bad_crc"] > 1_000 and totals["too_large"] > 200
    assert totals["decode_errors"] > 1_000 and totals["app_inferences"] > 1_000 and totals["app_detections"] > 0
    assert totals["board_frames"] > 10_000  # the board's own output parsed cleanly (failures == 0)
    assert elapsed < 50
