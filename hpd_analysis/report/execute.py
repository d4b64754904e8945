"""Execution of the report: :func:`run_report` (what ``hpd report`` calls) checks every
parameter against the schema and the cohort before any kernel starts, builds the report in a
staging folder beside ``--out`` (:mod:`.folder`), runs the section notebooks with papermill on
``jobs`` kernels started while the cohort is classified (:class:`SectionPool`; each kernel runs
several sections, the longest first, and is reset to a fresh namespace before each), and moves the
folder into place only when every section succeeded."""

from __future__ import annotations

import functools
import os
import queue
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import HPDError, ParameterError
from .folder import OutLock, check_out, publish, read_manifest, staging_dir
from .render import clean_notebook, render_html
from .resolve import check_columns, notebook_parameters, resolve_parameters
from .schema import REPORT_OPTIONS, parse_value
from .section import CACHE_DIR, cache_key, resolve_definitions, write_cache

#: the notebook sections in report order: file stem → (title, one-line summary)
SECTIONS: dict[str, tuple[str, str]] = {
    "01_cohort": (
        "Cohort",
        "patients, scans per patient, time-point windows, attrition per definition",
    ),
    "02_kinetics": (
        "Tumour kinetics",
        "TGR before vs on treatment, spider and waterfall plots, TGK",
    ),
    "03_incidence_agreement": (
        "Incidence and agreement",
        "HPD incidence with 95 % CIs, agreement between definitions (Jaccard, kappa), UpSet, "
        "threshold sweep",
    ),
    "04_risk_factors": (
        "Risk factors",
        "Table 1 by HPD status, univariable and multivariable odds ratios",
    ),
    "05_survival": (
        "Survival",
        "Kaplan–Meier OS and PFS by group, landmark analysis, hazard ratios",
    ),
}


#: relative run time of each section on the bundled example (seconds of a 2-core machine, less
#: kernel start-up): the workers take the longest first, so that two kernels finish together
SECTION_WEIGHTS: dict[str, float] = {
    "01_cohort": 2,
    "02_kinetics": 6,
    "03_incidence_agreement": 8,
    "04_risk_factors": 10,
    "05_survival": 3,
}

#: papermill engine that runs a notebook in a kernel the report already started
#: (:class:`SectionKernel`); registered by :func:`_register_engine`
SHARED_KERNEL_ENGINE = "hpd-shared-kernel"


@functools.cache
def _register_engine() -> None:
    """Register :data:`SHARED_KERNEL_ENGINE` with papermill (once per process): its nbclient
    engine given the kernel manager ``km`` of a running kernel, which nbclient then leaves
    running; the client's channels are closed after each notebook."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class SharedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            km: Any = None,
            **kwargs: Any,
        ) -> Any:
            import logging

            client = PapermillNotebookClient(
                nb_man,
                km=km,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                startup_timeout=start_timeout,
                timeout=execution_timeout,
            )
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(SHARED_KERNEL_ENGINE, SharedKernelEngine)


#: libraries whose versions go into parameters.json and index.html
LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "tableone",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pyarrow",
    "great-tables",
    "python-docx",
    "firthmodels",
    "scikit-learn",
)


KERNEL_NAME = "hpd-workbench"


def notebooks_dir() -> Path:
    """The folder of the report notebooks: ``notebooks/`` of the source tree (where developers
    edit them; editable install), else ``hpd_analysis/notebooks`` inside an installed package
    (a wheel ships them as package data; in the source tree that path is a symlink to
    ``../notebooks``)."""
    here = Path(__file__).resolve().parent.parent  # the package folder
    cands = (here.parent / "notebooks", here / "notebooks")
    for cand in cands:
        if cand.is_dir():
            return cand
    raise HPDError(
        f"report notebooks not found (looked in {', '.join(map(str, cands))}); "
        "reinstall the workbench (pip install .)"
    )


def select_sections(available: Sequence[str], sections: Sequence[str] | None) -> list[str]:
    """Sections to run, in report order: all when ``sections`` is None; each name may be the
    stem (``02_kinetics``), the name without its number (``kinetics``) or the number (``2``)."""
    if not sections:
        return list(available)
    wanted: set[str] = set()
    for s in sections:
        key = str(s).strip().removesuffix(".ipynb")
        match = [
            a
            for a in available
            if key in (a, a.split("_", 1)[-1])
            or (key.isdigit() and int(a.split("_")[0]) == int(key))
        ]
        if not match:
            short = ", ".join(a.split("_", 1)[-1] for a in available)
            raise ParameterError(f"--sections {s}: no such section (expected one of: {short})")
        wanted.update(match)
    return [a for a in available if a in wanted]


def kernel_name() -> str:
    """``hpd-workbench`` when that Jupyter kernel is installed (``make setup``), else ``python3``."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception:  # pragma: no cover - jupyter_client missing or broken
        return "python3"
    return KERNEL_NAME if KERNEL_NAME in specs else "python3"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes: :func:`hpd_analysis.load.file_sha256` (imported on
    use: the report package does not load the input layer until it needs it)."""
    from ..load import file_sha256

    return file_sha256(path)


def input_checksums(cohort: str | Path) -> dict[str, str]:
    """SHA-256 of every input file: the cohort file, or every non-hidden file of the cohort folder
    (keys are paths relative to that folder, sorted)."""
    p = Path(cohort)
    if p.is_file():
        return {p.name: sha256_file(p)}
    files = sorted(
        f
        for f in p.rglob("*")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
    )
    return {f.relative_to(p).as_posix(): sha256_file(f) for f in files}


def library_versions() -> dict[str, str]:
    """Versions of ``hpd_analysis`` itself and of the installed :data:`LIBRARIES` (``not
    installed`` when absent)."""
    out = {"hpd_analysis": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _error_summary(exc: Exception) -> tuple[str, str]:
    """(where, what) of a papermill execution error."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = str(getattr(exc, "evalue", exc)).strip()
    evalue = re.sub(r"\x1b\[[0-9;]*m", "", evalue)
    count = getattr(exc, "exec_count", None)
    index = getattr(exc, "cell_index", None)
    where = (
        f"cell [{count}]"
        if count is not None
        else f"cell #{index}"
        if index is not None
        else "papermill / the kernel, before any cell"
    )
    return where, f"{ename}: {evalue}" if evalue else ename


#: name of the copy of a ``definitions_file`` kept in the report folder (the notebooks and
#: ``hpd verify`` read this copy, so that the report does not depend on where the file was)
DEFINITIONS_COPY = "user_definitions.yaml"
#: suffix of the folder that receives the output of a run where a section failed
INCOMPLETE_SUFFIX = ".incomplete"


#: environment variable that sets the default number of report kernels (``--jobs`` wins)
JOBS_ENV = "HPD_REPORT_JOBS"


def default_jobs() -> int:
    """Kernels, hence sections run at the same time: ``$HPD_REPORT_JOBS`` when set (e.g. 1 where
    every core is already busy, as under a parallel test run), else 2, or 1 on a single core
    (the two longest sections take about half the report's CPU time, so a third kernel would
    mostly add its start-up and imports)."""
    env = os.environ.get(JOBS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ParameterError(f"${JOBS_ENV}={env}: expected a whole number of kernels >= 1")
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def run_report(
    cohort: str | Path,
    out: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    parameters_file: str | Path | None = None,
    sections: Sequence[str] | None = None,
    notebooks: str | Path | None = None,
    progress: Callable[[str], None] | None = print,
    jobs: int | None = None,
) -> Path:
    """Execute the report notebooks on ``cohort`` and write the report to ``out``; return ``out``.

    ``parameters`` are ``--set`` overrides and ``parameters_file`` a YAML file of report
    parameters (see :func:`resolve_parameters`); ``sections`` selects notebooks (default all);
    ``notebooks`` overrides the notebook folder (tests); ``jobs`` sections run at once (default
    :func:`default_jobs`). Prints one progress line per notebook.

    Everything is checked before any kernel starts (parameters, ``--out``, the cohort's columns
    named by parameters). The report is built in a staging folder beside ``out`` and moved into
    place when every section succeeded; files of ``out`` the workbench did not write are kept.
    A failing cell raises :class:`HPDError` naming the section, the cell and its error; the
    previous report in ``out`` is left as it was and this run's output goes to
    ``<out>.incomplete/`` (its index.html names the failed section).
    """
    import logging

    from ..load import load_cohort

    # papermill logs each injected name at INFO: noise here (its warnings stay visible)
    logging.getLogger("papermill").setLevel(logging.WARNING)
    say = progress or (lambda _msg: None)
    cohort_path = Path(cohort).expanduser()
    if not cohort_path.exists():
        raise HPDError(f"cohort {cohort}: no such file or folder")
    cohort_path = cohort_path.resolve()
    out = Path(out).expanduser().resolve()
    check_out(out, cohort_path)
    resolved = resolve_parameters(parameters, parameters_file)
    key = None
    if resolved["pseudonymize"]:
        from ..privacy import read_key

        key = read_key(resolved["pseudonym_key_file"])  # no usable key: fail before any kernel
    defs = resolve_definitions(
        resolved["definitions"], resolved["definitions_file"], resolved["definition_parameters"]
    )
    nb_dir = Path(notebooks) if notebooks is not None else notebooks_dir()
    # 00_*.ipynb are guided tours (00_explore), opened by hand, not report sections
    available = sorted(p.stem for p in nb_dir.glob("[0-9]*.ipynb") if not p.stem.startswith("00_"))
    if not available:
        raise HPDError(f"no report notebooks (NN_name.ipynb) in {nb_dir}")
    chosen = select_sections(available, sections)
    from ..params import Parameters

    # bad input: one line per problem, before any kernel (the plausibility limits in force)
    loaded = load_cohort(
        cohort_path, params=Parameters.from_dict({k: resolved[k] for k in Parameters().to_dict()})
    )
    check_columns(resolved, loaded.patients.columns, [d.code for d in defs])

    with OutLock(out), _terminate_as_interrupt():
        build = staging_dir(out)
        try:
            run = ReportRun(
                build=build,
                out=out,
                cohort_path=cohort_path,
                loaded=loaded,
                resolved=resolved,
                defs=defs,
                key=key,
                chosen=chosen,
                nb_dir=nb_dir,
                partial=bool(sections),
                overrides=parameters,
                jobs=jobs or default_jobs(),
            )
            failure = _build(run, say)
            target = out if failure is None else out.with_name(out.name + INCOMPLETE_SUFFIX)
            publish(build, target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    if failure is not None:
        raise HPDError(
            f"{failure}\nthe previous report in {out} is unchanged; this run's "
            f"output is in {target} (its index.html names the failed section)"
        )
    return out


@dataclass(frozen=True)
class ReportRun:
    """What one ``hpd report`` run works with once every check has passed."""

    build: Path  # the staging folder beside ``out``
    out: Path  # the report folder (``--out``)
    cohort_path: Path  # the cohort folder or file, resolved
    loaded: Any  # the cohort as loaded for the checks (:class:`hpd_analysis.cohort.Cohort`)
    resolved: dict[str, Any]  # every report parameter in force
    defs: list[Any]  # the definitions applied (:class:`hpd_analysis.definitions.Definition`)
    key: bytes | None  # the pseudonymization key, None without pseudonymization
    chosen: list[str]  # the sections to run (notebook stems, report order)
    nb_dir: Path  # the folder of the section notebooks
    partial: bool  # only some sections: the others are kept from the previous report
    overrides: Mapping[str, Any] | None  # the ``--set`` overrides, as given (reproduce.sh)
    jobs: int  # kernels, hence sections at the same time


def _build(run: ReportRun, say: Callable[[str], None]) -> str | None:
    """Build the report in ``run.build``; return the failure message (None when every section
    succeeded). The section kernels start first and import while this process loads and
    classifies the cohort once for every section."""
    from .record import finalize

    kernel = kernel_name()
    with (
        _kernel_key(run.key),
        SectionPool(
            run.chosen,
            run.nb_dir,
            run.build,
            kernel=kernel,
            jobs=run.jobs,
            reuse=run.key is None and keeping_kernels(),
        ) as pool,
    ):
        nb_params = _prepare(run)
        status = {s: {"status": "not run", "error": ""} for s in run.chosen}
        failure = pool.run(nb_params, status, say)
    shutil.rmtree(run.build / CACHE_DIR, ignore_errors=True)
    finalize(
        run.build,
        run.out,
        run.cohort_path,
        resolved=run.resolved,
        overrides=run.overrides,
        sections=run.chosen,
        status=status,
        kernel=kernel,
        definitions=run.defs,
        partial=run.partial,
    )
    return failure


def _prepare(run: ReportRun) -> dict[str, Any]:
    """Fill the staging folder ``run.build`` for the sections: the previous report's other
    sections (a partial run), the copy of the definitions file, and the cohort loaded,
    pseudonymized and classified once (:func:`.section.write_cache`); return the parameters
    injected into the notebooks."""
    from dataclasses import replace

    from ..classification import build_features, classify_features
    from ..params import Parameters
    from ..privacy import pseudonymize_cohort
    from .record import portable_path
    from .section import portable_load_report

    if run.partial:  # a run of some sections keeps the other sections of the previous report
        for name in sorted(read_manifest(run.out)):
            section_file = name.split("/")[0] in ("tables", "figures") or (
                "/" not in name and name.endswith((".ipynb", ".html")) and name != "index.html"
            )
            if section_file and (run.out / name).is_file():
                (run.build / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(run.out / name, run.build / name)
    for sub in ("tables", "figures"):
        (run.build / sub).mkdir(exist_ok=True)
    injected = dict(run.resolved)
    if run.resolved["definitions_file"] is not None:
        shutil.copyfile(run.resolved["definitions_file"], run.build / DEFINITIONS_COPY)
        injected["definitions_file"] = DEFINITIONS_COPY
    # the notebooks run in the report folder: paths relative to it, no machine path recorded
    cohort_rel = portable_path(run.cohort_path, run.out)
    nb_params = notebook_parameters(injected, cohort_rel, ".")
    # load and classify once for every section (the kernels read it from the staging folder)
    params = Parameters.from_dict({k: run.resolved[k] for k in Parameters().to_dict()})
    options = {
        o.name: parse_value(o, nb_params.get(o.name, o.default))
        for o in REPORT_OPTIONS
        if not o.private
    }
    cohort_cached = replace(
        run.loaded, load_report=portable_load_report(run.loaded.load_report, run.cohort_path)
    )
    if run.key is not None:
        cohort_cached = pseudonymize_cohort(cohort_cached, run.key)
    features = build_features(cohort_cached, params)
    write_cache(
        run.build,
        cache_key(cohort_rel, options, params),
        cohort_cached,
        features=features,
        table=classify_features(features, run.defs),
    )
    return nb_params


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`KeyboardInterrupt` in the main thread, so that an interrupted run
    removes its staging folder and releases its lock (the kernels exit with their parent)."""

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _kernel_key(key: bytes | None) -> Iterator[None]:
    """The pseudonymization key in ``$HPD_PSEUDONYM_KEY`` of the kernels (the only thing
    handed to them outside the injected parameters: a secret is never written into a
    notebook), restored on exit."""
    from ..privacy import KEY_ENV

    saved = os.environ.get(KEY_ENV)
    if key is not None:
        os.environ[KEY_ENV] = key.decode()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = saved


#: ``from hpd_analysis.x import a, b`` / ``import hpd_analysis.x`` lines of a notebook
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+(hpd_analysis[\w.]*)[ \t]+import[ \t]+([\w \t,]*)"
    r"|import[ \t]+(hpd_analysis[\w.]*))",
    re.M,
)


def warm_up_code(nb_dir: Path, sections: Sequence[str]) -> str:
    """Code that imports every ``hpd_analysis`` module the ``sections``' notebooks import (read
    from their cells) and matplotlib's pyplot: what each kernel runs as soon as it starts, while
    the main process loads and classifies the cohort, so that no section waits for its imports.
    A name that is not a module, or an import that fails, is skipped here (the section's own
    cell then fails visibly)."""
    import nbformat

    modules: dict[str, None] = {"matplotlib.pyplot": None}
    for name in sections:
        path = nb_dir / f"{name}.ipynb"
        if not path.is_file():  # the section itself then fails, naming the notebook
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for frm, names, plain in _IMPORT_LINE.findall(cell.source):
                if plain:
                    modules[plain] = None
                    continue
                modules[frm] = None
                if frm == "hpd_analysis":
                    for n in names.split(","):
                        n = n.strip().split(" ")[0]
                        if n.isidentifier():
                            modules[f"hpd_analysis.{n}"] = None
    return (
        "import importlib as _il\n"
        f"for _m in {sorted(modules)!r}:\n"
        "    try:\n"
        "        _il.import_module(_m)\n"
        "    except Exception:\n"
        "        pass\n"
        "del _il, _m\n"
    )


#: the code a reused kernel runs (silently) before each section: a fresh namespace and history
#: session (the cell counter back at 1), no open figure, and warnings shown again as in a new
#: kernel (Python shows a "default" warning once per code location; a section must not hide one
#: because another section in the same kernel emitted it first). Imported modules stay: that is
#: the time saved.
_RESET_KERNEL = """\
get_ipython().reset(new_session=True)
import warnings as _w, matplotlib.pyplot as _plt
_plt.close("all")
getattr(_w, "_filters_mutated", lambda: None)()
del _w, _plt
"""


def _chdir_code(cwd: Path) -> str:
    """Code that moves a kernel into the folder ``cwd``: the report folder of the run it serves
    (a kernel kept from an earlier run, :func:`keep_kernels`, still sits in that run's folder,
    which is gone)."""
    return f"import os as _os\n_os.chdir({str(cwd)!r})\ndel _os\n"


class SectionKernel:
    """One Jupyter kernel that runs several sections in turn (:class:`SectionPool` keeps one per
    worker): started in the report folder with the sections' modules imported
    (:func:`warm_up_code`), reset before each section (:data:`_RESET_KERNEL`), restarted if it died,
    shut down at the end of the run (or kept for the next run, :func:`keep_kernels`).

    A fresh kernel per section spends about 3 s of a 2-core machine on start-up and imports
    (pandas, matplotlib, lifelines, statsmodels, great_tables); the report runs five sections.
    """

    def __init__(self, kernel_name: str, cwd: Path, warm_up: str = "") -> None:
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.warm_up = warm_up
        self.km: Any = None

    def alive(self) -> bool:
        """True when the kernel runs."""
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def start(self) -> None:
        """Start the kernel unless it runs (a kept kernel), move it into :attr:`cwd` and import
        the sections' modules in it (blocks until done; a kept kernel has most of them)."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        if not self.alive():
            self.shutdown()
            self.km = AsyncKernelManager(kernel_name=self.kernel_name)
            # the kernel's own log (ipykernel's TCP warning, the interrupt at shutdown) is noise;
            # cell errors still reach papermill
            run_sync(self.km.start_kernel)(
                cwd=str(self.cwd), extra_arguments=["--log-level=CRITICAL"]
            )
        # an import that fails here fails again, visibly, in the section that needs it
        run_sync(self._run)(_chdir_code(self.cwd) + self.warm_up, check=False)

    def ready(self) -> Any:
        """The kernel manager of a live kernel in :attr:`cwd`, reset for a new section."""
        from jupyter_core.utils import run_sync

        if not self.alive():
            self.start()
        run_sync(self._run)(_chdir_code(self.cwd) + _RESET_KERNEL, check=True)
        return self.km

    async def _run(self, code: str, *, check: bool) -> None:
        kc = self.km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(
                code, silent=True, store_history=False, timeout=600
            )
            if check and reply["content"]["status"] != "ok":
                raise HPDError(f"the report kernel could not be reset: {reply['content']}")
        finally:
            kc.stop_channels()

    def shutdown(self) -> None:
        """Stop the kernel (no-op when none runs)."""
        if self.km is None:
            return
        from jupyter_core.utils import run_sync

        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # pragma: no cover - the kernel is already gone
            pass
        self.km = None


#: :func:`keep_kernels` blocks entered and not yet left (innermost last): whether each keeps
_KEEP: list[bool] = []
#: idle kernels kept for the next run, by kernel name
_KEPT: dict[str, list[SectionKernel]] = {}
_KEPT_LOCK = threading.Lock()


@contextmanager
def keep_kernels(keep: bool = True) -> Iterator[None]:
    """Keep the report's kernels running from one :func:`run_report` to the next inside this
    block: each run after the first skips the kernels' start-up and imports (about 3 s of CPU
    per kernel on a 2-core machine). For a series of reports from one Python session, e.g. a
    sensitivity analysis::

        with report.keep_kernels():
            for t in (25, 50, 75):
                report.run_report(cohort, f"reports/delta{t}", {"ferrara2018.delta_tgr_min": t})

    Every section still starts as in a fresh kernel (:data:`_RESET_KERNEL`, in the new run's
    folder). A pseudonymized run starts kernels of its own and stops them (the key reaches a
    kernel only when it starts, :func:`_kernel_key`). ``keep=False``: the runs inside the block
    (nested in a keeping one) neither take nor keep kernels. The kept kernels stop when a block
    is left for code that does not keep them (the outermost block, or one nested in
    ``keep_kernels(False)``).
    """
    _KEEP.append(keep)
    try:
        yield
    finally:
        _KEEP.pop()
        if not keeping_kernels():
            with _KEPT_LOCK:
                idle = [k for kernels in _KEPT.values() for k in kernels]
                _KEPT.clear()
            for k in idle:
                k.shutdown()


def keeping_kernels() -> bool:
    """True inside a :func:`keep_kernels` block whose innermost level keeps kernels."""
    return bool(_KEEP) and _KEEP[-1]


def _kept_kernel(kernel_name: str) -> SectionKernel | None:
    """An idle kept kernel of ``kernel_name`` (removed from the kept ones), or None."""
    with _KEPT_LOCK:
        kernels = _KEPT.get(kernel_name, [])
        return kernels.pop() if kernels else None


def _run_section(
    name: str, nb_dir: Path, build: Path, *, nb_params: dict[str, Any], kernel: SectionKernel
) -> tuple[float, Exception | None]:
    """Execute one notebook with papermill in ``kernel``, clean and render it; (seconds, error
    or None)."""
    import papermill as pm

    src = nb_dir / f"{name}.ipynb"
    dst = build / f"{name}.ipynb"
    title = SECTIONS.get(name, (name.split("_", 1)[-1].replace("_", " "), ""))[0]
    start = time.perf_counter()
    error: Exception | None = None
    try:
        pm.execute_notebook(
            str(src),
            str(dst),
            parameters=nb_params,
            kernel_name=kernel.kernel_name,
            engine_name=SHARED_KERNEL_ENGINE,
            km=kernel.ready(),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
        )
    except Exception as exc:  # a cell failed, or the kernel failed to start, died, timed out
        error = exc
        if os.environ.get("HPD_DEBUG"):
            import traceback

            traceback.print_exception(exc)
    if dst.exists():
        clean_notebook(dst, f"notebooks/{src.name}")
        render_html(dst, build / f"{name}.html", f"HPD report — {title}")
    return time.perf_counter() - start, error


class SectionPool:
    """The report's section runner: ``jobs`` worker threads, each with one
    :class:`SectionKernel` reused for the sections it takes, the longest sections first
    (:data:`SECTION_WEIGHTS`).

    The kernels start (and import the sections' modules) as soon as the pool is created, while
    the main process loads and classifies the cohort; :meth:`run` then hands them the notebooks.
    Use as a context manager: the kernels are shut down on exit, also when :meth:`run` was never
    called (an error before the sections) or was interrupted. With ``reuse`` (a run inside
    :func:`keep_kernels`), the pool takes kept kernels before starting new ones and, unless
    interrupted, leaves its live kernels to the next run instead.
    """

    def __init__(
        self,
        chosen: Sequence[str],
        nb_dir: Path,
        build: Path,
        *,
        kernel: str,
        jobs: int,
        reuse: bool = False,
    ):
        _register_engine()
        self.reuse = reuse
        self.chosen = list(chosen)
        self.nb_dir, self.build = nb_dir, build
        self.todo = sorted(self.chosen, key=lambda n: -SECTION_WEIGHTS.get(n, 1))
        self.nb_params: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.go = threading.Event()  # the cached cohort and the parameters are ready
        self.failed = threading.Event()  # a section failed, or the run was abandoned
        self.results: queue.Queue[tuple[str, float, Exception | None]] = queue.Queue()
        warm_up = warm_up_code(nb_dir, self.chosen)
        self.kernels = []
        for _ in range(max(1, min(jobs, len(chosen)))):
            own = (_kept_kernel(kernel) if reuse else None) or SectionKernel(kernel, build)
            own.cwd, own.warm_up = build, warm_up
            self.kernels.append(own)
        # daemon threads: an interrupted run does not wait for its kernels
        self.threads = [
            threading.Thread(target=self._worker, args=(k,), daemon=True, name=f"hpd-section-{i}")
            for i, k in enumerate(self.kernels)
        ]
        for t in self.threads:
            t.start()

    def _worker(self, own: SectionKernel) -> None:
        try:
            own.start()
        except Exception:  # the kernel could not start: the first section says why
            own.shutdown()
        self.go.wait()
        while True:
            with self.lock:
                if not self.todo or self.failed.is_set():
                    return
                name = self.todo.pop(0)
            elapsed, error = _run_section(
                name, self.nb_dir, self.build, nb_params=self.nb_params, kernel=own
            )
            if error is not None:
                self.failed.set()
            self.results.put((name, elapsed, error))

    def run(
        self,
        nb_params: dict[str, Any],
        status: dict[str, dict[str, str]],
        say: Callable[[str], None],
    ) -> str | None:
        """Execute the sections with ``nb_params`` injected; record each outcome in ``status``
        and print one progress line per section as it finishes. Return the first failure's
        message (report order), None when every section ran; after a failure no new section
        starts."""
        self.nb_params.update(nb_params)
        self.go.set()
        finished = 0
        errors: dict[str, str] = {}
        while any(t.is_alive() for t in self.threads) or not self.results.empty():
            try:
                name, elapsed, error = self.results.get(timeout=0.1)
            except queue.Empty:
                continue
            finished += 1
            short = name.split("_", 1)[-1]
            if error is None:
                status[name] = {"status": "ok", "error": ""}
                say(f"[{finished}/{len(self.chosen)}] {short} … {elapsed:.1f} s")
                continue
            where, what = _error_summary(error)
            status[name] = {"status": "failed", "error": f"{where}: {what}"}
            errors[name] = f"section {name} failed in {where}: {what}"
            say(f"[{finished}/{len(self.chosen)}] {short} … FAILED after {elapsed:.1f} s")
        return next((errors[n] for n in self.chosen if n in errors), None)

    def __enter__(self) -> SectionPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if not self.go.is_set():  # never run: let the workers go and stop at once
            self.failed.set()
            self.go.set()
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        if not interrupted:
            for t in self.threads:  # a kernel still starting is shut down below, not leaked
                t.join(timeout=120)
        # kept only when every worker has finished with its kernel
        keep = self.reuse and not interrupted and keeping_kernels()
        keep = keep and not any(t.is_alive() for t in self.threads)
        for k in self.kernels:
            if keep and k.alive():
                with _KEPT_LOCK:
                    _KEPT.setdefault(k.kernel_name, []).append(k)
            else:
                k.shutdown()
