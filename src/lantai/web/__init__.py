"""The web layer: JSON API and zh-CN pages (FastAPI)."""
