"""Demo data: the sample instance (``lantai demo load``) and the synthetic record generator."""

from lantai.demo.generator import GenerateSummary, generate_records, generate_wide_series
from lantai.demo.sample import DemoLogin, DemoSummary, load_demo, seed_names, seed_text

__all__ = [
    "DemoLogin",
    "DemoSummary",
    "GenerateSummary",
    "generate_records",
    "generate_wide_series",
    "load_demo",
    "seed_names",
    "seed_text",
]
