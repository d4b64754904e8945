"""The report folder: never half-written, never shared by two runs, never emptied of files the
workbench did not write.

- :func:`check_out` refuses an ``--out`` that is an existing file, lies under a file, or is (or
  lies inside) the cohort folder.
- :class:`OutLock` locks ``--out`` for one run (a lock file beside it, ``flock``): a second run
  into the same folder stops at once with one line.
- :func:`staging_dir` is where a run builds its report: a hidden folder beside ``--out`` (same
  file system, so that publishing moves files instead of copying them).
- :func:`publish` moves a finished build into place: every file the build wrote replaces its
  namesake, files the previous report listed in its :data:`MANIFEST` but this one did not write
  are removed, and every other file is left alone (the manifest is how the workbench knows what
  it wrote). ``index.html`` goes last, after removing the old one first, and signals are held
  meanwhile: an interrupted run leaves the previous report as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import HPDError

#: the list of files the workbench wrote into a report folder (relative paths and SHA-256)
MANIFEST = "manifest.json"
#: the page that says a report is there (written last, removed first)
INDEX = "index.html"


def check_out(out: Path, cohort: Path) -> None:
    """Raise :class:`HPDError` (one line) when ``out`` cannot hold a report: an existing file,
    a path under a file, or the cohort folder itself or a folder inside it (the report would
    become part of the input)."""
    if out.is_file():
        raise HPDError(f"--out {out}: is an existing file (expected a folder for the report)")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise HPDError(f"--out {out}: {parent} is a file, not a folder")
    root = cohort if cohort.is_dir() else cohort.parent
    if cohort.is_dir() and (out == root or root in out.parents):
        raise HPDError(
            f"--out {out}: lies inside the cohort folder {root} (the report would "
            "mix with the input files); choose a folder outside it"
        )


class OutLock:
    """Exclusive lock of a report folder for one run (``fcntl.flock`` on a hidden lock file
    beside it); a second holder gets :class:`HPDError` at once."""

    def __init__(self, out: Path) -> None:
        self.path = out.parent / f".{out.name}.hpd-lock"
        self.out = out
        self._fh: int | None = None

    def __enter__(self) -> OutLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HPDError(
                f"--out {self.out}: another hpd report is writing this folder now "
                f"(lock {self.path.name}); wait for it to finish or choose "
                "another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fh = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                os.close(self._fh)  # closing releases the lock
                self._fh = None


def staging_dir(out: Path) -> Path:
    """A new hidden folder beside ``out`` to build the report in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))


def written_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative POSIX paths, sorted), hidden ones excluded."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def write_manifest(folder: Path) -> Path:
    """Write :data:`MANIFEST` listing every file of the build with its SHA-256."""
    from .execute import sha256_file

    files = {name: sha256_file(folder / name) for name in written_files(folder) if name != MANIFEST}
    path = folder / MANIFEST
    path.write_text(
        json.dumps({"written_by": "hpd report", "files": files}, indent=2) + "\n", encoding="utf-8"
    )
    return path


def read_manifest(folder: Path) -> set[str]:
    """The files a previous run listed in ``folder``'s manifest (empty when there is none)."""
    path = folder / MANIFEST
    if not path.is_file():
        return set()
    try:
        return set(json.loads(path.read_text(encoding="utf-8")).get("files", {}))
    except (ValueError, AttributeError):
        return set()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM / SIGINT / SIGHUP (delivered on exit) while files are moved into place."""
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX / not main
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def publish(build: Path, target: Path) -> list[str]:
    """Move the files of ``build`` into ``target`` (see the module docstring) and remove
    ``build``; return the files of the previous report that were removed."""
    new = written_files(build)
    old = read_manifest(target)
    removed: list[str] = []
    with signals_held():
        target.mkdir(parents=True, exist_ok=True)
        for first in (INDEX, MANIFEST):  # the folder stops claiming a report first
            (target / first).unlink(missing_ok=True)
        for name in [n for n in new if n not in (INDEX, MANIFEST)] + [MANIFEST, INDEX]:
            if name not in new:
                continue
            dst = target / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if name == MANIFEST:  # before the index: stale files go first
                for stale in sorted(old - set(new)):
                    p = target / stale
                    if p.is_file():
                        p.unlink()
                        removed.append(stale)
            os.replace(build / name, dst)
        shutil.rmtree(build, ignore_errors=True)
    return removed
