"""Proveo: a B2B marketplace where businesses find service providers."""

__version__ = "0.1.0"
