"""Adapters: one module per technology, each implementing a port of outreach_core.ports."""
