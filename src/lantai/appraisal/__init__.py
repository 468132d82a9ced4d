"""开放审核 (open-access review): candidate selection and machine pre-screening.

Later parts of the workflow (review rounds 初审/复审/终审, joint review with the transferring
unit, publication of the 开放档案目录) build on :mod:`lantai.appraisal.candidates` and
:mod:`lantai.appraisal.screening`.
"""
