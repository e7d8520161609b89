"""Build the Lambda deployment zip: our packages plus the dependencies the Lambda Python runtime lacks.

    python scripts/package_lambda.py [--arch x86_64|arm64] [--python 3.11] [--out dist]

boto3 / botocore (and their s3transfer, jmespath, urllib3, dateutil, six) come with the runtime and are
not bundled. Wheels are the manylinux ones for the target, at the versions pinned in constraints.txt.
The CLI and the local demo stay out (they need typer and rich, which Lambda never imports). After the
build, the handler modules are imported from the zip's contents alone (plus the host's boto3) when the
target matches this machine, and a size report is printed; the build fails above the size budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = [  # the runtime dependencies Lambda does not provide (pyproject.toml minus boto3 and CLI-only ones)
    "pydantic",
    "pydantic-settings",
    "dependency-injector",
    "structlog",
    "email-validator",
    "tzdata",
    "disposable-email-domains",  # the planner's list hygiene before step 1 (~60 KB zipped)
]
# email-validator's DNS dependency: only its deliverability check imports it, and we never run that
# (check_deliverability=False everywhere). 900 KB of the zip.
NOT_BUNDLED = ["dnspython"]
PACKAGES = ["outreach_core", "adapters", "entrypoints"]
LEFT_OUT = ["entrypoints/cli", "entrypoints/demo.py", "entrypoints/demo_data.py"]
PRUNE_SUFFIXES = (".c", ".pyx", ".pxd", ".pyi", ".pyc")  # stale bytecode goes; fresh is compiled below
PRUNE_DIRS = ("__pycache__", "bin", "tests")
PRUNE_FILES = ("RECORD",)  # pip's install manifests: nothing reads them at run time
RUNTIME_PROVIDED = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"]
HANDLERS = ["entrypoints.aws.planner", "entrypoints.aws.sender", "entrypoints.aws.feedback"]
BUDGET_BYTES = 5 * 1024 * 1024


def install_dependencies(target: Path, arch: str, python: str) -> None:
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),
            "--platform", f"manylinux2014_{'aarch64' if arch == 'arm64' else 'x86_64'}",
            "--implementation", "cp", "--python-version", python, "--only-binary=:all:",
            "-c", str(ROOT / "constraints.txt"), *BUNDLED,
        ],
        check=True,
    )  # fmt: skip
    for name in NOT_BUNDLED:
        for path in target.glob(f"{name.replace('-', '_')}-*.dist-info"):
            top_level = {line.split("/")[0] for line in (path / "RECORD").read_text().splitlines()}
            for entry in top_level:
                victim = target / entry
                if victim.is_dir():
                    shutil.rmtree(victim)
                elif victim.exists():
                    victim.unlink()


def copy_sources(target: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / "src" / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for path in LEFT_OUT:
        victim = target / path
        shutil.rmtree(victim) if victim.is_dir() else victim.unlink()


def prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNE_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in PRUNE_SUFFIXES or path.name in PRUNE_FILES):
            path.unlink()


def compile_bytecode(source: Path) -> None:
    """Ship bytecode: /var/task is read-only, so a zip without .pyc compiles every module it imports on
    every cold start. Unchecked-hash .pyc stay valid whatever the timestamps in the zip. Our packages
    keep their sources (readable tracebacks); the dependencies ship bytecode only, in place of their
    sources, which keeps the zip within its budget."""
    compile_all = [
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
    ]
    ours = [source / package for package in PACKAGES]
    theirs = [path for path in source.iterdir() if path not in ours and not path.name.endswith(".dist-info")]
    subprocess.run([*compile_all, *map(str, ours)], check=True)
    subprocess.run([*compile_all, "-b", *map(str, theirs)], check=True)
    for path in theirs:
        for module in [path] if path.is_file() else path.rglob("*.py"):
            if module.suffix == ".py":
                module.unlink()


def write_zip(source: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes(), compresslevel=9)


def smoke_test(source: Path) -> None:
    """Import every handler with only the zip's contents and the runtime-provided packages on the path."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as runtime:
        for name in RUNTIME_PROVIDED:
            if (site / name).exists():
                (Path(runtime) / name).symlink_to(site / name)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": "package-smoke-test",
            "AWS_SECRET_ACCESS_KEY": "package-smoke-test",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "OUTREACH_JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            "OUTREACH_ARCHIVE_BUCKET": "archive",
        }
        code = (
            "import importlib, sys; sys.path[:0] = sys.argv[1:3]; "
            "[importlib.import_module(m) for m in sys.argv[3:]]"
        )
        command = [sys.executable, "-I", "-S", "-B", "-c", code, str(source), runtime, *HANDLERS]
        subprocess.run(command, env=env, check=True, cwd=runtime)


def report(source: Path, archive: Path) -> int:
    sizes: dict[str, int] = {}
    for path in source.rglob("*"):
        if path.is_file():
            top = path.relative_to(source).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    print(f"{'entry':40s} {'unzipped':>12s}")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{name:40s} {size / 1024:10.0f} KB")
    total = archive.stat().st_size
    print(f"{'unzipped total':40s} {sum(sizes.values()) / 1024:10.0f} KB")
    budget = BUDGET_BYTES / 1024 / 1024
    print(f"zip: {archive}  {total / 1024 / 1024:.2f} MB (budget {budget:.0f} MB)")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch", choices=["x86_64", "arm64"], default=os.environ.get("LAMBDA_ARCH", "x86_64")
    )
    parser.add_argument("--python", default=os.environ.get("LAMBDA_PYTHON", "3.11"))
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    archive = args.out / f"outreach-lambda-py{args.python}-{args.arch}.zip"
    with tempfile.TemporaryDirectory() as build:
        source = Path(build) / "package"
        install_dependencies(source, args.arch, args.python)
        copy_sources(source)
        prune(source)
        same_python = f"{sys.version_info.major}.{sys.version_info.minor}" == args.python
        if same_python:
            compile_bytecode(source)
        else:
            print(f"no bytecode: the build runs Python {sys.version_info[:2]}, the target is {args.python}")
        write_zip(source, archive)
        native = platform.machine() in (
            {"x86_64", "AMD64"} if args.arch == "x86_64" else {"aarch64", "arm64"}
        )
        if native and same_python:
            smoke_test(source)
            print("smoke test: planner, sender and feedback handlers import from the package alone")
        else:
            print("smoke test skipped: the target is not this machine's platform")
        size = report(source, archive)
    if size > BUDGET_BYTES:
        print("the zip is over its size budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
