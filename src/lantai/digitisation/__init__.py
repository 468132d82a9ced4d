"""存量数字化: scan batch import, image QC (DA/T 31), 挂接 by 档号, Chinese OCR.

Other capabilities import only these names; the job kinds are in :mod:`lantai.digitisation.tasks`.
"""

from lantai.digitisation.batch import import_batch
from lantai.digitisation.config import DigitisationConfig, load_config
from lantai.digitisation.linking import link_batch, linking_stats
from lantai.digitisation.ocr_run import correct_page, low_confidence_pages, ocr_batch
from lantai.digitisation.qc import qc_batch
from lantai.digitisation.service import batch_json, get_batch, list_batches

__all__ = [
    "DigitisationConfig",
    "batch_json",
    "correct_page",
    "get_batch",
    "import_batch",
    "link_batch",
    "linking_stats",
    "list_batches",
    "load_config",
    "low_confidence_pages",
    "ocr_batch",
    "qc_batch",
]
