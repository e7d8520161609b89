"""Rendering: personalisation, spintax and composing the outbound message."""
