"""Download, verify and unpack Google Speech Commands (v0.01 or v0.02), resumably and atomically.

    kws data download --version v0.02 --dest data/          # -> data/speech_commands_v0.02/
    kws data download --version v0.01 --dest data/ --keep-archive
    kws data download --url https://mirror/sc.tar.gz --sha256 <64 hex digits> --dest data/

    from kws.data.download import download_speech_commands
    root = download_speech_commands("v0.02", Path("data"))

What it guarantees:

- The archive streams into `<dest>/speech_commands_<version>.tar.gz.part`. If the connection drops,
  the `.part` file is kept and the next run asks the server for the rest (HTTP Range). A server
  that ignores Range (answers 200) makes the download restart from zero. A 416 answer means the
  file was already complete.
- The finished file is renamed to `speech_commands_<version>.tar.gz` and its SHA-256 is checked
  before anything is unpacked. A file that does not match is DELETED, so a rerun downloads it again.
- Unpacking goes into a hidden temporary folder beside the destination, with tarfile's 'data'
  filter (no absolute paths, no `..`, no links out of the tree, no device files: an archive with such
  a member is refused as unsafe and deleted, with no advice to retry). The layout is checked. Only
  then is the folder renamed to `speech_commands_<version>/`. A corrupt or truncated archive leaves
  no dataset folder and no temporary folder.
- If the dataset folder already exists and looks complete, nothing is downloaded. A `--dest` that is a
  file, or a `--url` that is not a URL, is refused before anything is fetched.
- The archive is removed after a successful unpack unless keep_archive=True (`--keep-archive`).

Unknown digest: when no SHA-256 is known (a version whose table entry is None, or, in the future,
a table without one), the archive is still downloaded and its SHA-256 computed, but it is NOT
unpacked. A DownloadError prints the computed digest and asks for a rerun with `--sha256 <digest>`
once the user has compared it with a source they trust. The archive is kept, so that rerun does not
download it again. A custom `--url` without `--sha256` is treated as a mirror of the official
archive and checked against the version's known digest.

Digests in ARCHIVES come from public sources, recorded next to each entry.
Standard library (urllib) + tqdm only.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kws.errors import DownloadError
from kws.fsutil import atomic_directory

DEFAULT_TIMEOUT_S = 60.0
"""Socket timeout per connect/read: a stalled server raises an error instead of hanging forever."""

CHUNK_BYTES = 1 << 20
BACKGROUND_NOISE = "_background_noise_"
LIST_FILES = ("testing_list.txt", "validation_list.txt")
USER_AGENT = "kws-toolchain (speech commands downloader; python urllib)"
URL_SCHEMES = ("http", "https", "ftp", "file")
"""What urllib can fetch; anything else (a bare word, mailto:) is refused before any work starts."""


@dataclass(frozen=True)
class ArchiveSpec:
    """Where one Speech Commands version lives and what its bytes must be."""

    url: str
    """Official download address."""
    size: int | None
    """Size in bytes, or None if unknown. Used to notice a wrong file early, before hashing."""
    sha256: str | None
    """Lower-case hex SHA-256 of the archive, or None if no trusted digest is known."""


ARCHIVES: dict[str, ArchiveSpec] = {
    # Digest: torchaudio's SPEECHCOMMANDS dataset (torchaudio/datasets/speechcommands.py, _CHECKSUMS,
    # checked as SHA-256 by torch.hub's download_url_to_file). Size: the "Successfully downloaded
    # speech_commands_v0.01.tar.gz (1488293908 bytes)" log line of TensorFlow's speech_commands train.py.
    "v0.01": ArchiveSpec(
        url="http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz",
        size=1_488_293_908,
        sha256="743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
    ),
    # Size and digest: TensorFlow Datasets, tensorflow_datasets/url_checksums/speech_commands.txt
    # (same digest in torchaudio's _CHECKSUMS; same size in ESPnet's egs2/speechcommands recipe).
    "v0.02": ArchiveSpec(
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        size=2_428_923_189,
        sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    ),
}


def _say(message: str) -> None:
    # Notes go to stderr so that stdout carries only the CLI's final "ready in ..." line.
    print(f"kws: {message}", file=sys.stderr, flush=True)


def _resolve_spec(version: str, url: str | None, sha256: str | None) -> ArchiveSpec:
    if version not in ARCHIVES:
        raise DownloadError(f"unknown Speech Commands version {version!r}; choose one of {', '.join(ARCHIVES)}")
    known = ARCHIVES[version]
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise DownloadError(f"--sha256 {sha256!r} is not a SHA-256 digest (64 hexadecimal digits)")
    if url is not None:
        _check_url(url)
    digest = sha256 if sha256 is not None else known.sha256
    # The known size describes the official bytes only, so trust it only when we expect those bytes.
    size = known.size if digest is not None and digest == known.sha256 else None
    return ArchiveSpec(url=url or known.url, size=size, sha256=digest)


def _check_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in URL_SCHEMES or (parts.scheme != "file" and not parts.hostname):
        raise DownloadError(
            f"--url {url!r} is not a download address; give a full URL such as "
            f"http://host/path/speech_commands_v0.02.tar.gz (schemes: {', '.join(URL_SCHEMES)}), "
            f"or leave --url out to use the official one")


def _check_dest(dest_root: Path) -> None:
    """Refuse a --dest that is, or lies below, a file, before anything is fetched."""
    for folder in (dest_root, *dest_root.parents):
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():
            where = "" if folder == dest_root else f" ({folder} is a file)"
            raise DownloadError(f"--dest {dest_root} is not a folder{where}; pass a folder to receive "
                                f"speech_commands_<version>/ (a missing one is created)")


# ------------------------------------------------------------------------------------------- layout

def _layout_report(root: Path) -> tuple[list[str], int]:
    """Problems that stop `root` from being a Speech Commands dataset, and its keyword clip count."""
    problems: list[str] = []
    for name in LIST_FILES:
        if not (root / name).is_file():
            problems.append(f"{name} is missing")
    noise = root / BACKGROUND_NOISE
    if not noise.is_dir():
        problems.append(f"{BACKGROUND_NOISE}/ is missing")
    elif not any(entry.name.endswith(".wav") for entry in os.scandir(noise)):
        problems.append(f"{BACKGROUND_NOISE}/ holds no .wav files")
    clips = 0
    words = 0
    if root.is_dir():
        for entry in os.scandir(root):
            if not entry.is_dir() or entry.name.startswith(("_", ".")):
                continue
            count = sum(1 for clip in os.scandir(entry.path) if clip.name.endswith(".wav"))
            if count:
                words += 1
                clips += count
    if words == 0:
        problems.append("no word folders with .wav clips")
    return problems, clips


def _missing_listed_clips(root: Path) -> int:
    """How many clips named in the split lists are absent (a pruned mirror, not a broken archive)."""
    missing = 0
    for name in LIST_FILES:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not (root / line).is_file():
                missing += 1
    return missing


def _hoist_single_folder(tmp: Path) -> None:
    # Mirrors sometimes wrap the dataset in one top-level folder; the official archive does not.
    entries = list(tmp.iterdir())
    if (tmp / LIST_FILES[0]).exists() or len(entries) != 1 or not entries[0].is_dir():
        return
    inner = entries[0]
    if not (inner / LIST_FILES[0]).is_file():
        return
    staging = tmp / ".kws-hoist"  # rename first: a child could share the wrapper's name
    inner.rename(staging)
    for child in staging.iterdir():
        child.rename(tmp / child.name)
    staging.rmdir()


# -------------------------------------------------------------------------------------------- fetch

def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) from 'bytes 100-199/200' or 'bytes */200'; None where absent/unknown."""
    if not value:
        return None, None
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value)
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _open(url: str, offset: int, timeout: float, part: Path) -> http.client.HTTPResponse | urllib.error.HTTPError:
    """Send the request; return the response, or the 416 HTTPError (its headers matter to the caller)."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    keep_note = f"; the partial file {part} was kept, so a rerun resumes" if offset else ""
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return exc
        exc.close()
        raise DownloadError(
            f"downloading {url} failed: HTTP {exc.code} {exc.reason}; check the URL (--url) or try again later"
            f"{keep_note}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(
            f"could not connect to {url}: {exc.reason}; check the network connection and rerun{keep_note}") from exc
    except ValueError as exc:  # urllib's "unknown url type" and the like, should a URL pass _check_url
        raise DownloadError(f"--url {url!r} cannot be fetched ({exc}); give a full http:// or https:// URL") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(
            f"could not connect to {url}: {exc or type(exc).__name__}; check the network connection and rerun"
            f"{keep_note}") from exc


def _fetch(url: str, part: Path, expected_size: int | None, *, progress: bool, timeout: float) -> None:
    """Make `part` hold the whole file at `url`, resuming from its current length when possible."""
    for _attempt in range(2):  # the second round only happens after a clean restart from zero
        offset = part.stat().st_size if part.exists() else 0
        if expected_size is not None and offset > expected_size:
            _say(f"{part} is larger than the expected {expected_size} bytes; starting over")
            part.unlink()
            offset = 0
        if expected_size is not None and offset == expected_size:
            return  # complete from an earlier run; the digest check decides whether it is right
        if offset:
            _say(f"resuming {url} from byte {offset}")

        response = _open(url, offset, timeout, part)
        if isinstance(response, urllib.error.HTTPError):  # 416: nothing left after `offset`
            _, total = _content_range(response.headers.get("Content-Range"))
            response.close()
            if total is None or total == offset:
                return
            _say(f"{part} ({offset} bytes) does not fit the server's file ({total} bytes); starting over")
            part.unlink()
            continue

        with response:
            status = response.status
            length_header = response.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            if offset and status == 206:
                start, total = _content_range(response.headers.get("Content-Range"))
                if start != offset:
                    _say(f"the server resumed {url} at byte {start}, not {offset}; starting over")
                    part.unlink()
                    continue
                mode = "ab"
            else:
                if offset:
                    # A 200 answer to a Range request is the whole file again: appending would corrupt it.
                    _say(f"the server ignored the resume request for {url}; starting over from zero")
                offset = 0
                total = length
                mode = "wb"
            if total is None and length is not None:
                total = offset + length
            if total is not None and expected_size is not None and total != expected_size:
                raise DownloadError(
                    f"{url} serves {total} bytes but the expected archive has {expected_size}; if this URL "
                    f"serves a different archive on purpose, pass its --sha256, otherwise use the official URL")
            _stream(response, part, mode, offset, total, url, progress=progress)
        return
    raise DownloadError(f"could not resume {url} into {part}; delete {part} and rerun")


def _stream(response: http.client.HTTPResponse, part: Path, mode: str, offset: int, total: int | None,
            url: str, *, progress: bool) -> None:
    have = offset
    with open(part, mode) as handle, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress, leave=False) as bar:
        while True:
            try:
                # read1 returns what has arrived: a stall then loses nothing already received.
                chunk = response.read1(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, IncompleteRead
                handle.flush()
                raise _interrupted(url, part, have, total, str(exc) or type(exc).__name__) from exc
            if not chunk:
                break
            try:
                handle.write(chunk)
            except OSError as exc:
                raise DownloadError(f"could not write {part}: {exc}; free some disk space and rerun "
                                    f"(the download resumes from the bytes already saved)") from exc
            have += len(chunk)
            bar.update(len(chunk))
    # http.client returns b"" (no exception) when a server closes early, so count the bytes ourselves.
    if total is not None and have < total:
        raise _interrupted(url, part, have, total, "the server closed the connection early")


def _interrupted(url: str, part: Path, have: int, total: int | None, reason: str) -> DownloadError:
    of_total = f" of {total}" if total is not None else ""
    return DownloadError(
        f"the download of {url} was interrupted after {have}{of_total} bytes ({reason}); the partial file {part} "
        f"was kept: rerun the same command and it resumes from there")


# ------------------------------------------------------------------------------------------- verify

def _sha256_of(path: Path, *, progress: bool) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=f"SHA-256 {path.name}",
                                          disable=not progress, leave=False) as bar:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _verify(archive: Path, spec: ArchiveSpec, *, progress: bool) -> None:
    actual = _sha256_of(archive, progress=progress)
    if spec.sha256 is None:
        # Never unpack unverified bytes: the user must confirm the digest explicitly.
        raise DownloadError(
            f"no trusted SHA-256 is known for {spec.url}; the downloaded archive {archive} has SHA-256 {actual}. "
            f"Compare it with a digest you trust, then rerun with --sha256 {actual} to unpack it "
            f"(the archive is kept, so nothing is downloaded again)")
    if actual != spec.sha256:
        size = archive.stat().st_size
        size_note = f" ({size} bytes, expected {spec.size})" if spec.size is not None and size != spec.size else ""
        archive.unlink()
        raise DownloadError(
            f"{archive} is corrupt: SHA-256 expected {spec.sha256}, got {actual}{size_note}. The file was deleted; "
            f"rerun to download it again. If it fails again, {spec.url} serves different bytes: use the official "
            f"URL, or pass --sha256 only for an archive you trust")


# ------------------------------------------------------------------------------------------ extract

def _extract(archive: Path, target: Path, *, progress: bool) -> int:
    """Unpack `archive` atomically into `target`; return the keyword clip count."""
    try:
        with atomic_directory(target) as tmp:
            with tarfile.open(archive, "r:gz") as tar:
                members = tqdm(tar, unit=" files", desc=f"unpacking {archive.name}", disable=not progress,
                               leave=False)
                # 'data' refuses absolute paths, '..', links leaving the tree and device files.
                tar.extractall(tmp, members=members, filter="data")
                # tarfile stops at the end-of-archive marker without reading the gzip trailer, so drain
                # the stream to make gzip check its CRC (catches corruption a trusted digest let through).
                assert tar.fileobj is not None
                while tar.fileobj.read(CHUNK_BYTES):
                    pass
            _hoist_single_folder(tmp)
            problems, clips = _layout_report(tmp)
            if problems:
                archive.unlink()
                raise DownloadError(
                    f"{archive} does not look like Speech Commands ({'; '.join(problems)}); nothing was unpacked "
                    f"to {target} and the archive was deleted. Check the --url/--version you asked for")
            missing = _missing_listed_clips(tmp)
            if missing:
                _say(f"warning: {missing} clips named in {' / '.join(LIST_FILES)} are absent from {archive}")
    except tarfile.FilterError as exc:
        # Not damage: the archive asks to write outside its folder. Retrying would fetch the same bytes.
        archive.unlink(missing_ok=True)
        raise DownloadError(
            f"{archive} is unsafe and was refused: {_unsafe_reason(exc)}; nothing was unpacked to {target} and "
            f"the archive was deleted. Do not use this source: get the archive from the official URL or a "
            f"mirror you trust") from exc
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # Its digest matched, yet it does not unpack: delete it so a rerun does not loop on the same bytes.
        archive.unlink(missing_ok=True)
        raise DownloadError(
            f"{archive} is corrupt or truncated ({type(exc).__name__}: {exc}); nothing was unpacked to {target} "
            f"and the archive was deleted: rerun to download it again (if that fails too, the source is broken)"
        ) from exc
    except OSError as exc:
        raise DownloadError(f"could not unpack {archive} into {target.parent}: {exc}; free some disk space "
                            f"or fix permissions and rerun") from exc
    return clips


def _unsafe_reason(exc: tarfile.FilterError) -> str:
    name = exc.tarinfo.name
    if isinstance(exc, tarfile.SpecialFileError):
        return f"its member {name!r} is a device or other special file"
    if isinstance(exc, (tarfile.LinkOutsideDestinationError, tarfile.AbsoluteLinkError)):
        return f"its member {name!r} is a link to {exc.tarinfo.linkname!r}, outside the dataset folder"
    if isinstance(exc, (tarfile.OutsideDestinationError, tarfile.AbsolutePathError)):
        return f"its member {name!r} would be written outside the dataset folder"
    return f"its member {name!r} was refused by tarfile's 'data' filter ({exc})"


# --------------------------------------------------------------------------------------------- main

def download_speech_commands(version: str, dest_root: Path, *, url: str | None = None, sha256: str | None = None,
                             progress: bool = True, keep_archive: bool = False,
                             timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """Make `dest_root/speech_commands_<version>/` hold the verified, unpacked dataset; return that path.

    version: "v0.01" or "v0.02". url: another address for the archive (a mirror; default the official
    one). sha256: the expected digest (default the known one for `version`). progress: show tqdm bars.
    keep_archive: keep the .tar.gz after unpacking. timeout: seconds a connect or read may stall.
    Raises DownloadError with what to do on every user-fixable failure.
    """
    spec = _resolve_spec(version, url, sha256)
    dest_root = Path(dest_root)
    _check_dest(dest_root)
    target = dest_root / f"speech_commands_{version}"
    if target.exists():
        problems, clips = _layout_report(target)
        if not problems:
            _say(f"{target} already holds Speech Commands {version} ({clips} clips); not downloading")
            return target
        # Our own unpacking is atomic, so an incomplete folder came from elsewhere: never delete it.
        raise DownloadError(f"{target} exists but is not a complete Speech Commands dataset "
                            f"({'; '.join(problems)}); move it aside or delete it, then rerun")

    try:
        dest_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"could not create --dest {dest_root}: {exc.strerror or exc}; pass a folder you "
                            f"can write to") from exc
    archive = dest_root / f"speech_commands_{version}.tar.gz"
    part = archive.with_name(archive.name + ".part")
    if archive.exists():
        _say(f"using the archive already downloaded at {archive}")
    else:
        _fetch(spec.url, part, spec.size, progress=progress, timeout=timeout)
        os.replace(part, archive)
    _verify(archive, spec, progress=progress)
    clips = _extract(archive, target, progress=progress)
    if not keep_archive:
        archive.unlink()
    _say(f"unpacked {clips} keyword clips into {target}")
    return target
