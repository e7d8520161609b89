"""The disposable-address domains list, from the maintained `disposable-email-domains` package (a
mirror of the disposable-email-domains project's blocklist): data the core's list hygiene reads."""

from __future__ import annotations


def load() -> frozenset[str]:
    """Lower-cased domains; imported on first use (the list is ~10k names)."""
    from disposable_email_domains import blocklist

    return frozenset(blocklist)
