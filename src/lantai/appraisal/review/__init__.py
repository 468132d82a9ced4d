"""开放审核 review rounds (初审 → 复审 → 终审, configurable), joint review with the unit, results.

``create_batch`` / ``create_from_candidates`` make a 审核批次 with the screening kept per item;
``decide`` records decisions (one item or a filtered bulk) in the current round; ``advance``
moves to the next round; ``export_unit_list`` / ``import_unit_opinions`` carry the joint review
with the 形成/移交单位 (档案法第三十条), ``record_transfer_opinions`` keeps opinions sent with a
transfer; ``apply_batch`` writes 开放标识 and the review dates to the catalogue; ``review_stats``
gives the open rate. Rules (rounds, permissions, results) are data: ``data/review_rounds.yaml``.
"""

from lantai.appraisal.review.apply import ApplyResult, apply_batch
from lantai.appraisal.review.batches import (
    create_batch,
    create_from_candidates,
    create_from_filter,
    get_batch,
    rules_for,
)
from lantai.appraisal.review.config import ReviewRules, Round, load_review_rules
from lantai.appraisal.review.decisions import (
    DecideResult,
    DecisionInput,
    ItemFilter,
    decide,
    parse_due,
)
from lantai.appraisal.review.opinions import parse_opinion, record_transfer_opinions
from lantai.appraisal.review.rounds import advance, assign_task, claim_task
from lantai.appraisal.review.stats import review_stats
from lantai.appraisal.review.unit_xlsx import export_unit_list, import_unit_opinions
from lantai.appraisal.review.views import batch_json, items_page

__all__ = [
    "ApplyResult",
    "DecideResult",
    "DecisionInput",
    "ItemFilter",
    "ReviewRules",
    "Round",
    "advance",
    "apply_batch",
    "assign_task",
    "batch_json",
    "claim_task",
    "create_batch",
    "create_from_candidates",
    "create_from_filter",
    "decide",
    "export_unit_list",
    "get_batch",
    "import_unit_opinions",
    "items_page",
    "load_review_rules",
    "parse_due",
    "parse_opinion",
    "record_transfer_opinions",
    "review_stats",
    "rules_for",
]
