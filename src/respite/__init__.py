"""Respite: social debt collection with exact money and law."""

__version__ = "0.1.0"
