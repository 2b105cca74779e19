"""billcore: an open-source billing core for service providers."""

__version__ = "0.1.0"
