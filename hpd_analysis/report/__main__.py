"""``python -m hpd_analysis.report``: rewrite the notebooks' ``parameters`` cells from the schema
(after a change to :mod:`hpd_analysis.report.schema`)."""

from .execute import notebooks_dir
from .schema import write_parameters_cells

for changed in write_parameters_cells(notebooks_dir()):
    print(f"rewrote the parameters cell of {changed}")
