"""上网审查 (pre-publication review), masking, the published 开放档案目录 and its OAI-PMH sets.

A record that is 开放 is not yet public: it reaches the public portal (search, facets, the
open catalogue, the OAI-PMH sets) only after an approved publication decision, and only in its
masked form (personal data found by the screening masked as ``publication.yaml`` says).
"""

from lantai.appraisal.publication.catalogue import (
    FORMATS,
    LEVEL_TITLES,
    CatalogueEntry,
    OpenCatalogueExport,
    catalogue_entries,
    export_open_catalogue,
)
from lantai.appraisal.publication.config import PublicationConfig, load_config
from lantai.appraisal.publication.masking import MaskedRecord, PublicMasker
from lantai.appraisal.publication.oai import (
    OPEN_SET,
    OaiSet,
    SetMember,
    list_open_catalogue_sets,
    open_catalogue_set_members,
)
from lantai.appraisal.publication.service import (
    DecisionReport,
    PublicationService,
    publish_all_open,
    publishable_problem,
)

__all__ = [
    "FORMATS",
    "LEVEL_TITLES",
    "OPEN_SET",
    "CatalogueEntry",
    "DecisionReport",
    "MaskedRecord",
    "OaiSet",
    "OpenCatalogueExport",
    "PublicMasker",
    "PublicationConfig",
    "PublicationService",
    "SetMember",
    "catalogue_entries",
    "export_open_catalogue",
    "list_open_catalogue_sets",
    "load_config",
    "open_catalogue_set_members",
    "publish_all_open",
    "publishable_problem",
]
