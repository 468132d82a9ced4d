"""The catalogue (目录数据库): units of description, 档号 assignment, import and export."""

from lantai.catalogue.service import Catalogue, ChildrenPage, Lifecycle

__all__ = ["Catalogue", "ChildrenPage", "Lifecycle"]
