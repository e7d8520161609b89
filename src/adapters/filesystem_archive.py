"""Archive on the local filesystem: the same keys the S3 adapter uses, under a root directory.

Keys are partitioned by tenant and day (`events/<tenant>/YYYY/MM/DD/...`, `exports/<tenant>/YYYY/MM/DD/...`).
On S3 a lifecycle rule expires objects after 90 days; here `prune` does the same by the day in the key.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path, PurePath

_DAY_IN_KEY = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:/|$)")


def key_day(key: str) -> date | None:
    """The day a key is partitioned by (its YYYY/MM/DD segments), or None."""
    match = _DAY_IN_KEY.search(key)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


class FilesystemArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._base = os.path.realpath(self.root)  # resolved once; keys are checked by their text

    def _path(self, key: str) -> Path:
        """Where a key's blob lives. A key that would leave the root (".." segments, an absolute path)
        is refused by its normalised text: the directories under the root are the archive's own, so
        there is no need to resolve each path through the filesystem on every put."""
        path = os.path.normpath(PurePath(self._base, key))
        if not path.startswith(self._base + os.sep):
            raise ValueError(f"archive key escapes the archive: {key!r}")
        return Path(path)

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        path = self._path(key)
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            tmp.write_bytes(body)
        except FileNotFoundError:  # the key's first blob in its directory (day)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(body)
        tmp.replace(path)  # atomic: a reader never sees half a blob
        return f"file://{key}"

    def get(self, ref: str) -> bytes:
        key = ref.removeprefix("file://")
        path = self._path(key)
        if not path.exists():
            raise KeyError(ref)
        return path.read_bytes()

    def list_keys(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )

    def prune(self, older_than: timedelta, now: datetime, *, dry_run: bool = False) -> list[str]:
        """Delete blobs whose key day is more than `older_than` before `now` (the local stand-in for
        the S3 lifecycle expiry). Keys without a day are kept. Returns the keys removed (or that would be)."""
        cutoff = (now - older_than).date()
        removed = []
        for key in self.list_keys():
            day = key_day(key)
            if day is not None and day < cutoff:
                removed.append(key)
                if not dry_run:
                    (self.root / key).unlink()
        if not dry_run:
            for directory in sorted((p for p in self.root.rglob("*") if p.is_dir()), reverse=True):
                if not any(directory.iterdir()):
                    directory.rmdir()
        return removed
