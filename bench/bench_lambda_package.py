"""The Lambda package: zip size, and the cold import of the sender handler next to `import boto3`.

Both imports run in fresh interpreters (-I -S -B: no site-packages, no bytecode writes) that see only
the unpacked zip plus the packages the Lambda runtime provides (boto3 and its dependencies, linked from
this environment), alternating, several rounds; the figure is the median time of the import statement
itself (interpreter start-up excluded). Importing the sender handler is the whole cold start: settings,
logging, the container, the boto3 clients and the services.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 9
RUNTIME_PROVIDED = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"]


def _sender_environment() -> dict[str, str]:
    """The sender's environment as Terraform sets it (the package smoke test's, scripts/package_lambda.py)."""
    import importlib.util

    from entrypoints.aws.manifest import function

    spec = importlib.util.spec_from_file_location("package_lambda", ROOT / "scripts" / "package_lambda.py")
    assert spec is not None and spec.loader is not None
    packaging = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(packaging)
    return {**packaging.LAMBDA_ENV, **packaging.function_environment(function("sender"))}


ENV = _sender_environment()


def _build(out: Path) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package_lambda.py"), "--out", str(out)], check=True
    )
    return next(out.glob("outreach-lambda-*.zip"))


LIBRARIES = "boto3,pydantic_settings,dependency_injector.containers,structlog"
STAGES = [  # what the sender's cold start is made of, each stage including the ones before
    ("boto3", "boto3"),
    ("+ pydantic, pydantic-settings, dependency-injector, structlog", LIBRARIES),
    (  # what the sender wires: the container imports these on first build (entrypoints/container.py)
        "+ the sender's modules (its service, adapters, container, settings)",
        "entrypoints.container,entrypoints.settings,entrypoints.observability,outreach_core.services.sender,"
        "adapters.aws.dynamodb_store,adapters.aws.sqs_queue,adapters.aws.ses_mailer,adapters.aws.failover,"
        "adapters.aws.ssm_parameter,adapters.mail_routing,adapters.dns_mx",
    ),
    ("+ the cold start: settings, container, boto3 clients, services", "entrypoints.aws.sender"),
]


def _import_seconds(paths: list[str], modules: str) -> float:
    code = (
        "import sys, time; sys.path[:0] = sys.argv[1:-1]; t = time.perf_counter(); "
        "[__import__(m) for m in sys.argv[-1].split(',')]; print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, *paths, modules],
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def run() -> dict[str, Any]:
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = _build(Path(tmp) / "dist")
        unpacked, runtime = Path(tmp) / "task", Path(tmp) / "runtime"
        runtime.mkdir()
        zipfile.ZipFile(archive).extractall(unpacked)
        for name in RUNTIME_PROVIDED:
            if (site / name).exists():
                (runtime / name).symlink_to(site / name)
        paths = [str(unpacked), str(runtime)]
        times: dict[str, list[float]] = {label: [] for label, _ in STAGES}
        for _ in range(ROUNDS):  # alternating, so drift on the machine hits every stage alike
            for label, modules in STAGES:
                times[label].append(_import_seconds(paths, modules))
        size = archive.stat().st_size
    boto, sender = times[STAGES[0][0]], times[STAGES[-1][0]]
    return {
        "zip_bytes": size,
        "zip_mb": round(size / 1_000_000, 2),  # MB as the budget counts them
        "rounds": ROUNDS,
        "boto3_ms": round(statistics.median(boto) * 1000),
        "sender_ms": round(statistics.median(sender) * 1000),
        "extra_ms": round((statistics.median(sender) - statistics.median(boto)) * 1000),
        "boto3_spread_ms": [round(min(boto) * 1000), round(max(boto) * 1000)],
        "sender_spread_ms": [round(min(sender) * 1000), round(max(sender) * 1000)],
        "stages_ms": {label: round(statistics.median(times[label]) * 1000) for label, _ in STAGES},
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| figure | result | target |",
        "|---|---|---|",
        f"| zip size (`make package`, boto3 not bundled) | **{result['zip_mb']} MB** "
        f"({result['zip_bytes']:,} bytes) | ≤ 5 MB |",
        f"| `import boto3` (median of {result['rounds']}) | {result['boto3_ms']} ms "
        f"({result['boto3_spread_ms'][0]}–{result['boto3_spread_ms'][1]}) | |",
        f"| `import entrypoints.aws.sender` (the whole cold start) | {result['sender_ms']} ms "
        f"({result['sender_spread_ms'][0]}–{result['sender_spread_ms'][1]}) | |",
        f"| extra over `import boto3` | **{result['extra_ms']} ms** | ≤ 250 ms |",
        "",
        "| stage (cumulative, medians of the same run) | ms |",
        "|---|---|",
    ]
    rows += [f"| {label} | {ms} |" for label, ms in result["stages_ms"].items()]
    return "\n".join(rows) + "\n"
