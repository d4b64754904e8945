"""Shared test helpers: the nine published definition codes and a classification-table builder.

Test modules import them (``from conftest import NINE, make_table``): pytest puts this folder on
``sys.path`` (rootdir-based ``prepend`` import mode, no ``__init__.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the registry's nine published definitions, in report order
NINE = [
    "champiat2017",
    "saada_bouzid2017",
    "ferrara2018",
    "kato2017",
    "lo_russo2019",
    "kim2019",
    "matos2020",
    "gandara2018_fp",
    "kas2020",
]


def make_table(
    flags: dict[str, list],
    reasons: dict[str, list] | None = None,
    status: bool = True,
    **extra: list,
) -> pd.DataFrame:
    """Classification table: hpd_<code> (nullable bool), _status, _reason, plus extra columns."""
    n = len(next(iter(flags.values())))
    out = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)]})
    for code, values in flags.items():
        flag = pd.array(values, dtype="boolean")
        out[f"hpd_{code}"] = flag
        if status:
            out[f"hpd_{code}_status"] = np.where(
                flag.isna(), "not_evaluable", np.where(flag.fillna(False), "hpd", "not_hpd")
            )
        default = np.where(flag.isna(), "no pre-baseline scan", "criteria evaluated")
        out[f"hpd_{code}_reason"] = (reasons or {}).get(code, default)
    for k, v in extra.items():
        out[k] = v
    return out
