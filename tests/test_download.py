"""The Speech Commands downloader against a local HTTP server (never the internet).

    .venv/bin/python -m pytest tests/test_download.py -q

The server runs on 127.0.0.1 with an ephemeral port in a thread. It answers Range requests itself
(http.server's SimpleHTTPRequestHandler does not) and can misbehave on request: drop the
connection, ignore Range, stall. It serves a small .tar.gz built here in the Speech Commands layout.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import stat
import tarfile
import threading
import time
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from kws.cli import main
from kws.data import download as dl
from kws.data.download import ArchiveSpec, download_speech_commands
from kws.errors import DownloadError

ARCHIVE_PATH = "/speech_commands.tar.gz"
WORDS = ("yes", "no", "up")


# ----------------------------------------------------------------------------------------- archive

def _wav_bytes(rng: random.Random, seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16_000)
        # Random samples do not compress, so the archive is big enough to cut in the middle.
        handle.writeframes(rng.randbytes(2 * int(16_000 * seconds)))
    return buffer.getvalue()


def _layout_files(rng: random.Random) -> dict[str, bytes]:
    """Relative path -> bytes of a miniature Speech Commands tree."""
    files: dict[str, bytes] = {}
    for word in WORDS:
        for speaker in ("0a7c2a8d", "1b4c9b89", "2c5d8e77"):
            files[f"{word}/{speaker}_nohash_0.wav"] = _wav_bytes(rng, 0.1)
    files["_background_noise_/white_noise.wav"] = _wav_bytes(rng, 0.2)
    files["_background_noise_/README.md"] = b"noise\n"
    files["testing_list.txt"] = b"yes/0a7c2a8d_nohash_0.wav\nno/0a7c2a8d_nohash_0.wav\n"
    files["validation_list.txt"] = b"up/1b4c9b89_nohash_0.wav\n"
    files["LICENSE"] = b"CC BY 4.0\n"
    return files


def _tar_gz(files: dict[str, bytes], prefix: str = "./") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            info.mtime = 1_500_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def layout() -> dict[str, bytes]:
    return _layout_files(random.Random(0))


@pytest.fixture(scope="module")
def archive(layout: dict[str, bytes]) -> bytes:
    return _tar_gz(layout)


# ------------------------------------------------------------------------------------------ server

@dataclass
class ServerState:
    payload: bytes = b""
    drop_after: int | None = None
    """On the first request only: send this many body bytes, then close the connection."""
    ignore_range: bool = False
    """Answer every request with 200 and the whole file, like servers without Range support."""
    stall_s: float = 0.0
    """Sleep this long after the first body bytes (to trigger the client's read timeout)."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class RangeHandler(BaseHTTPRequestHandler):
    server: "LocalServer"

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state = self.server.state
        range_header = self.headers.get("Range")
        state.requests.append((self.path, range_header))
        if self.path != ARCHIVE_PATH:
            self.send_error(404, "Not Found")
            return
        data = state.payload
        start = 0
        if range_header and not state.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", range_header)
            assert match, range_header
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.drop_after is not None and len(state.requests) == 1:
            self.wfile.write(body[: state.drop_after])
            self.wfile.flush()
            self.close_connection = True
            return
        if state.stall_s:
            self.wfile.write(body[:100])
            self.wfile.flush()
            time.sleep(state.stall_s)
        self.wfile.write(body)


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up teardown

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.state = ServerState()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + ARCHIVE_PATH


@pytest.fixture
def server(archive: bytes) -> Iterator[LocalServer]:
    httpd = LocalServer()
    httpd.state.payload = archive
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _leftovers(dest: Path) -> list[str]:
    """Hidden temporary folders/files the downloader must never leave behind."""
    return sorted(p.name for p in dest.iterdir() if p.name.startswith("."))


def _run(server: LocalServer, dest: Path, **kwargs: object) -> Path:
    kwargs.setdefault("url", server.url)
    kwargs.setdefault("sha256", _sha(server.state.payload))
    kwargs.setdefault("progress", False)
    return download_speech_commands("v0.02", dest, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- tests

def test_full_download_verifies_extracts_and_removes_archive(server: LocalServer, tmp_path: Path,
                                                             layout: dict[str, bytes],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = _run(server, tmp_path, progress=True)
    assert root == tmp_path / "speech_commands_v0.02"
    for name, data in layout.items():
        assert (root / name).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech_commands_v0.02"]
    assert server.state.requests == [(ARCHIVE_PATH, None)]
    assert "unpacked 9 keyword clips" in capsys.readouterr().err


def test_keep_archive(server: LocalServer, tmp_path: Path) -> None:
    _run(server, tmp_path, keep_archive=True)
    assert (tmp_path / "speech_commands_v0.02.tar.gz").read_bytes() == server.state.payload


def test_dropped_connection_keeps_part_and_rerun_resumes(server: LocalServer, tmp_path: Path) -> None:
    cut = 10_000
    assert len(server.state.payload) > 2 * cut
    server.state.drop_after = cut
    with pytest.raises(DownloadError) as info:
        _run(server, tmp_path)
    message = str(info.value)
    assert server.url in message and "rerun" in message and "resume" in message
    part = tmp_path / "speech_commands_v0.02.tar.gz.part"
    assert part.stat().st_size == cut
    assert not (tmp_path / "speech_commands_v0.02").exists()

    root = _run(server, tmp_path)
    assert server.state.requests[1] == (ARCHIVE_PATH, f"bytes={cut}-")
    assert (root / "testing_list.txt").is_file()
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(server: LocalServer, tmp_path: Path) -> None:
    # Wrong bytes in the .part prove that the 200 body replaced it rather than being appended.
    (tmp_path / "speech_commands_v0.02.tar.gz.part").write_bytes(b"x" * 5_000)
    server.state.ignore_range = True
    root = _run(server, tmp_path, keep_archive=True)
    assert server.state.requests == [(ARCHIVE_PATH, "bytes=5000-")]
    assert (tmp_path / "speech_commands_v0.02.tar.gz").read_bytes() == server.state.payload
    assert root.is_dir()


def test_complete_part_gets_416_and_is_used(server: LocalServer, tmp_path: Path) -> None:
    size = len(server.state.payload)
    (tmp_path / "speech_commands_v0.02.tar.gz.part").write_bytes(server.state.payload)
    assert _run(server, tmp_path).is_dir()
    assert server.state.requests == [(ARCHIVE_PATH, f"bytes={size}-")]


def test_sha256_mismatch_is_clear_and_leaves_nothing(server: LocalServer, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        _run(server, tmp_path, sha256=wrong)
    message = str(info.value)
    assert "speech_commands_v0.02.tar.gz" in message
    assert wrong in message and _sha(server.state.payload) in message
    assert "deleted" in message and "rerun" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []  # no dataset, no archive, no .part, no temp folder


def test_mirror_url_without_sha256_is_checked_against_the_known_digest(server: LocalServer,
                                                                       tmp_path: Path) -> None:
    # The local archive is not the official one: its size gives it away before any byte is saved.
    with pytest.raises(DownloadError) as info:
        download_speech_commands("v0.02", tmp_path, url=server.url, progress=False)
    assert "2428923189" in str(info.value) and "--sha256" in str(info.value)
    assert not (tmp_path / "speech_commands_v0.02").exists()


@pytest.mark.parametrize("damage", ["truncated", "bitflip", "not-gzip"])
def test_corrupt_archive_with_matching_digest_leaves_no_dataset(server: LocalServer, tmp_path: Path,
                                                                archive: bytes, damage: str) -> None:
    if damage == "truncated":
        payload = archive[: len(archive) // 2]
    elif damage == "bitflip":
        # Inside the compressed WAV data: only the gzip CRC (checked by draining the stream) notices.
        middle = len(archive) // 2
        payload = archive[:middle] + bytes([archive[middle] ^ 0x01]) + archive[middle + 1:]
    else:
        payload = b"this is not a tarball\n" * 100
    server.state.payload = payload
    with pytest.raises(DownloadError) as info:
        _run(server, tmp_path, sha256=_sha(payload))
    assert "corrupt or truncated" in str(info.value)
    assert "speech_commands_v0.02.tar.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # archive deleted, no dataset, no temp folder


def test_wrong_layout_is_refused(server: LocalServer, tmp_path: Path, layout: dict[str, bytes]) -> None:
    files = {k: v for k, v in layout.items() if not k.startswith("_background_noise_")}
    server.state.payload = _tar_gz(files)
    with pytest.raises(DownloadError, match="_background_noise_"):
        _run(server, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_single_wrapping_folder_is_hoisted(server: LocalServer, tmp_path: Path, layout: dict[str, bytes]) -> None:
    server.state.payload = _tar_gz(layout, prefix="speech_commands_v0.02/")
    root = _run(server, tmp_path)
    assert (root / "testing_list.txt").is_file() and (root / "yes").is_dir()


def test_http_404_names_the_url(server: LocalServer, tmp_path: Path) -> None:
    url = server.base + "/nowhere.tar.gz"
    with pytest.raises(DownloadError) as info:
        _run(server, tmp_path, url=url)
    assert url in str(info.value) and "404" in str(info.value)
    assert not (tmp_path / "speech_commands_v0.02").exists()


def test_connection_refused_names_the_url(tmp_path: Path) -> None:
    with LocalServer() as closed:  # bind a port, then free it: nothing listens there any more
        url = closed.url
    with pytest.raises(DownloadError) as info:
        download_speech_commands("v0.02", tmp_path, url=url, sha256="a" * 64, progress=False)
    assert url in str(info.value)


def test_stalled_server_times_out_and_keeps_part(server: LocalServer, tmp_path: Path) -> None:
    server.state.stall_s = 1.5
    with pytest.raises(DownloadError) as info:
        _run(server, tmp_path, timeout=0.3)
    assert "interrupted" in str(info.value) and "resume" in str(info.value)
    assert (tmp_path / "speech_commands_v0.02.tar.gz.part").stat().st_size == 100


def test_present_dataset_returns_without_contacting_server(server: LocalServer, tmp_path: Path,
                                                           archive: bytes) -> None:
    root = tmp_path / "speech_commands_v0.02"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(root, filter="data")
    assert _run(server, tmp_path) == root
    assert server.state.requests == []


def test_incomplete_existing_folder_is_reported_not_deleted(server: LocalServer, tmp_path: Path) -> None:
    root = tmp_path / "speech_commands_v0.02"
    (root / "yes").mkdir(parents=True)
    with pytest.raises(DownloadError, match="move it aside or delete it"):
        _run(server, tmp_path)
    assert (root / "yes").is_dir()
    assert server.state.requests == []


def test_unknown_digest_requires_explicit_sha256(server: LocalServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dl.ARCHIVES, "v0.02", ArchiveSpec(url=server.url, size=None, sha256=None))
    digest = _sha(server.state.payload)
    with pytest.raises(DownloadError) as info:
        download_speech_commands("v0.02", tmp_path, progress=False)
    assert digest in str(info.value) and "--sha256" in str(info.value)
    assert not (tmp_path / "speech_commands_v0.02").exists()
    assert (tmp_path / "speech_commands_v0.02.tar.gz").is_file()  # kept for the confirmed rerun

    root = download_speech_commands("v0.02", tmp_path, sha256=digest.upper(), progress=False)
    assert root.is_dir()
    assert len(server.state.requests) == 1  # the rerun used the kept archive
    assert not (tmp_path / "speech_commands_v0.02.tar.gz").exists()


def test_bad_sha256_argument_is_refused_before_download(server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="64 hexadecimal"):
        _run(server, tmp_path, sha256="abc")
    assert server.state.requests == []


def test_known_table_has_official_entries() -> None:
    for version, spec in dl.ARCHIVES.items():
        assert spec.url == f"http://download.tensorflow.org/data/speech_commands_{version}.tar.gz"
        assert spec.sha256 is not None and re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.size is not None and spec.size > 10**9


def test_cli_download_ok_and_bad_digest(server: LocalServer, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    good = _sha(server.state.payload)
    argv = ["data", "download", "--url", server.url, "--dest", str(tmp_path / "a"), "--quiet"]
    assert main(argv + ["--sha256", good]) == 0
    out = capsys.readouterr().out
    assert "is ready in" in out and str(tmp_path / "a" / "speech_commands_v0.02") in out

    bad = "f" * 64
    argv = ["data", "download", "--url", server.url, "--dest", str(tmp_path / "b"), "--quiet"]
    assert main(argv + ["--sha256", bad]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("kws: error:")
    assert bad in err_lines[0] and good in err_lines[0]
    assert not (tmp_path / "b" / "speech_commands_v0.02").exists()


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `kws` expecting a user error; return its one stderr line."""
    assert main(argv) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("kws: error:"), err_lines
    return err_lines[0]


def test_cli_dest_that_is_a_file_is_a_clear_error(server: LocalServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "data"
    dest.write_text("not a folder\n")
    line = _cli_error(["data", "download", "--url", server.url, "--sha256", _sha(server.state.payload),
                       "--dest", str(dest), "--quiet"], capsys)
    assert str(dest) in line and "not a folder" in line and "--dest" in line
    assert server.state.requests == []
    assert dest.read_text() == "not a folder\n"


def test_dest_below_a_file_is_a_clear_error(server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("x")
    with pytest.raises(DownloadError, match=r"--dest .*data.* is not a folder"):
        _run(server, tmp_path / "data" / "sub")
    assert server.state.requests == []


@pytest.mark.parametrize("url", ["not-a-url", "ftp:/x", "http://", "mailto:me@example.com"])
def test_cli_url_that_is_not_a_url_is_a_clear_error(url: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(["data", "download", "--url", url, "--sha256", "a" * 64, "--dest", str(tmp_path),
                       "--quiet"], capsys)
    assert f"--url {url!r}" in line and "http://" in line
    assert list(tmp_path.iterdir()) == []


# (An absolute member name is not in the list: the 'data' filter strips its leading "/" and unpacks it inside.)
@pytest.mark.parametrize("member", ["../../evil.txt", "link-out", "dev-null"])
def test_unsafe_member_is_refused_by_name_without_retry_advice(server: LocalServer, tmp_path: Path,
                                                               layout: dict[str, bytes], member: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in layout.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(member)
        if member == "link-out":
            info.type, info.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        elif member == "dev-null":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        else:
            info.size = 6
        tar.addfile(info, io.BytesIO(b"owned\n") if info.isreg() else None)
    server.state.payload = buffer.getvalue()
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as raised:
        _run(server, dest)
    message = str(raised.value)
    assert "unsafe" in message and "refused" in message and repr(member) in message
    assert "corrupt" not in message and "rerun" not in message and "again" not in message
    assert not (tmp_path / "evil.txt").exists()
    assert list(dest.iterdir()) == []  # nothing unpacked, the hostile archive deleted, no temp folder


def test_dataset_folders_and_files_get_normal_modes(server: LocalServer, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        root = _run(server, tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o755  # was 0o700: mkdtemp's private mode leaked through
    assert stat.S_IMODE((root / "yes").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "testing_list.txt").stat().st_mode) & 0o044 == 0o044
