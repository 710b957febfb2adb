"""The command line (``gruponos …``): ``app`` (sync, status, entities), ``demo``, ``service``, ``simulator``."""

from gruponos.cli.app import app, main

__all__ = ["app", "main"]
