"""The log's errors a person can act on, and the plain words for a failed write or a database error."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from cutover_tui.store.records import VerifyResult


class SessionLogError(Exception):
    """Base class for session log errors a person can act on."""


class NotASessionLog(SessionLogError):
    """The file is missing, not SQLite, or lacks the session tables."""


class DamagedLog(SessionLogError):
    """The file is a session log SQLite cannot read whole: a damaged page, an unreadable row."""


class CannotRead(SessionLogError):
    """The session log cannot be opened for reading: permission denied."""


class CannotWrite(SessionLogError):
    """The session log cannot be created or written here: permission, read-only media, no folder, no space."""


class NewerLog(SessionLogError):
    """The log was written in an on-disk format newer than this cutover-tui reads."""


class SessionLocked(SessionLogError):
    """Another process is writing this session."""


class BrokenChain(SessionLogError):
    """Resuming was refused: the log's hash chain does not verify."""

    def __init__(self, path: str, result: VerifyResult) -> None:
        self.result = result
        where = f"seq {result.bad_seq}: " if result.bad_seq is not None else ""
        super().__init__(
            f"{path}: the hash chain does not verify ({where}{result.reason}); refusing to resume it. "
            "Keep the file as evidence; pass --accept-broken-chain to resume anyway (the acceptance is logged)"
        )


class RunbookChanged(SessionLogError):
    """The runbook differs from the one the session was started with."""

    def __init__(self, path: str, stored_sha256: str, new_sha256: str) -> None:
        self.stored_sha256 = stored_sha256
        self.new_sha256 = new_sha256
        super().__init__(
            f"{path}: the runbook changed since this session started "
            f"(stored sha256 {stored_sha256}, this runbook sha256 {new_sha256}); "
            "pass --accept-runbook-change to resume with it (the change is logged)"
        )


class LogDisplaced(sqlite3.OperationalError):
    """The writer's file is no longer at the log's path (removed, moved, replaced): a write there would reach nobody."""


def describe_write_error(error: BaseException) -> str:
    """A failed write in a few words: ``database or disk is full`` -> ``disk full``."""
    text = str(error)
    if isinstance(error, LogDisplaced):
        return text
    lowered = text.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return "disk full"
    if "readonly" in lowered or "read-only" in lowered:
        return "the file became read-only"
    if "disk i/o" in lowered:
        return "disk I/O error"
    if "locked" in lowered or "busy" in lowered:
        return "the file is locked by another program"
    return text or type(error).__name__


def _database_error(path: Path, error: sqlite3.Error, *, writing: bool = False) -> SessionLogError:
    """One line a person can act on, naming the database file, for what SQLite said."""
    text = str(error)
    if "file is not a database" in text or "not a database" in text:
        return NotASessionLog(f"{path}: not a session log ({text})")
    if "malformed" in text or "could not decode" in text.lower() or isinstance(error, sqlite3.DataError):
        return DamagedLog(
            f"{path}: the file is damaged ({_shortened(text)}); `cutover-tui verify {path}` says what of it still verifies"
        )
    if "readonly" in text or "unable to open" in text or "disk i/o" in text.lower():
        if writing and (free := _free_bytes(path)) is not None and free < NEARLY_FULL:
            # SQLite says "disk I/O error" when its shared memory (the -shm file) cannot grow.
            return CannotWrite(
                f"{path}: cannot write the session log: the disk is full ({free // 1024} KiB free; {text})"
            )
        if writing:
            return CannotWrite(f"{path}: cannot write the session log here ({text}); "
                               f"the folder or the medium is read-only (read it with cutover-tui follow/replay/report/verify)")  # fmt: skip
        return DamagedLog(f"{path}: cannot read the session log ({text})")
    if "full" in text:
        return CannotWrite(f"{path}: cannot write the session log: the disk is full ({text})")
    if "locked" in text or "busy" in text:
        return SessionLocked(f"{path}: another process holds the database busy ({text})")
    return DamagedLog(f"{path}: {text}")


#: Free space below which a write SQLite calls a disk I/O error is put down to a full disk.
NEARLY_FULL = 1 << 20


def _free_bytes(path: Path) -> int | None:
    """Bytes free to an unprivileged writer on the file system of ``path``'s folder; None when it cannot be told."""
    try:
        stat = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _shortened(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _os_error(path: Path, error: OSError, doing: str) -> SessionLogError:
    """A one-line error naming the database (never a lock or a temporary file) for a failed open/create."""
    import errno

    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EISDIR: "it is a folder",
    }
    if error.errno == errno.ENOENT:
        folder = path.parent if str(path.parent) else Path(".")
        reason = f"the folder {folder} does not exist" if not folder.is_dir() else "no such file"
    else:
        reason = reasons.get(error.errno or 0, error.strerror or str(error))
    kind = CannotRead if doing.startswith("read") else CannotWrite
    return kind(f"{path}: cannot {doing}: {reason}")
