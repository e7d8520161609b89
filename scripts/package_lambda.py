"""Build the Lambda deployment zip: our packages plus the dependencies the Lambda Python runtime lacks.

    python scripts/package_lambda.py [--arch x86_64|arm64] [--python 3.11] [--out dist]

boto3 / botocore (and their s3transfer, jmespath, urllib3, dateutil, six) come with the runtime and are
not bundled. Wheels are the manylinux ones for the target, at the versions pinned in constraints.txt.
The CLI and the local-only modules stay out (they need typer, rich, cryptography, which Lambda never
imports), and so do the parts of the dependencies nothing here can import (UNUSED, each with the reason).

After the build, when the target is this machine's platform, every function of the manifest (and the
Telegram relay) is started as Lambda starts it: a fresh interpreter with only the unpacked zip and the
runtime's boto3 on sys.path and exactly the environment Terraform gives that function (the manifest's
settings, which tests/terraform holds equal to Terraform's), importing its handler; a function that
resolves MX (OUTREACH_MX_RESOLVER=dns) then resolves against a DNS server this script runs on
127.0.0.1, so dnspython's lazily imported query and record modules are proven present too. Then a size
report; the build fails above the size budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = [  # the runtime dependencies Lambda does not provide (pyproject.toml minus boto3 and CLI-only ones)
    "pydantic",
    "pydantic-settings",
    "dependency-injector",
    "structlog",
    "email-validator",
    "tzdata",
    "dnspython",  # adapters.dns_mx: Terraform sets OUTREACH_MX_RESOLVER=dns
    "disposable-email-domains",  # the planner's list hygiene before step 1 (63 KB zipped)
    "imapclient",  # the IMAP poller only (imported on its first read, never by the other functions)
]
PACKAGES = ["outreach_core", "adapters", "entrypoints"]
LEFT_OUT = [  # ours, never imported by a Lambda handler (the smoke test below would fail if one were)
    "entrypoints/cli",
    "entrypoints/demo.py",
    "entrypoints/demo_data.py",
    "entrypoints/worker.py",  # the local worker loop
    "entrypoints/simulate.py",
    "entrypoints/chart.py",
    "entrypoints/web.py",  # the worker's HTTP server
    "adapters/http_server.py",
    "adapters/sns.py",  # the worker's POST /sns: SNS signature checks need cryptography
    "adapters/html_report.py",
    "adapters/cost_model.py",
    "adapters/archive_export.py",
    "adapters/domain_auth.py",  # `outreach domain check` (checkdmarc, dkimpy): the CLI's only
    "adapters/holiday_calendar.py",  # `outreach tenant holidays` (the holidays package): tables go in as data
    # The local backend's adapters (the container names them lazily: a function on AWS never builds them)
    "adapters/sqlite_store.py",
    "adapters/sqlite_queue.py",
    "adapters/filesystem_archive.py",
    "adapters/simulated_ses.py",
]
UNUSED = {  # parts of the dependencies that nothing in the zip imports, and why that holds
    "pydantic/v1": "the pydantic 1 compatibility API, reached only by `import pydantic.v1`",
    "pydantic/mypy.py": "pydantic's mypy plugin, loaded by mypy",
    "pydantic/experimental": "experimental APIs (pipeline, arguments schema), imported only by name",
    **{  # dns.quic itself is imported by dns.asyncquery; its back ends only when aioquic is installed
        f"dns/quic/{name}.py": "DNS over QUIC back ends: need aioquic, which is not bundled"
        for name in ("_asyncio", "_common", "_sync", "_trio")
    },
    "dns/dnssec.py": "DNSSEC validation: needs cryptography; the resolver never validates",
    "dns/dnssecalgs": "DNSSEC algorithms (dns.dnssec's)",
    "dns/asyncresolver.py": "the asyncio resolver: nothing here is async",
    "dns/_asyncio_backend.py": "asyncio back end, loaded by the async query paths only",
    "dns/_trio_backend.py": "trio back end, loaded by the async query paths only",
    "dns/zone.py": "zone files and zone transfers: a resolver reads neither",
    "dns/zonefile.py": "zone-file parser (dns.zone's)",
    "dns/versioned.py": "versioned zones (dns.zone's)",
    "dns/btree.py": "B-tree zones (dns.btreezone's)",
    "dns/btreezone.py": "B-tree zones",
    "dns/grange.py": "$GENERATE ranges of zone files",
    "dns/update.py": "dynamic DNS updates (RFC 2136)",
    "dns/e164.py": "ENUM (E.164) lookups",
    "dns/win32util.py": "Windows resolver configuration",
    "dns/tsigkeyring.py": "TSIG key rings for signed zone transfers and updates",
    **{  # dns.rdata.get_rdata_class parses a type whose module is absent as GenericRdata
        f"dns/rdtypes/{name}.py": "a record type an MX lookup never reads (parsed generically if met)"
        for name in (
            *(
                f"ANY/{t}"
                for t in (
                    "LOC",
                    "GPOS",
                    "HIP",
                    "AMTRELAY",
                    "DSYNC",
                    "ISDN",
                    "L32",
                    "L64",
                    "NID",
                    "X25",
                    "CSYNC",
                    "ZONEMD",
                    "URI",
                    "SSHFP",
                    "CAA",
                    "CERT",
                    "TKEY",
                    "KEY",
                    "OPENPGPKEY",
                    "HINFO",
                    "NSEC3PARAM",
                )
            ),
            *(f"IN/{t}" for t in ("APL", "WKS", "NAPTR", "IPSECKEY", "PX", "NSAP")),
            "CH/A",
        )
    },
    "structlog/twisted.py": "Twisted integration",
    "dependency_injector/ext": "Flask, aiohttp and Starlette integrations",
    "annotated_types/test_cases.py": "the package's own test cases",
    "dotenv/cli.py": "the dotenv command line (needs click)",
    "dotenv/__main__.py": "python -m dotenv",
    "dotenv/ipython.py": "the IPython extension",
    "idna/cli.py": "the idna command line",
    "idna/__main__.py": "python -m idna",
    "email_validator/__main__.py": "python -m email_validator",
    "imapclient/livetest.py": "imapclient's live test script, run by hand against a server",
    "imapclient/interact.py": "imapclient's interactive shell",
    "pydantic/color.py": "the Color type (pydantic.color), imported only by name; no model here has one",
    "dependency_injector/schema.py": "containers built from YAML/JSON schemas (from_schema): ours is code",
}
# Dependencies whose bytecode keeps its docstrings: dnspython's exceptions take their messages from
# their class docstrings (dns.exception.DNSException), so -OO would leave an NXDOMAIN without a text.
KEEP_DOCSTRINGS = ("dns",)
PRUNE_SUFFIXES = (".c", ".pyx", ".pxd", ".pyi", ".pyc")  # stale bytecode goes; fresh is compiled below
# sboms: build-time bills of materials (pydantic_core: 15 KB), read by nothing at run time
PRUNE_DIRS = ("__pycache__", "bin", "tests", "sboms")
PRUNE_FILES = ("RECORD",)  # pip's install manifests: nothing reads them at run time
RUNTIME_PROVIDED = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"]
BUDGET_BYTES = 5_000_000  # 5 MB, decimal: the figure, read strictly
# What Terraform gives each function, in the shape a real deployment has (tests/terraform checks the
# names against terraform/envs/example; these are the values of a plausible deployment).
ACCOUNT, REGION = "123456789012", "eu-west-1"
DEPLOYED_VALUES = {
    "backend": "aws",
    "aws_region": REGION,
    "aws_failover_region": "eu-central-1",
    "table_name": "outreach-prod",
    "log_level": "WARNING",
    "job_queue_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/outreach-prod-jobs",
    "job_dlq_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/outreach-prod-jobs-dlq",
    "ses_max_send_rate": "14",
    "ses_max_24h_send": "50000",
    "mx_resolver": "dns",
    "planner_horizon_s": "300",
    "ses_configuration_set": "outreach-prod",
    "failover_threshold": "3",
    "failover_cool_down_s": "300",
    "unsubscribe_base_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/unsubscribe",
    "unsubscribe_secret": "package-smoke-test-secret",
    "unsubscribe_old_secrets": "",
    "sender_lease_s": "300",
    "max_attempts": "5",
    "max_receives": "3",
    "metrics_namespace": "Outreach",
    "archive_bucket": f"outreach-prod-archive-{ACCOUNT}",
    "archive_kms_key_id": "",
    "inbound_bucket": f"outreach-prod-inbound-{ACCOUNT}",
    "inbound_prefix": "inbound/",
    "alert_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:outreach-prod-alerts",
    "alert_window_s": "3600",
    "telegram_chat_id": "-1001234567890",
    "telegram_token_parameter": "/outreach/telegram-token",
    "telegram_api_base": "https://api.telegram.org",
    "webhook_queue_url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/outreach-prod-webhooks",
    "webhook_max_attempts": "8",
    "webhook_timeout_s": "10",
    "imap_batch": "50",
    "imap_timeout_s": "30",
}
# What a function loads lazily, on first use rather than at cold start: proven importable from the zip.
LAZY_IMPORTS = {"imap_poller": "imapclient,adapters.oauth_tokens"}
LAMBDA_ENV = {  # what the Lambda runtime itself puts in every function's environment (credentials aside)
    "AWS_ACCESS_KEY_ID": "package-smoke-test",
    "AWS_SECRET_ACCESS_KEY": "package-smoke-test",
    "AWS_SESSION_TOKEN": "package-smoke-test",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "LAMBDA_TASK_ROOT": "/var/task",
}
MX_DOMAIN, MX_HOSTS = "customer-mail.test", ["10 mx1.customer-mail.test.", "20 aspmx.l.google.com."]


def archive_path(out: Path | None = None, python: str = "3.11", arch: str = "x86_64") -> Path:
    """Where the build writes the zip (the stack test runs this file)."""
    return (out or ROOT / "dist") / f"outreach-lambda-py{python}-{arch}.zip"


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


def copy_sources(target: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / "src" / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for path in LEFT_OUT:
        victim = target / path
        shutil.rmtree(victim) if victim.is_dir() else victim.unlink()


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNE_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in PRUNE_SUFFIXES or path.name in PRUNE_FILES):
            path.unlink()
    missing = [name for name in UNUSED if not (target / name).exists()]
    if missing:  # a dependency moved things: look again rather than ship what nobody checked
        raise SystemExit(f"UNUSED names what the dependencies no longer have: {', '.join(missing)}")
    for name in UNUSED:
        _remove(target / name)
    for metadata in target.glob("*.dist-info/METADATA"):
        # importlib.metadata reads the headers (Version, Requires-Dist); the body is the project's
        # README and changelog (100+ KB for pydantic).
        headers = metadata.read_text(encoding="utf-8").split("\n\n", 1)[0]
        metadata.write_text(headers + "\n", encoding="utf-8")


def strip_extensions(target: Path, native: bool) -> None:
    """Debug symbols out of the compiled extension modules (dependency-injector's are built with them:
    ~300 KB); the dynamic symbols the interpreter links against stay."""
    strip = shutil.which("strip")
    if not (strip and native):
        print("extension modules not stripped: no strip for the target on this machine")
        return
    for library in target.rglob("*.so"):
        subprocess.run([strip, "--strip-unneeded", str(library)], check=True)


def compile_bytecode(source: Path) -> None:
    """Ship bytecode: /var/task is read-only, so a zip without .pyc compiles every module it imports on
    every cold start. Unchecked-hash .pyc stay valid whatever the timestamps in the zip. Our packages
    keep their sources (readable tracebacks) and lose their docstrings from the bytecode; the
    dependencies ship bytecode only, in place of their sources, which keeps the zip within its budget
    (5 MB)."""
    compile_all = [
        sys.executable,
        "-X",
        "no_debug_ranges",  # no column tables: a third of the bytecode's size; tracebacks lose the ^^^ only
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
    without_docstrings = [
        sys.executable,
        "-X",
        "no_debug_ranges",
        str(Path(__file__).with_name("compile_without_docstrings.py")),
    ]
    subprocess.run([*without_docstrings, *map(str, ours)], check=True)
    # -OO for the dependencies: their docstrings and asserts are a sixth of their bytecode, and
    # sourceless .pyc load whatever the interpreter's optimisation level
    documented = [path for path in theirs if path.name in KEEP_DOCSTRINGS]
    stripped = [path for path in theirs if path not in documented]
    subprocess.run([compile_all[0], "-OO", *compile_all[1:], "-b", *map(str, stripped)], check=True)
    subprocess.run([*compile_all, "-b", *map(str, documented)], check=True)
    for path in theirs:
        for module in [path] if path.is_file() else path.rglob("*.py"):
            if module.suffix == ".py":
                module.unlink()


def write_zip(source: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".zip.partial")  # a failed build never leaves a zip that looks whole
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(archive)


# --- the smoke test ----------------------------------------------------------------------------------


def function_environment(function: object) -> dict[str, str]:
    """OUTREACH_* exactly as Terraform sets them for this function (manifest settings, real values)."""
    settings: tuple[str, ...] = function.settings  # type: ignore[attr-defined]
    unknown = [name for name in settings if name not in DEPLOYED_VALUES]
    if unknown:
        raise SystemExit(f"{function.name}: no deployed value for {unknown}: add it to DEPLOYED_VALUES")  # type: ignore[attr-defined]
    return {f"OUTREACH_{name.upper()}": DEPLOYED_VALUES[name] for name in settings}


@contextmanager
def dns_server() -> Iterator[int]:
    """A DNS server on 127.0.0.1 (dnspython, from the build's environment): MX for MX_DOMAIN, NXDOMAIN
    with an SOA for anything else, as an authoritative server answers. Yields its UDP port."""
    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            name = query.question[0].name
            if name.to_text().rstrip(".") == MX_DOMAIN and query.question[0].rdtype == dns.rdatatype.MX:
                response.answer.append(dns.rrset.from_text(name, 300, "IN", "MX", *MX_HOSTS))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
                soa = "ns.test. hostmaster.test. 1 3600 600 86400 300"
                response.authority.append(dns.rrset.from_text("test.", 300, "IN", "SOA", soa))
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


# Run in the fresh interpreter: import the handler as Lambda does, then (for MX resolution) resolve
# through the container's own resolver, built as in a deployment (resolv.conf read), aimed at our server.
_SMOKE = """
import importlib, sys
zip_root, runtime, handler, dns_port, mx_domain, mx_expected, lazy = sys.argv[1:8]
sys.path[:0] = [zip_root, runtime]
module_name, function_name = handler.rsplit(".", 1)
module = importlib.import_module(module_name)
assert callable(getattr(module, function_name)), handler
for name in filter(None, lazy.split(",")):
    importlib.import_module(name)
if dns_port:
    resolver = importlib.import_module("entrypoints.aws.runtime").application.adapters.mx_resolver()
    dns = resolver._dns()
    dns.nameservers, dns.port = ["127.0.0.1"], int(dns_port)
    answer = resolver.mx(mx_domain)
    assert sorted(answer) == [(int(p), h) for p, h in (e.split() for e in mx_expected.split(","))], answer
    assert resolver.mx("nobody." + mx_domain) == []
missing = [f for f in (getattr(m, "__file__", None) for m in list(sys.modules.values()))
           if f and not f.startswith((zip_root, runtime, sys.base_prefix))]
assert not missing, ("imported from outside the zip and the runtime", missing[:5])
"""


def smoke_test(source: Path) -> list[str]:
    """Each function in a fresh interpreter, as Lambda starts it. Returns what was checked."""
    import boto3

    sys.path.insert(0, str(ROOT / "src"))
    from entrypoints.aws.manifest import ALERT_RELAY, FUNCTIONS

    site = Path(boto3.__file__).resolve().parent.parent
    checked = []
    with tempfile.TemporaryDirectory() as runtime, dns_server() as dns_port:
        for name in RUNTIME_PROVIDED:
            if (site / name).exists():
                (Path(runtime) / name).symlink_to(site / name)
        for function in (*FUNCTIONS, ALERT_RELAY):
            env = {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENV, "_HANDLER": function.handler}
            env.update(function_environment(function))
            resolves = env.get("OUTREACH_MX_RESOLVER") == "dns"
            expected = ",".join(" ".join(h.rstrip(".").split()) for h in MX_HOSTS)
            command = [
                sys.executable, "-I", "-S", "-B", "-c", _SMOKE, str(source), runtime, function.handler,
                str(dns_port) if resolves else "", MX_DOMAIN, expected, LAZY_IMPORTS.get(function.name, ""),
            ]  # fmt: skip
            result = subprocess.run(
                command, env=env, cwd=runtime, capture_output=True, text=True, check=False
            )
            if result.returncode:
                sys.stderr.write(result.stdout + result.stderr)
                raise SystemExit(
                    f"smoke test: {function.name} ({function.handler}) does not start from the zip"
                )
            checked.append(f"{function.name}{' + MX lookup' if resolves else ''}")
        checked.append(_import_every_module(source, runtime))
    return checked


_IMPORT_ALL = """
import importlib, sys
zip_root, runtime, left_out, *names = sys.argv[1:]
sys.path[:0] = [zip_root, runtime]
for name in names:
    importlib.import_module(name)
for path in importlib.import_module("entrypoints.container").LAZY_TARGETS:
    module, _, attribute = path.rpartition(".")
    if module not in left_out.split(","):
        assert hasattr(importlib.import_module(module), attribute), path
"""


def _import_every_module(source: Path, runtime: str) -> str:
    """The container builds by dotted path on first use (entrypoints/container.py: lazy), so what a
    function reaches only later must import from the zip too: all our modules and every path the
    container names, in one fresh interpreter. The handler modules are left to the per-function runs
    above (each builds its own container)."""
    names = sorted(
        ".".join(path.relative_to(source).with_suffix("").parts).removesuffix(".__init__")
        for package in PACKAGES
        for path in (source / package).rglob("*.py")
    )
    names = [n for n in names if not n.startswith(("entrypoints.aws.", "entrypoints.alert_relay"))]
    # What LEFT_OUT leaves out on purpose (the local backend's adapters) is not looked for.
    left_out = ",".join(
        path.removesuffix(".py").replace("/", ".") for path in LEFT_OUT if path.endswith(".py")
    )
    command = [sys.executable, "-I", "-S", "-B", "-c", _IMPORT_ALL, str(source), runtime, left_out, *names]
    env = {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENV}
    result = subprocess.run(command, env=env, cwd=runtime, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("smoke test: a module of ours in the zip does not import from it")
    return f"all {len(names)} other modules of ours and every provider the container names import"


def report(source: Path, archive: Path) -> int:
    """Sizes by top-level entry, compressed as in the zip (what the budget counts) and unzipped."""
    compressed: dict[str, int] = {}
    unzipped: dict[str, int] = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            top = info.filename.split("/")[0]
            compressed[top] = compressed.get(top, 0) + info.compress_size
            unzipped[top] = unzipped.get(top, 0) + info.file_size
    print(f"{'entry':40s} {'in the zip':>12s} {'unzipped':>12s}")
    for name, size in sorted(compressed.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{name:40s} {size / 1024:9.0f} KB {unzipped[name] / 1024:9.0f} KB")
    total = archive.stat().st_size
    packed, spread = sum(compressed.values()) / 1024, sum(unzipped.values()) / 1024
    print(f"{'total':40s} {packed:9.0f} KB {spread:9.0f} KB")
    budget = BUDGET_BYTES / 1_000_000
    print(f"zip: {archive}  {total:,} bytes = {total / 1_000_000:.2f} MB (budget {budget:.0f} MB)")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch", choices=["x86_64", "arm64"], default=os.environ.get("LAMBDA_ARCH", "x86_64")
    )
    parser.add_argument("--python", default=os.environ.get("LAMBDA_PYTHON", "3.11"))
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    archive = archive_path(args.out, args.python, args.arch)
    native = platform.machine() in ({"x86_64", "AMD64"} if args.arch == "x86_64" else {"aarch64", "arm64"})
    same_python = f"{sys.version_info.major}.{sys.version_info.minor}" == args.python
    with tempfile.TemporaryDirectory() as build:
        source = Path(build) / "package"
        install_dependencies(source, args.arch, args.python)
        copy_sources(source)
        prune(source)
        strip_extensions(source, native)
        if same_python:
            compile_bytecode(source)
        else:
            print(f"no bytecode: the build runs Python {sys.version_info[:2]}, the target is {args.python}")
        write_zip(source, archive)
        if native and same_python:
            print("smoke test: " + ", ".join(smoke_test(source)) + ": each starts from the zip alone")
        else:
            print("smoke test skipped: the target is not this machine's platform")
        size = report(source, archive)
    if size > BUDGET_BYTES:
        print("the zip is over its size budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
