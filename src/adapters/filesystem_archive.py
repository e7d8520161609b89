"""Archive on the local filesystem: the same keys the S3 adapter uses, under a root directory."""

from __future__ import annotations

from pathlib import Path


class FilesystemArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"archive key escapes the archive: {key!r}")
        return path

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(path)  # atomic: a reader never sees half a blob
        return f"file://{key}"

    def get(self, ref: str) -> bytes:
        key = ref.removeprefix("file://")
        path = self._path(key)
        if not path.exists():
            raise KeyError(ref)
        return path.read_bytes()
