"""The Lambda zip for the tests that run it (the stack test, tests/integration/test_lambda_package.py).

`make test` builds it (`make package`, before the unit tests); `built_zip()` rebuilds it only when it is
missing or older than what goes into it, so a lone `pytest tests/stack` works too.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "package_lambda.py"


def packaging() -> ModuleType:
    """scripts/package_lambda.py as a module (its constants, archive_path, function_environment)."""
    spec = importlib.util.spec_from_file_location("package_lambda", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs() -> list[Path]:
    sources = [
        p
        for package in ("outreach_core", "adapters", "entrypoints")
        for p in (ROOT / "src" / package).rglob("*.py")
    ]
    return [*sources, ROOT / "constraints.txt", SCRIPT]


def built_zip() -> Path:
    archive: Path = packaging().archive_path()
    if not archive.exists() or archive.stat().st_mtime < max(p.stat().st_mtime for p in _inputs()):
        subprocess.run([sys.executable, str(SCRIPT)], check=True, cwd=ROOT)
    return archive
