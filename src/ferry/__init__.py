"""Ferry: metadata-driven data integration that never loses or duplicates a record."""

from ferry._version import __version__

__all__ = ["__version__"]
