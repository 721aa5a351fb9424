"""One writer per file: an ``flock`` on the database file itself."""

from __future__ import annotations

import fcntl
import functools
import os
import socket
import threading
from pathlib import Path

from cutover_tui.store.errors import NotASessionLog, SessionLocked, _os_error


class _WriterLock:
    """An ``flock`` on the database file itself: one writer per file, whatever path names it.

    A symlink, a hard link or another spelling of the path reaches the same
    file, and so the same lock. The kernel drops it when the process exits,
    even on ``kill -9``, and there is no lock file to leave behind. SQLite's
    own locks are POSIX locks, which ``flock`` does not touch.

    Closing any descriptor of a file drops the POSIX locks this process's
    SQLite connections hold on it, so the descriptor is opened before SQLite
    opens the file and closed after SQLite closed it, and a second writer in
    this process is refused before it opens one.
    """

    _held: dict[tuple[int, int], str] = {}  # (device, inode) -> the path it was locked through
    _held_guard = threading.Lock()

    def __init__(self, db_path: Path, *, create: bool = False) -> None:
        self.db_path = db_path
        if not create:
            try:
                existing = os.stat(db_path)
            except FileNotFoundError:
                raise NotASessionLog(f"{db_path}: no such session log") from None
            except OSError as error:
                raise _os_error(db_path, error, "open the session log") from None
            if (existing.st_dev, existing.st_ino) in self._held:
                raise SessionLocked(self._refusal(f"pid {os.getpid()} on host {socket.gethostname()}"))
        flags = os.O_RDWR | os.O_CLOEXEC | ((os.O_CREAT | os.O_EXCL) if create else 0)
        try:
            # O_EXCL: never adopt a file someone else made; 0600 before SQLite
            # touches it, and SQLite gives -wal and -shm the same mode.
            fd = os.open(db_path, flags, 0o600)
        except FileExistsError:
            raise
        except OSError as error:
            raise _os_error(
                db_path, error, "create the session log" if create else "open the session log for writing"
            ) from None
        identity = os.fstat(fd)
        self._key = (identity.st_dev, identity.st_ino)
        with self._held_guard:
            if self._key in self._held:
                os.close(fd)
                raise SessionLocked(self._refusal(f"pid {os.getpid()} on host {socket.gethostname()}"))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SessionLocked(self._refusal(_flock_holder(identity))) from None
            self._held[self._key] = str(db_path)
        self._fd: int | None = fd

    def _refusal(self, holder: str) -> str:
        return (f"{self.db_path} is being written by {holder}; "
                f"use `cutover-tui follow {self.db_path}` to watch it read-only")  # fmt: skip

    def displaced(self) -> str | None:
        """Why the locked file is no longer the one the path names (``"removed"``, ``"replaced"``), or None while it is.

        None too when the path cannot be read (a folder made unreadable): the write itself then says what fails.
        """
        try:
            named = os.stat(self.db_path)
        except FileNotFoundError:
            return "removed"
        except OSError:
            return None
        return None if (named.st_dev, named.st_ino) == self._key else "replaced"

    def visible(self) -> bool:
        """Whether ``/proc/locks`` shows this lock as this process's: a reader in this boot and PID namespace then sees
        it while the writer runs (not on NFS, where ``flock`` is a lock on the server)."""
        return self._fd is not None and _flock_pid(os.fstat(self._fd)) == os.getpid()

    def release(self) -> None:
        """Drop the lock (after SQLite closed the file: see the class notes)."""
        if self._fd is not None:
            with self._held_guard:
                self._held.pop(self._key, None)
                os.close(self._fd)
                self._fd = None


def _flock_holder(identity: os.stat_result) -> str:
    """``pid N on host H`` for the process holding an ``flock`` on this file (Linux ``/proc/locks``)."""
    pid = _flock_pid(identity)
    return f"pid {pid} on host {socket.gethostname()}" if pid is not None else "another process"


@functools.cache
def lock_scope() -> str | None:
    """Where a lock in ``/proc/locks`` can be seen: this boot and PID namespace (``BOOT_ID pid:[INODE]``), or None
    where either cannot be read.

    A writer stores its scope when its lock is visible (``_WriterLock.visible``); a reader in the same scope that
    sees no process holding the log's lock knows that writer is gone, whatever its heartbeat's age. In another PID
    namespace (a container sharing the host's name) the lock is hidden, and the scope differs.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            return f"{boot.read().strip()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def writer_pid(db_path: str | os.PathLike[str]) -> int | None:
    """The pid of the process writing ``db_path`` on this machine (it holds the file's ``flock``), or None.

    Read from ``/proc/locks``: nothing is locked to find out, so a writer
    starting meanwhile is never refused. None where there is no such file or
    the writer is on another host.
    """
    try:
        return _flock_pid(os.stat(db_path))
    except OSError:
        return None


#: Below this much free space for the log's owner, its file system is taken as full: SQLite cannot grow the log.
FULL_BELOW_BYTES = 64 * 1024


def disk_full(db_path: str | os.PathLike[str]) -> bool:
    """Whether the file system holding ``db_path`` has (almost) no space left for the file's owner.

    A writer there may still reuse its write-ahead log's pages, but it cannot
    grow the log: a follower takes a heartbeat that stops moving then as the
    writer not writing sooner. The root-reserved blocks count for a log root owns.
    """
    try:
        owner = os.stat(db_path).st_uid
        space = os.statvfs(os.path.dirname(os.path.abspath(db_path)))
    except OSError:
        return False
    free = space.f_bfree if owner == 0 else space.f_bavail
    return free * space.f_frsize < FULL_BELOW_BYTES


def _flock_pid(identity: os.stat_result) -> int | None:
    device = f"{os.major(identity.st_dev):02x}:{os.minor(identity.st_dev):02x}:{identity.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:
                fields = line.split()
                if (
                    len(fields) > 5
                    and fields[1] == "FLOCK"
                    and fields[5] == device
                    and fields[4].isdigit()
                    and int(fields[4]) > 0
                ):
                    return int(fields[4])
    except OSError:
        pass
    return None
