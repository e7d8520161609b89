"""Entrypoints: the composition root and the front doors (CLI, Lambda handlers, local worker)."""
