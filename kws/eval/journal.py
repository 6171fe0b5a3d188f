"""The evaluation journal: runs/<run>/eval/journal.jsonl, a header line, then one line per finished clip,
appended, flushed and fsynced, so an evaluation killed at any point resumes where it stopped.

    journal, done = Journal.open(run.journal, header, restart=False)   # done: clip index -> record
    journal.append({"i": 7, ...})
    header, done, good_bytes = read_journal(run.journal)

A journal is only resumed for the same evaluation (JOURNAL_IDENTITY fields of the header); a torn last line
(a kill mid-write) is cut off; a damaged line elsewhere or a clip recorded twice is an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kws.eval.errors import DeviceEvalError

JOURNAL_VERSION = 1
JOURNAL_IDENTITY = ("version", "model_sha256", "labels", "feed", "board", "split", "clips", "clips_sha256")
"""Header fields that must match for a journal to be resumed (the rest is informative)."""


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
            mismatched = [k for k in JOURNAL_IDENTITY if old_header.get(k) != header.get(k)]
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


__all__ = ["JOURNAL_IDENTITY", "JOURNAL_VERSION", "Journal", "read_journal"]
