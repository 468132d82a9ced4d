"""到期鉴定与销毁 (disposal): expired records, review rounds, approved destruction, 销毁清册.

Destruction here is the only way preserved content is ever removed (see
:mod:`lantai.disposal.destroy`); everything else in Lantai keeps it.
"""

from lantai.disposal.candidates import Expired, find_expired
from lantai.disposal.config import load_rounds
from lantai.disposal.service import (
    Decision,
    batch_json,
    create_batch,
    decide,
    execute,
    get_batch,
    register_package_id,
)

__all__ = [
    "Decision",
    "Expired",
    "batch_json",
    "create_batch",
    "decide",
    "execute",
    "find_expired",
    "get_batch",
    "load_rounds",
    "register_package_id",
]
