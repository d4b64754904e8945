import json
from pathlib import Path

import pytest

from hpd_analysis.cli import _parse_set, main
from hpd_analysis.errors import HPDError, Problem
from hpd_analysis.params import DAYS_PER_MONTH, Parameters, Windows

ROOT = Path(__file__).resolve().parents[1]


def test_days_per_month_is_fertes_constant():
    assert DAYS_PER_MONTH == pytest.approx(365.25 / 12)


def test_parameters_round_trip_flat_and_nested():
    p = Parameters.from_dict({"windows.first_eval_min_days": 21, "tgk_mode": "relative"})
    assert p.windows == Windows(first_eval_min_days=21)
    assert p.tgk_mode == "relative"
    assert Parameters.from_dict(p.to_dict()) == p
    assert (
        Parameters.from_dict(
            {"windows": {"baseline_max_days_before": 28}}
        ).windows.baseline_max_days_before
        == 28
    )
    json.dumps(p.to_dict())  # JSON-ready


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown parameter.*windows.nope.*expected one of"):
        Parameters.from_dict({"windows.nope": 1})


def test_problem_format_names_file_row_column_expected():
    p = Problem("lesions.csv", 7, "diameter_mm", "negative value -3", "a number >= 0")
    assert str(p) == "lesions.csv:7: diameter_mm: negative value -3 (expected a number >= 0)"
    assert (
        str(Problem("patients.csv", None, None, "file is empty")) == "patients.csv: file is empty"
    )


def test_parse_set_reads_yaml_scalars():
    assert _parse_set(["landmark=none", "x=2", "flag=true", "group_by=arm"]) == {
        "landmark": None,
        "x": 2,
        "flag": True,
        "group_by": "arm",
    }
    with pytest.raises(HPDError, match="KEY=VALUE"):
        _parse_set(["oops"])


def test_cli_bad_arguments_exit_nonzero_without_traceback(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["classify"])  # missing cohort and --out
    assert exc.value.code != 0
    assert "Traceback" not in capsys.readouterr().err


def test_committed_notebooks_have_no_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{nb_path.name} carries outputs: run `make strip`"
                assert cell.get("execution_count") is None, nb_path.name


def test_plausibility_group_parsed_validated_and_settable(tmp_path, capsys):
    from hpd_analysis.params import Plausibility

    p = Parameters.from_dict(
        {"plausibility.max_diameter_mm": 3000, "plausibility.data_cutoff": "2022-06-30"}
    )
    assert p.plausibility == Plausibility(max_diameter_mm=3000, data_cutoff="2022-06-30")
    assert Parameters.from_dict(p.to_dict()) == p
    for bad in (
        {"plausibility.max_diameter_mm": -1},
        {"plausibility.data_cutoff": "30/06/2022"},
        {"plausibility.warn_targets_per_scan": 2.5},
        {"plausibility.progression_from_scans": "yes"},
    ):
        with pytest.raises(ValueError, match="plausibility."):
            Parameters.from_dict(bad)
    # the CLI: a bad value is one line, exit 2
    assert (
        main(
            [
                "validate",
                str(ROOT / "data" / "example"),
                "--set",
                "plausibility.data_cutoff=tomorrow",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plausibility.data_cutoff='tomorrow'" in err


def test_a_value_beyond_a_limit_is_accepted_with_its_parameter(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    (d / "patients.csv").write_text("patient_id,treatment_start\nP1,2021-01-10\n")
    (d / "lesions.csv").write_text(
        "patient_id,assessment_date,lesion_id,lesion_type,diameter_mm\n"
        "P1,2021-01-05,L1,target,2500\nP1,2021-03-01,L1,target,2600\n"
    )
    assert main(["validate", str(d)]) == 1
    out = capsys.readouterr().out
    assert "plausibility.max_diameter_mm" in out  # the error names the parameter
    assert main(["validate", str(d), "--set", "plausibility.max_diameter_mm=5000"]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "plausibility.warn_diameter_mm" in out


@pytest.mark.parametrize(
    "content",
    [
        "root:$6$secretHASH:19000:0:99999:7:::\nsecret: [\n",
        "root: $6$secretHASH\nsecretuser: x\n",
        b"\xff\xfe secret binary \x00",
    ],
)
def test_definitions_file_content_is_never_echoed(tmp_path, content):
    """``--set definitions_file=/etc/shadow`` (issue 12): the error names the file and the
    problem (line and column of a YAML error), never its lines."""
    from hpd_analysis.errors import ParameterError
    from hpd_analysis.report import run_report

    f = tmp_path / "shadow"
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    with pytest.raises(ParameterError) as exc:
        run_report(
            ROOT / "data" / "example",
            tmp_path / "out",
            progress=None,
            parameters={"definitions_file": str(f)},
        )
    text = str(exc.value)
    assert str(f) in text and "secret" not in text and "$6$" not in text, text
    assert not (tmp_path / "out").exists()


def test_every_subcommand_in_help_order_with_its_handler():
    import argparse

    from hpd_analysis.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [
        "validate",
        "classify",
        "definitions",
        "simulate",
        "report",
        "verify",
        "import-sdtm",
        "growth",
    ]
    for name, sub_parser in sub.choices.items():
        assert sub_parser.get_default("func").__name__ == "_cmd_" + name.replace("-", "_")
