"""The inference engine: compile the KB into experta rules and consult cases.

    from compensa.engine import consult, load_kb
    report = consult({"pain": ["lateral_knee"]})
    report.to_dict()
"""

from compensa.engine.case import Case, parse_case
from compensa.engine.consult import Consultant, consult, consultant_for
from compensa.engine.report import DISCLAIMER, Report
from compensa.kb import load_kb

__all__ = ["DISCLAIMER", "Case", "Consultant", "Report", "consult", "consultant_for", "load_kb", "parse_case"]
