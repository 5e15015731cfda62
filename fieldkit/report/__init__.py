"""Reports people would rather look at than read: sections of charts and tables from fieldkit outputs.

`build` turns loaded inputs into a `Report` (plain data); `html.render` and `charts.pdf`
draw it. The job itself (reading files, form labels, writing atomically) is
`fieldkit.pipelines.report`.
"""

from fieldkit.report.build import Loaded, build, pdf_pages
from fieldkit.report.model import Chart, InputFacts, Report, Section, Table
from fieldkit.report.words import WORDS, Words

__all__ = ["Chart", "InputFacts", "Loaded", "Report", "Section", "Table", "WORDS", "Words",
           "build", "pdf_pages"]
