"""Machine pre-screening (机器预筛) for 开放审核: rules as data, one module per detector kind.

``Screener(load_rules())`` screens catalogue values and full texts and suggests a result per
record; ``Screener.mask_text`` gives the publishable text with personal data masked. Results are
returned, not stored (the review rounds will keep them).
"""

from lantai.appraisal.screening.config import RulesFile, load_rules
from lantai.appraisal.screening.engine import Screener, SubRecord, TextPart, TextSpan
from lantai.appraisal.screening.model import Hit, Location, RecordScreening

__all__ = [
    "Hit",
    "Location",
    "RecordScreening",
    "RulesFile",
    "Screener",
    "SubRecord",
    "TextPart",
    "TextSpan",
    "load_rules",
]
