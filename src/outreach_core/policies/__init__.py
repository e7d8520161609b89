"""Policies: pure functions of (state, now) and the data that configures them."""
