"""The Archive contract, run against every implementation (see conftest.ARCHIVE_FACTORIES)."""

from __future__ import annotations

from typing import Any

import pytest


def test_a_blob_reads_back_by_its_reference(archive: Any) -> None:
    ref = archive.put("events/t1/2026/01/05/batch-1.jsonl.gz", b"\x1f\x8bdata")
    assert archive.get(ref) == b"\x1f\x8bdata"


def test_putting_the_same_key_again_replaces_the_blob(archive: Any) -> None:
    archive.put("exports/t1/a.json", b"1")
    ref = archive.put("exports/t1/a.json", b"2")
    assert archive.get(ref) == b"2"


def test_an_unknown_reference_raises_key_error(archive: Any) -> None:
    ref = archive.put("exports/t1/known.json", b"{}")
    with pytest.raises(KeyError):
        archive.get(ref.replace("known", "unknown"))
