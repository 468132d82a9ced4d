"""兰台 Lantai: a digital archives system (数字档案馆系统) for Chinese state archives."""

__version__ = "0.1.0"
__all__ = ["__version__"]
