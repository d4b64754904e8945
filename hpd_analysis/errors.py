"""User-facing errors: every problem names the file, row, column, what is wrong and what was expected."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a user's input.

    ``row`` is the 1-based line number in the file as a spreadsheet shows it (the header is row 1,
    so the first data row is row 2); ``None`` when the problem concerns the whole file or column.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    expected: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.row}" if self.row is not None else "")
        col = f" {self.column}:" if self.column else ""
        exp = f" (expected {self.expected})" if self.expected else ""
        return f"{where}:{col} {self.message}{exp}"


class HPDError(Exception):
    """Base class of errors caused by user input or arguments (the CLI prints them, no traceback)."""


class CohortError(HPDError):
    """A cohort failed validation; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ParameterError(HPDError, ValueError):
    """A parameter, option or definition is invalid."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when the message is empty):
    what a one-line problem says of a library's error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def short_excerpt(text: object, limit: int = 40) -> str:
    """``text`` quoted and cut to ``limit`` characters: the most an error message echoes of a
    line a user wrote (a YAML key, a cell)."""
    t = str(text)
    return repr(t if len(t) <= limit else t[: limit - 3] + "...")


def yaml_error_text(exc: Exception) -> str:
    """Where and what a YAML parse error is, without the file's content (PyYAML's message
    quotes the offending lines, which would echo any file given by mistake, e.g. a password
    file)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
