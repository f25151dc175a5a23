"""The HTML report of an experiment set: `load_report_inputs(set_dir)` then `build_report(inputs, out_dir)`."""

from shapsweep.report.inputs import ReportInputs, load_report_inputs
from shapsweep.report.pages import ReportFiles, build_report, build_row_page

__all__ = ["ReportFiles", "ReportInputs", "build_report", "build_row_page", "load_report_inputs"]
