"""ssm: references that cannot be read say why - AWS's error code and message, which name the missing
grant - and never a value."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from adapters.secrets import SecretResolver
from outreach_core.ports import SecretUnavailable

DENIED = {
    "Error": {
        "Code": "AccessDeniedException",
        "Message": "User: arn:aws:sts::123456789012:assumed-role/poller/fn is not authorized to perform: "
        "ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/outreach/mbox/ann",
    }
}


def test_an_access_denied_names_the_action_and_the_reference() -> None:
    def ssm(name: str) -> str:
        raise ClientError(DENIED, "GetParameter")

    with pytest.raises(SecretUnavailable) as refused:
        SecretResolver(env={}, ssm=ssm).resolve("ssm:/outreach/mbox/ann")
    message = str(refused.value)
    assert message.startswith("ssm:/outreach/mbox/ann: SSM could not be read (AccessDeniedException: ")
    assert "not authorized to perform: ssm:GetParameter" in message


def test_any_other_failure_is_named_by_its_type_only() -> None:
    def ssm(name: str) -> str:
        raise ConnectionError("could not reach ssm with password=hunter2")

    with pytest.raises(SecretUnavailable) as refused:
        SecretResolver(env={}, ssm=ssm).resolve("ssm:/outreach/mbox/ann")
    assert str(refused.value) == "ssm:/outreach/mbox/ann: SSM could not be read (ConnectionError)"
