"""The ``hpd`` command line: validate, classify, definitions, simulate, report, verify,
import-sdtm.

Every command exits non-zero with one line per problem on bad input or arguments; a user error
never prints a Python traceback (set ``HPD_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from .errors import CohortError, HPDError

if TYPE_CHECKING:
    from .params import Parameters

EXIT_USER_ERROR = 2

#: the object ``ArgumentParser.add_subparsers`` returns (each ``_add_<command>`` adds one to it)
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _parse_set(values: list[str] | None) -> dict[str, object]:
    """Parse ``KEY=VALUE`` overrides.

    Values are read as YAML scalars (``2`` → int, ``true`` → bool, ``[a, b]`` → list); ``none``
    and ``null`` (any case) mean "no value" (e.g. ``landmark=none``).
    """
    import yaml

    out: dict[str, object] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise HPDError(f"--set {item!r}: expected KEY=VALUE")
        raw = raw.strip()
        if raw.lower() in {"none", "null", "~"}:
            val: object = None
        else:
            try:
                val = yaml.safe_load(raw) if raw else ""
            except yaml.YAMLError:
                val = raw
        out[key.strip()] = val
    return out


def _analysis_parameters(overrides: dict[str, object]) -> Parameters:
    """:class:`~hpd_analysis.params.Parameters` from ``--set`` overrides (a bad one: one line)."""
    from .errors import ParameterError
    from .params import Parameters

    try:
        return Parameters.from_dict(overrides)
    except (TypeError, ValueError) as exc:
        raise ParameterError(str(exc)) from None


def _cmd_validate(args: argparse.Namespace) -> int:
    """Findings on stdout (``hpd validate x > problems.txt``); exit 0 valid, 1 invalid."""
    from .endpoints import progression_warnings
    from .load import check_cohort
    from .validate import WARNING

    params = _analysis_parameters(_parse_set(args.set))
    cohort, problems = check_cohort(args.cohort, params)
    for p in problems:
        print(p)
    if problems or cohort is None:
        print(f"{len(problems)} problem(s) found in {args.cohort}")
        return 1
    tables = ", ".join(
        f"{role} {len(t)} rows"
        for role, t in (
            ("lesions", cohort.lesions),
            ("assessments", cohort.assessments),
            ("scans", cohort.scans_wide),
        )
        if t is not None
    )
    report = cohort.load_report
    warnings = [
        f"warning: {r.file}: {r.column}: {r.detail}"
        if isinstance(r.column, str)
        else f"warning: {r.file}: {r.detail}"
        for r in report.itertuples(index=False)
        if r.action == WARNING
    ]
    try:
        warnings += [f"warning: {w}" for w in progression_warnings(cohort, params)]
    except Exception as exc:  # noqa: BLE001 - validate reports, it never crashes
        warnings.append(
            f"warning: progression dates not checked against the scans ({type(exc).__name__})"
        )
    print(
        f"{args.cohort}: valid ({cohort.n_patients} patients"
        + (f"; {tables}" if tables else "")
        + ")"
        + (f" with {len(warnings)} warning(s)" if warnings else "")
    )
    for w in warnings:
        print(w)
    for row in report.itertuples(index=False):
        if row.action != WARNING:
            print(
                f"  loader note: {row.file}: {row.column}: {row.action} ({row.n_rows} rows) "
                f"{row.detail}".rstrip()
            )
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from .classification import classify_path

    out = classify_path(
        args.cohort,
        out=args.out,
        definitions=args.definitions,
        config=args.config,
        overrides=_parse_set(args.set),
    )
    print(f"wrote {out}")
    return 0


def _cmd_definitions(args: argparse.Namespace) -> int:
    from .definitions import describe_definitions, get_definitions, load_definitions_yaml

    defs = get_definitions()
    if args.config:
        defs = defs + load_definitions_yaml(args.config)
    table = describe_definitions(defs)
    if args.format == "json":
        print(json.dumps(table.to_dict(orient="records"), indent=2, default=str))
    elif args.format == "csv":
        from .privacy import neutralize_formulas

        print(neutralize_formulas(table).to_csv(index=False), end="")
    else:
        for row in table.itertuples(index=False):
            print(
                f"{row.code}\n  {row.citation}\n  rule: {row.rule}\n  parameters: {row.parameters}\n"
            )
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .load import check_output
    from .simulate import simulate_cohort, write_cohort

    if args.patients < 1:
        raise HPDError(f"--patients {args.patients}: expected a positive number of patients")
    if args.seed < 0:
        raise HPDError(f"--seed {args.seed}: expected a whole number ≥ 0")
    check_output(args.out, [], folder=True, force=args.force)
    tables = simulate_cohort(n_patients=args.patients, seed=args.seed)
    out = write_cohort(tables, args.out, fmt=args.format)
    print(f"wrote {args.patients} simulated patients (seed {args.seed}) to {out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import run_report

    out = run_report(
        cohort=args.cohort,
        out=args.out,
        parameters=_parse_set(args.set),
        parameters_file=args.parameters,
        sections=args.sections,
        jobs=args.jobs,
    )
    print(f"report written to {out / 'index.html'}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .report import verify_report

    diffs = verify_report(args.report_dir, args.cohort)
    for line in diffs:
        print(f"DIFFERS: {line}")
    if diffs:
        print(
            f"hpd verify: {len(diffs)} difference(s): {args.report_dir} is NOT reproduced "
            f"from {args.cohort}",
            file=sys.stderr,
        )
        return 1
    print(f"verified: {args.report_dir} is reproduced from {args.cohort}")
    return 0


def _cmd_import_sdtm(args: argparse.Namespace) -> int:
    from .sdtm import import_sdtm_dir

    options = {
        "adam_dir": args.adam_dir,
        "prefer": args.prefer,
        "reader": args.reader,
        "diameter_rule": args.diameter_rule,
        "subjects": args.subjects,
        "allow_unmatched": args.allow_unmatched,
    }
    out = import_sdtm_dir(args.sdtm_dir, args.out, force=args.force, **options)
    import pandas as pd

    from .sdtm import dropped_rows_summary

    for line in dropped_rows_summary(
        pd.read_csv(out / "import_report.csv", dtype=str, keep_default_na=False)
    ):
        print(line)
    print(f"wrote cohort to {out}")
    return 0


def _cmd_growth(args: argparse.Namespace) -> int:
    from .growth import growth_path

    out = growth_path(args.cohort, args.out, fmt=args.format, overrides=_parse_set(args.set))
    print(f"wrote {out}")
    return 0


def _add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The repeatable ``--set KEY=VALUE`` option of a subcommand (read by :func:`_parse_set`)."""
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=help_text)


def _subcommand(
    sub: _Subparsers, name: str, run: Callable[[argparse.Namespace], int], *, help_text: str
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` (its one-line ``help_text``), run by ``run(args)``; return
    its parser for the options."""
    parser = sub.add_parser(name, help=help_text)
    parser.set_defaults(func=run)
    return parser


def _add_validate(sub: _Subparsers) -> None:
    s = _subcommand(
        sub, "validate", _cmd_validate, help_text="check a cohort against the format contract"
    )
    s.add_argument("cohort", help="cohort folder, or a patients/scans file")
    _add_set_option(s, "accept a checked value on purpose, e.g. plausibility.max_diameter_mm=3000")


def _add_classify(sub: _Subparsers) -> None:
    s = _subcommand(
        sub, "classify", _cmd_classify, help_text="write the per-patient classification table"
    )
    s.add_argument("cohort", help="cohort folder, or a patients/scans file")
    s.add_argument("--out", required=True, help="output file (.csv, .csv.gz or .parquet)")
    s.add_argument(
        "--definitions",
        nargs="+",
        metavar="NAME",
        help="definitions to apply (default: all, plus those of --config)",
    )
    s.add_argument("--config", help="YAML file: parameters and/or user definitions")
    _add_set_option(s, "override a parameter, e.g. windows.first_eval_min_days=21")


def _add_definitions(sub: _Subparsers) -> None:
    s = _subcommand(
        sub,
        "definitions",
        _cmd_definitions,
        help_text="list every HPD definition with citation and rule",
    )
    s.add_argument("--config", help="YAML file with user definitions to list too")
    s.add_argument("--format", choices=["text", "csv", "json"], default="text")


def _add_simulate(sub: _Subparsers) -> None:
    s = _subcommand(
        sub, "simulate", _cmd_simulate, help_text="write a synthetic cohort in the contract format"
    )
    s.add_argument("--patients", type=int, default=500)
    s.add_argument("--seed", type=int, default=2021)
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.add_argument(
        "--force", action="store_true", help="write into an existing, non-empty output folder"
    )


def _add_report(sub: _Subparsers) -> None:
    s = _subcommand(
        sub, "report", _cmd_report, help_text="execute the notebooks and write the report"
    )
    s.add_argument("--cohort", default="data/example")
    s.add_argument("--out", default="reports", type=Path)
    _add_set_option(s, "override a report parameter, e.g. group_by=arm, landmark=none")
    s.add_argument("--parameters", help="YAML file of report parameters")
    s.add_argument("--sections", nargs="+", metavar="NAME", help="render only these sections")
    s.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="sections run at the same time (default: 2, or 1 on one core)",
    )


def _add_verify(sub: _Subparsers) -> None:
    s = _subcommand(
        sub,
        "verify",
        _cmd_verify,
        help_text="rerun a report folder on its cohort and compare every table",
    )
    s.add_argument("report_dir", help="the report folder (holding parameters.json)")
    s.add_argument("--cohort", required=True, help="the cohort folder or file it was made from")


def _add_import_sdtm(sub: _Subparsers) -> None:
    s = _subcommand(
        sub, "import-sdtm", _cmd_import_sdtm, help_text="convert CDISC SDTM domains into a cohort"
    )
    s.add_argument("sdtm_dir")
    s.add_argument("--out", required=True, help="output cohort folder")
    s.add_argument("--adam-dir", help="folder with ADaM ADSL/ADTTE (default: look in SDTM_DIR)")
    s.add_argument(
        "--prefer",
        help="domain file variant to prefer when several exist, e.g. recist "
        "(tu_onco_recist over tu_onco)",
    )
    s.add_argument(
        "--reader",
        default="accepted",
        help="which evaluator's reading: accepted (TRACPTFL=Y, default), investigator, "
        "or an evaluator name",
    )
    s.add_argument(
        "--diameter-rule",
        choices=["recist", "diameter"],
        default="recist",
        help="recist: short axis for lymph nodes, longest diameter otherwise; "
        "diameter: the sponsor's DIAMETER test as recorded",
    )
    s.add_argument(
        "--subjects",
        choices=["exposed", "with_tumor_data"],
        default="exposed",
        help="which DM subjects become patients",
    )
    s.add_argument(
        "--allow-unmatched",
        action="store_true",
        help="drop TR records of subjects absent from DM (default: an error)",
    )
    s.add_argument(
        "--force", action="store_true", help="write into an existing, non-empty output folder"
    )


def _add_growth(sub: _Subparsers) -> None:
    s = _subcommand(
        sub,
        "growth",
        _cmd_growth,
        help_text="fit the Stein–Wilkerson growth model (g, d, phi) per patient "
        "as the R package tumgr does",
    )
    s.add_argument(
        "cohort",
        help="cohort folder or file, or with --format tumgr a CSV with "
        "columns name, date (days), size",
    )
    s.add_argument("--out", required=True, help="output file (.csv, .csv.gz or .parquet)")
    s.add_argument(
        "--format",
        choices=["cohort", "tumgr"],
        default="cohort",
        help="input: a cohort (default) or tumgr's name, date, size table",
    )
    _add_set_option(s, "override a parameter, e.g. growth.alpha=0.1")


#: the subcommands in the order ``hpd --help`` lists them, each added by its own function
_SUBCOMMANDS: tuple[Callable[[_Subparsers], None], ...] = (
    _add_validate,
    _add_classify,
    _add_definitions,
    _add_simulate,
    _add_report,
    _add_verify,
    _add_import_sdtm,
    _add_growth,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hpd``: the global ``--version`` and one subcommand per
    :data:`_SUBCOMMANDS` entry."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="hpd",
        description="Hyperprogressive disease (HPD) workbench: validate a cohort, classify it "
        "under every published HPD definition, simulate cohorts and render the report.",
    )
    p.add_argument("--version", action="version", version=f"hpd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in _SUBCOMMANDS:
        add_subcommand(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hpd``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CohortError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(
            f"hpd {args.command}: interrupted (a report folder being built is removed; the "
            "previous report is left as it was)",
            file=sys.stderr,
        )
        return 130
    except (HPDError, OSError) as exc:  # bad input or a file system refusal: one line
        if os.environ.get("HPD_DEBUG"):
            raise
        msg = str(exc).strip().splitlines() or [type(exc).__name__]
        for line in msg:
            print(f"hpd {args.command}: {line}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
