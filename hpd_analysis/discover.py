"""Finding a cohort's tables: the role (patients, lesions, assessments, scans) of each file of a
cohort folder, of a single table file or of the sheets of a workbook.

A folder whose role table is unreadable or misnamed (``lesions_v2.csv``, a FIFO named
``lesions.csv``) is a problem, never a cohort without measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .columns import (
    ALIASES,
    EXPECTED_FILES,
    ROLES,
    SCAN_SLD,
    SUPPORTED_SUFFIXES,
    canonical_name,
    table_stem,
    table_suffix,
)
from .validate import Collector


def discover_tables(path: Path, col: Collector) -> dict[str, tuple[Path, str | None]]:
    """Role -> (file, sheet role) for a cohort folder, a single file or a role-sheet workbook."""
    label = str(path)
    if not path.exists():
        col.add(label, None, None, message="no such file or folder", expected=EXPECTED_FILES)
        return {}
    if path.is_file():
        stem = table_stem(path)
        if stem == "patients" and table_suffix(path) in SUPPORTED_SUFFIXES:
            # patients.csv given instead of its folder: the tables beside it are read too
            beside = _scan_folder(path.parent, col, quiet_patients=True)
            beside.pop("patients", None)
            if beside:
                col.note(
                    label,
                    None,
                    "read_folder_tables",
                    n_rows=0,
                    detail=f"{path.name} was given: "
                    + ", ".join(p.name for p, _ in beside.values())
                    + " beside it read too (give the folder, or the patients file in a "
                    "folder of its own, to be explicit)",
                )
            return {"patients": (path, "patients"), **beside}
        if stem in ROLES:
            return {stem: (path, stem)}
        if table_suffix(path) == ".xlsx":
            try:
                with pd.ExcelFile(path, engine="openpyxl") as xl:
                    sheets = {canonical_name(s) for s in xl.sheet_names}
            except Exception:  # noqa: BLE001 - reported by the reader below
                sheets = set()
            found: dict[str, tuple[Path, str | None]] = {
                r: (path, r) for r in ROLES if r in sheets or r.rstrip("s") in sheets
            }
            if found:
                return found
        # a lone file: the wide scans table if it has its columns, else a patients table
        try:
            head = _peek_columns(path)
        except Exception:  # noqa: BLE001 - the reader reports the real problem
            head = set()
        wide = {k for k, v in ALIASES["scans"].items() if v in SCAN_SLD}
        return {"scans" if head & wide else "patients": (path, None)}
    if not path.is_dir():
        col.add(
            label,
            None,
            None,
            message=f"is {_kind(path)}, not a table file or a cohort folder",
            expected=EXPECTED_FILES,
        )
        return {}
    return _scan_folder(path, col)


def _kind(p: Path) -> str:
    """What a path that is not a regular file is, in words."""
    import stat

    if p.is_symlink() and not p.exists():
        return "a broken symbolic link"
    try:
        mode = p.stat().st_mode
    except OSError:
        return "unreadable"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


#: a file name that looks like a role's table under another name: ``lesions (1).csv``,
#: ``lesions_v2.csv``, ``Lesion.txt``, ``lesions-old.xlsx`` (canonical stem = role or its
#: singular, then anything after ``_``)
def _near_role(name: str) -> str | None:
    stem = canonical_name(name.split(".", 1)[0] if not name.startswith(".") else name)
    for role in ROLES:
        single = role.rstrip("s")
        if stem in (role, single) or stem.startswith((role + "_", single + "_")):
            return role
    return None


@dataclass
class _FolderEntries:
    """The role-named entries of a cohort folder: readable tables, role-named entries that are
    not readable tables (name, why), and tables under another name (``lesions_v2.csv``)."""

    found: dict[str, list[Path]] = field(default_factory=dict)
    unreadable: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    misnamed: dict[str, list[str]] = field(default_factory=dict)


def _scan_folder(
    path: Path, col: Collector, quiet_patients: bool = False
) -> dict[str, tuple[Path, str | None]]:
    """Role -> (file, role) for a cohort folder. A role file that is not a readable table (a
    folder, FIFO or broken link named ``lesions.csv``, an unsupported type) is a problem, and
    so is a table under another name (``lesions_v2.csv``) when the role's own file is absent."""
    label = str(path)
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        col.add(
            label,
            None,
            None,
            message=f"cannot be listed ({type(exc).__name__})",
            expected="a readable cohort folder",
        )
        return {}
    seen = _sort_entries(entries, quiet_patients)
    out: dict[str, tuple[Path, str | None]] = {}
    for role, files in seen.found.items():
        if len(files) > 1:
            col.add(
                label,
                None,
                None,
                message=f"several {role} tables: {', '.join(f.name for f in files)}",
                expected=f"one {role}.* file",
            )
        else:
            out[role] = (files[0], role)
    _report_unread(path, seen, out, col=col)
    if quiet_patients:
        return out
    measured = {"lesions", "assessments", "scans"} & set(seen.found)
    if not seen.found and not seen.unreadable and not seen.misnamed:
        col.add(
            label,
            None,
            None,
            message="no cohort tables found in this folder",
            expected=EXPECTED_FILES,
        )
    elif "patients" in out and not measured and not col.problems:
        col.note(
            label,
            None,
            "no_measurements",
            n_rows=0,
            detail="only a patients table: no tumour measurements, no patient can be classified "
            "(survival and risk-factor analyses only); expected lesions.* or "
            "assessments.* beside it to classify",
        )
    return out


def _sort_entries(entries: list[Path], quiet_patients: bool) -> _FolderEntries:
    """The role-named entries of a folder, by what they are (hidden and lock files skipped;
    with ``quiet_patients``, the patients entries too)."""
    seen = _FolderEntries()
    for p in entries:
        if p.name.startswith((".", "~$")):
            continue
        role = _near_role(p.name)
        if role is None or (quiet_patients and role == "patients"):
            continue
        if table_stem(p) != role:
            seen.misnamed.setdefault(role, []).append(p.name)
        elif table_suffix(p) in SUPPORTED_SUFFIXES and p.is_file():
            seen.found.setdefault(role, []).append(p)
        elif p.is_file():
            seen.unreadable.setdefault(role, []).append(
                (p.name, f"has the unsupported file type {table_suffix(p) or '(no extension)'!r}")
            )
        else:
            seen.unreadable.setdefault(role, []).append((p.name, "is " + _kind(p)))
    return seen


def _report_unread(
    path: Path, seen: _FolderEntries, out: dict[str, tuple[Path, str | None]], *, col: Collector
) -> None:
    """Unreadable or misnamed role entries: a problem when the role's table is needed (absent
    and nothing replaces it), else a load-report note that they were not read."""
    label = str(path)
    measured = {"lesions", "assessments", "scans"} & set(seen.found)
    for role in ROLES:
        bad, other = seen.unreadable.get(role, []), seen.misnamed.get(role, [])
        if not bad and not other:
            continue
        # needed: the role's own table is absent and nothing replaces it
        needed = role not in seen.found and (
            role == "patients" and "scans" not in seen.found or role != "patients" and not measured
        )
        if not needed:
            names = [n for n, _ in bad] + other
            col.note(
                label,
                None,
                "ignored_files",
                n_rows=len(names),
                detail=f"{', '.join(names)} not read (the cohort's tables are "
                f"{', '.join(p.name for p, _ in out.values())})",
            )
            continue
        for name, why in bad:
            col.add(
                str(path / name),
                None,
                None,
                message=f"{why}: the {role} table cannot be read",
                expected=f"{role}.csv (or "
                + ", ".join(SUPPORTED_SUFFIXES[1:])
                + ") as a table file: export it as CSV UTF-8 or .xlsx",
            )
        if other:
            col.add(
                label,
                None,
                None,
                message=f"found {', '.join(other)} but no {role} table",
                expected=f"{role}.csv (or .parquet/.xlsx): rename it to {role}.csv, or pass the "
                f"file (load_cohort({role}=...))",
            )


def _peek_columns(path: Path) -> set[str]:
    suffix = table_suffix(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    elif suffix == ".xlsx":
        names = list(pd.read_excel(path, nrows=0, engine="openpyxl").columns)
    else:
        names = list(pd.read_csv(path, nrows=0, sep=None, engine="python").columns)
    return {canonical_name(n) for n in names}
