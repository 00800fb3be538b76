"""Fixtures of the console tests (defined in :mod:`console_env`)."""

from console_env import env, seeded

__all__ = ["env", "seeded"]
