"""The cohort's column contract: table roles, canonical column names, their aliases, and the
renaming and required-column checks of a raw table (``/work/shared/spec/cohort-format.md``).

Columns are matched case-insensitively (spaces, dots and hyphens read as ``_``, see
:func:`canonical_name`) and documented aliases are renamed (SDTM-like ``USUBJID``, ``RFXSTDTC``,
``DTHDTC`` ...; Ferté's ``RECIST_BEFORE`` ...) by :func:`rename_columns`, which records every
rename in the load report.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .validate import Collector

#: table roles of a cohort, in load order
ROLES = ("patients", "lesions", "assessments", "scans")
#: file name endings the loader reads
SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".xlsx")

PATIENT_DATES = [
    "treatment_start",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
]
PATIENT_ECOG = ["ecog_baseline", "ecog_first_eval"]
PATIENT_TIMES = [
    ("os_months", "os_event"),
    ("pfs_months", "pfs_event"),
    ("ttf_months", "ttf_event"),
]
PATIENT_COLUMNS = [
    "patient_id",
    "treatment_start",
    "tumor_type",
    "treatment",
    "treatment_end",
    "progression_date",
    "death_date",
    "last_contact",
    *PATIENT_ECOG,
] + [c for pair in PATIENT_TIMES for c in pair]
LESION_COLUMNS = [
    "patient_id",
    "assessment_date",
    "lesion_id",
    "lesion_type",
    "organ",
    "diameter_mm",
    "status",
    "is_lymph_node",
    "not_evaluable",
]
ASSESSMENT_COLUMNS = [
    "patient_id",
    "assessment_date",
    "sld_mm",
    "new_lesions",
    "new_organs",
    "non_target_pd",
    "not_evaluable",
]
#: the columns of a lesions file as the loader reads them (``lymph_node`` given, ``is_lymph_node``
#: derived); what a converter writes (e.g. :mod:`hpd_analysis.sdtm`)
LESION_FILE_COLUMNS = [*LESION_COLUMNS[:-2], "lymph_node", "not_evaluable"]
SCAN_SLD = ["sld_prebaseline_mm", "sld_baseline_mm", "sld_first_eval_mm"]
SCAN_DATES = ["date_prebaseline", "date_baseline", "date_first_eval"]
SCAN_COLUMNS = [
    "patient_id",
    *SCAN_SLD,
    *SCAN_DATES,
    "new_lesions_first_eval",
    "non_target_pd_first_eval",
    "treatment_start",
]

LESION_TYPES = ["target", "non_target", "new"]
LESION_STATUSES = ["present", "absent", "unequivocal_progression"]
#: spellings of a lesion type (lower case, ``_`` for spaces and hyphens) -> canonical type
LESION_TYPE_MAP = {
    "target": "target",
    "t": "target",
    "non_target": "non_target",
    "nontarget": "non_target",
    "nt": "non_target",
    "new": "new",
}
#: spellings of a non-target status -> canonical status (``__ne__``: not evaluable)
STATUS_MAP = {
    "present": "present",
    "absent": "absent",
    "unequivocal_progression": "unequivocal_progression",
    "unequivocal": "unequivocal_progression",
    "up": "unequivocal_progression",
    "ne": "__ne__",
    "not_evaluable": "__ne__",
    "not_evaluated": "__ne__",
}
#: RECIST text codes accepted in diameters and sums (upper case, single spaces); the value of
#: "too small to measure" comes from ``Parameters.too_small_to_measure_mm``
TOO_SMALL_CODES = ("TOO SMALL TO MEASURE", "TOO SMALL", "TSTM")
NOT_EVALUABLE_CODES = ("NOT EVALUABLE", "NE", "NOT EVALUATED", "NOT ASSESSED", "UNABLE TO ASSESS")
#: an organ name that names a lymph node
LYMPH_RE = r"lymph|\bnodes?\b|\bnodal\b|\bln\b"

_ID = [
    "usubjid",
    "subjid",
    "subject_id",
    "subject",
    "patient",
    "patientid",
    "patient_no",
    "pid",
    "id",
]
_START = [
    "rfxstdtc",
    "trtsdt",
    "trtsdtc",
    "rfstdtc",
    "treatment_start_date",
    "start_date",
    "first_dose_date",
    "c1d1",
]
#: lower-case alias -> canonical name, per role (canonical names map to themselves)
ALIASES: dict[str, dict[str, str]] = {
    "patients": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(_START, "treatment_start"),
        **dict.fromkeys(
            ["rfxendtc", "trtedt", "trtedtc", "treatment_end_date", "end_date"], "treatment_end"
        ),
        **dict.fromkeys(["dthdtc", "dthdt", "date_of_death"], "death_date"),
        **dict.fromkeys(
            [
                "lstalvdt",
                "last_alive_date",
                "last_known_alive",
                "last_contact_date",
                "date_last_contact",
            ],
            "last_contact",
        ),
        **dict.fromkeys(["pd_date", "date_progression", "progression_dt"], "progression_date"),
        **dict.fromkeys(["ecog", "ecog_bl", "ecog_ps"], "ecog_baseline"),
        **dict.fromkeys(["tumour_type", "cancer_type", "histology"], "tumor_type"),
        **dict.fromkeys(["drug", "treatment_name"], "treatment"),
    },
    "lesions": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(
            ["trdtc", "trdt", "adt", "scan_date", "date", "assessment", "visit_date"],
            "assessment_date",
        ),
        **dict.fromkeys(
            ["trlnkid", "tulnkid", "lesion", "lesion_no", "lesion_number"], "lesion_id"
        ),
        **dict.fromkeys(["type", "role", "trgrpid", "lesion_category", "category"], "lesion_type"),
        **dict.fromkeys(["site", "location", "tuloc", "trloc", "organ_site"], "organ"),
        **dict.fromkeys(
            ["diameter", "longest_diameter_mm", "ld_mm", "diameter_mm_"], "diameter_mm"
        ),
        **dict.fromkeys(["longest_diameter_cm", "ld_cm"], "diameter_cm"),
        **dict.fromkeys(["non_target_status", "nt_status", "lesion_status"], "status"),
        **dict.fromkeys(["is_lymph_node", "node", "lymph"], "lymph_node"),
    },
    "assessments": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(["trdtc", "adt", "scan_date", "date", "visit_date"], "assessment_date"),
        **dict.fromkeys(["sld", "sum_diameters_mm", "sod_mm", "target_sum_mm"], "sld_mm"),
        **dict.fromkeys(["n_new_lesions", "new_lesion_count"], "new_lesions"),
        **dict.fromkeys(["n_new_organs"], "new_organs"),
        **dict.fromkeys(["nt_pd", "non_target_progression"], "non_target_pd"),
    },
    "scans": {
        **dict.fromkeys(_ID, "patient_id"),
        **dict.fromkeys(_START, "treatment_start"),
        "recist_before": "sld_prebaseline_mm",
        "recist_baseline": "sld_baseline_mm",
        "recist_eval1": "sld_first_eval_mm",
        "scandate_before": "date_prebaseline",
        "scandate_baseline": "date_baseline",
        "scandate_eval1": "date_first_eval",
    },
}
_CANONICAL = {
    "patients": PATIENT_COLUMNS,
    "lesions": [
        *LESION_COLUMNS[:-2],
        "diameter_cm",
        "lymph_node",
        "is_lymph_node",
        "not_evaluable",
    ],
    "assessments": ASSESSMENT_COLUMNS,
    "scans": SCAN_COLUMNS,
}
for _role, _cols in _CANONICAL.items():
    ALIASES[_role].update({c: c for c in _cols})
ALIASES["lesions"]["is_lymph_node"] = "lymph_node"
#: every name (any role) read as text from CSV so that ids and dates are never mangled
TEXT_COLUMNS = {k for m in ALIASES.values() for k in m}
#: names (any role) of identifier columns: read with no missing-value spellings (``NA`` is an id)
ID_COLUMNS = {k for m in ALIASES.values() for k, v in m.items() if v in ("patient_id", "lesion_id")}
#: spellings of covariates that map to the names the risk-factor analysis knows (like ``ECOG``
#: -> ``ecog_baseline``); read with pandas' usual types, not as text
COVARIATE_ALIASES: dict[str, str] = {
    "age": "age",
    "age_years": "age",
    "age_at_start": "age",
    "sex": "sex",
    "gender": "sex",
    "ldh": "ldh",
    "ldh_u_l": "ldh",
    "ldh_ul": "ldh",
    "ldh_iu_l": "ldh",
}
#: columns each role's table must have (after renaming)
REQUIRED_COLUMNS = {
    "patients": ["patient_id", "treatment_start"],
    "lesions": ["patient_id", "assessment_date", "lesion_id", "lesion_type"],
    "assessments": ["patient_id", "assessment_date", "sld_mm"],
    "scans": ["patient_id", *SCAN_SLD, *SCAN_DATES],
}
#: what a cohort folder is expected to hold (the "expected" text of problems)
EXPECTED_FILES = (
    "patients.csv (or .csv.gz/.tsv/.parquet/.xlsx) with lesions.* or assessments.*, "
    "or scans.* (three-scan wide format)"
)


def canonical_name(name: object) -> str:
    """Normalise a column name for matching: lower case, runs of non-alphanumerics -> ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def table_suffix(path: Path) -> str:
    """File type of a table file, lower case (``.csv``, ``.csv.gz``, ``.tsv.gz``, ``.xlsx``...)."""
    name = path.name.lower()
    for suf in (".csv.gz", ".tsv.gz"):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def table_stem(path: Path) -> str:
    """File name of a table without its :func:`table_suffix`, lower case (its role name)."""
    return path.name[: len(path.name) - len(table_suffix(path))].lower()


# --------------------------------------------------------------------------------------------
# renaming and required columns


def rename_columns(df: pd.DataFrame, role: str, col: Collector, *, label: str) -> pd.DataFrame:
    """``df`` with its columns renamed to the canonical names of ``role`` (aliases, case and
    punctuation; for patients also :data:`COVARIATE_ALIASES`), the renames noted. Two columns
    giving one canonical name are a problem (the second is dropped)."""
    aliases = {**COVARIATE_ALIASES, **ALIASES[role]} if role == "patients" else ALIASES[role]
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    dropped: list[str] = []
    for c in df.columns:
        canon = aliases.get(canonical_name(c))
        if canon is None:
            continue
        if canon in taken:
            col.add(
                label,
                1,
                canon,
                message=f"both {taken[canon]!r} and {str(c)!r} give {canon}",
                expected="only one of these columns",
            )
            dropped.append(c)  # checked no further: the problem above stops the load
            continue
        taken[canon] = str(c)
        if c != canon:
            mapping[c] = canon
    if mapping:
        col.note(
            label,
            None,
            "renamed",
            n_rows=len(df),
            detail=", ".join(f"{k}->{v}" for k, v in mapping.items()),
        )
    if dropped:
        df = df.drop(columns=dropped)
    if mapping:
        df.columns = [mapping.get(c, c) for c in df.columns]
    return df


def require_columns(
    df: pd.DataFrame, role: str, col: Collector, *, label: str, required: list[str]
) -> bool:
    """True when ``df`` has data rows and every ``required`` column; else the problems are
    recorded (a table with no cohort column at all is named as such, its content not echoed)."""
    if len(df) == 0:
        col.add(
            label,
            None,
            None,
            message="table has no data rows",
            expected=f"at least one {role[:-1] if role.endswith('s') else role} row",
        )
        return False
    missing = [c for c in required if c not in df.columns]
    known = {*ALIASES[role].values(), *COVARIATE_ALIASES.values()}
    if missing and not any(str(c) in known for c in df.columns):
        # nothing of it is a cohort column: probably not a cohort table (e.g. a system file
        # given by mistake), so none of its content is echoed
        col.add(
            label,
            1,
            None,
            message=f"no column of this file is a {role} column (it is probably not a cohort table)",
            expected="a header with " + ", ".join(required) + " (or their aliases)",
        )
        return False
    found = ", ".join(map(str, df.columns[:12])) + (" …" if len(df.columns) > 12 else "")
    for c in missing:
        col.add(
            label,
            1,
            c,
            message=f"required column {c} is missing (found: {found})",
            expected=f"a column named {c} or one of its aliases",
        )
    return not missing
