"""The Lambda zip as built: within its budget, holding every handler and what they import, leaving out
what the runtime provides; and the smoke test's environments are the ones Terraform sets."""

from __future__ import annotations

import zipfile
from pathlib import Path

from entrypoints.aws.manifest import ALERT_RELAY, FUNCTIONS
from tests.lambda_zip import packaging
from tests.terraform import tfconfig

PACKAGING = packaging()


def test_the_zip_fits_its_budget_with_every_handler_and_dnspython(lambda_zip: Path) -> None:
    assert lambda_zip == PACKAGING.archive_path()
    assert lambda_zip.stat().st_size <= 5 * 1024 * 1024
    names = set(zipfile.ZipFile(lambda_zip).namelist())
    for function in (*FUNCTIONS, ALERT_RELAY):
        assert function.handler.rsplit(".", 1)[0].replace(".", "/") + ".py" in names, function.name
    for module in ("dns/resolver.pyc", "dns/query.pyc", "dns/rdtypes/ANY/MX.pyc", "adapters/dns_mx.py"):
        assert module in names
    tops = {name.split("/")[0] for name in names}
    assert not tops & {"boto3", "botocore", "cryptography", "typer", "rich"}  # runtime-provided / local only
    assert not any(name.startswith(("entrypoints/cli/", "pydantic/v1/")) for name in names)


def test_each_smoke_environment_is_exactly_what_terraform_sets() -> None:
    calls = tfconfig.function_calls(tfconfig.load(tfconfig.ENVS / "example"))
    for function in FUNCTIONS:
        smoke = PACKAGING.function_environment(function)
        terraform = calls[function.name]["environment"]
        assert set(smoke) == set(terraform), function.name
        for name, value in terraform.items():  # literal values must match too (MX resolver, backend...)
            if tfconfig.is_literal(value) and value != "":
                assert smoke[name] == value, (function.name, name)
    assert PACKAGING.function_environment(FUNCTIONS[1])["OUTREACH_MX_RESOLVER"] == "dns"
    assert PACKAGING.function_environment(FUNCTIONS[1])["OUTREACH_ALERT_TOPIC_ARN"].startswith("arn:aws:sns:")


def test_the_relays_smoke_environment_is_what_the_alerts_module_sets() -> None:
    relay = tfconfig.load(tfconfig.MODULES / "alerts").modules()["telegram_forwarder"]["environment"]
    assert set(PACKAGING.function_environment(ALERT_RELAY)) == set(relay)
