"""The stack test's one shim over moto: the AWS APIs this stack uses that moto lacks or answers in a
shape the AWS SDKs refuse, filled in from the AWS API references. Nothing else in the test patches moto.

Each entry of GAPS names the API, what moto does, and who needs it; `install()` applies them all to the
moto running in this process (the ThreadedMotoServer the test starts), and `uninstall()` takes them
back. The Lambda service part (invoking our functions) lives in tests/stack/lambda_service.py: moto
runs Lambda code in Docker, which these machines do not have.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSRequest
from moto.awslambda.models import LambdaFunction
from moto.budgets.models import budgets_backends
from moto.budgets.responses import BudgetsResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.iam.access_control import IAMPolicyStatement, IAMRequest, IAMRequestBase, PermissionResult
from moto.ses.models import ConfigurationSet, EmailIdentity
from moto.ses.responses import EmailResponse as SESResponse
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.models import SESV2Backend, sesv2_backends
from moto.sesv2.responses import SESV2Response
from moto.sns.models import Subscription
from moto.sns.responses import SNSResponse
from moto.sqs.models import Queue
from moto.ssm.responses import SimpleSystemManagerResponse

GAPS: tuple[tuple[str, str, str], ...] = (
    (
        "SESv2 CreateConfigurationSetEventDestination, GetConfigurationSetEventDestinations, "
        "UpdateConfigurationSetEventDestination, DeleteConfigurationSetEventDestination",
        "not implemented (NotImplementedError -> 500)",
        "ses_region module: the configuration set publishes every SES event to the SNS topic; the test "
        "reads the destination back to deliver SES events where SES would",
    ),
    (
        "SESv2 PutEmailIdentityMailFromAttributes",
        "not implemented",
        "ses_region module: the custom MAIL FROM domain (SPF alignment); GetEmailIdentity returns it",
    ),
    (
        "Lambda DeadLetterConfig and LoggingConfig",
        "accepted by CreateFunction / UpdateFunctionConfiguration but never returned",
        "the test's Lambda service sends failed asynchronous invocations to the deployed DLQ; "
        "terraform reads both back (otherwise a perpetual diff)",
    ),
    (
        "SES DeleteReceiptRule",
        "not implemented: `terraform destroy` hangs on the receipt rule of the replies",
        "ses_inbound module (destroy)",
    ),
    (
        "SESv2 GetConfigurationSet",
        "SendingOptions is {'SendingEnabled': {'SendingEnabled': true}}: the SDK wants a boolean",
        "terraform reads the configuration set after creating it",
    ),
    (
        "SESv2 GetEmailIdentity",
        "DkimAttributes.LastKeyGenerationTimestamp is an ISO string (the SDK wants epoch seconds) and "
        "there are no DKIM Tokens; VerifiedForSendingStatus is false although moto lets it send",
        "terraform reads the identity (dkim tokens feed the DNS records output)",
    ),
    (
        "SESv2 SendEmail",
        "keeps the raw message but drops EmailTags and ConfigurationSetName",
        "SES event publishing: events carry the send's tags (mail.tags), by which feedback finds the job",
    ),
    (
        "SQS RedriveAllowPolicy attribute; unset policies",
        "unknown attribute: SetQueueAttributes ignores it, GetQueueAttributes never returns it; a "
        "policy set to '' (how the provider removes one) is returned as '', which is not JSON",
        "queue module (aws_sqs_queue_redrive_allow_policy and aws_sqs_queue_policy wait until what they "
        "set or removed reads back; on destroy that wait never ended)",
    ),
    (
        "Budgets DescribeSubscribersForNotification, ListTagsForResource",
        "not implemented",
        "budget module: the provider reads each notification's subscribers and the budget's tags",
    ),
    (
        "IAM condition evaluation",
        "only StringEquals is evaluated; any other operator counts as met, so every conditional Deny "
        "applies always (the TLS-only bucket policies deny everything), and a condition that is not "
        "met turns even an Allow into an explicit Deny",
        "the stack's TLS-only, SourceAccount and SourceArn conditions (Bool, StringEquals, StringLike, "
        "ArnLike, ArnEquals); aws:SecureTransport is true over the endpoint's TLS",
    ),
    (
        "SigV4 check of REST requests without a body (Lambda, Scheduler GETs and DELETEs)",
        "the signature is recomputed over the parsed query parameters instead of the empty body: "
        "every such call with IAM enforcement on is SignatureDoesNotMatch",
        "terraform plan and destroy, and the test reading the deployment back, with enforcement on",
    ),
    (
        "IAM evaluation of DynamoDB TransactWriteItems / TransactGetItems",
        "evaluated as the action dynamodb:TransactWriteItems, which IAM does not have: AWS authorizes "
        "each item by its own action (PutItem, UpdateItem, DeleteItem, ConditionCheckItem, GetItem) on "
        "its table (DynamoDB developer guide, 'Using IAM with DynamoDB transactions')",
        "every conditional write of the engine is a transaction",
    ),
    (
        "IAM evaluation of SQS SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch",
        "evaluated as actions of their own; SQS authorizes them as SendMessage, DeleteMessage and "
        "ChangeMessageVisibility (SQS developer guide, 'Amazon SQS API permissions')",
        "the planner's batched enqueues and the event source mapping's deletes",
    ),
    (
        "DynamoDB under concurrent requests",
        "not thread-safe: TransactWriteItems deep-copies tables that other request threads are "
        "changing (RuntimeError: dictionary changed size during iteration)",
        "the functions run at once (sender, feedback, planner); DynamoDB requests are served one at a "
        "time here, which DynamoDB's per-item serializability allows",
    ),
    (
        "SQS event source mappings",
        "moto receives the messages itself on every SendMessage and invokes the function in Docker "
        "(failing here, and burning each message's receive count towards the redrive to the DLQ)",
        "the test's poller (tests/stack/aws_around.py) plays the mapping as deployed: batch size, "
        "ReportBatchItemFailures, the function's role",
    ),
    (
        "SNS delivery to Lambda subscriptions",
        "invokes the function in Docker, with a fixed MessageId and TopicArn 'arn:aws:sns:EXAMPLE'",
        "SES events, replies and alerts reach the functions: the record goes to the test's Lambda "
        "service (tests/stack/lambda_service.py), which checks the function's resource policy",
    ),
    (
        "SNS GetTopicAttributes SignatureVersion",
        "stored by CreateTopic / SetTopicAttributes but never returned",
        "the topics sign with SHA256 (signature_version = 2); terraform reads it back",
    ),
    (
        "SQS GetQueueAttributes RedrivePolicy",
        "re-serialised with spaces (json.dumps defaults), which the provider sees as a change",
        "queue module: the jobs queue's redrive to its DLQ",
    ),
    (
        "SESv2 ListTagsForResource of an email identity",
        "tags are kept under 'email-identity/NAME', the ARN SES and the provider use is 'identity/NAME'",
        "ses_region module: the identities' tags (default_tags)",
    ),
    (
        "SESv2 GetConfigurationSet TrackingOptions, VdmOptions",
        "returned as empty objects when never set, which the provider reads as a configured block",
        "ses_region module: the configuration set has neither",
    ),
    (
        "Budgets CreateBudget ResourceTags",
        "ignored, and ListTagsForResource is missing",
        "budget module: the budget's tags (default_tags)",
    ),
    (
        "IAM AccessDenied answer of JSON-protocol services (X-Amz-Target: SSM, DynamoDB, SQS)",
        "an XML <ErrorResponse> for every service, which the SDK cannot parse for these: the error code "
        "becomes '403' and the message the raw XML; AWS answers JSON, __type AccessDeniedException",
        "a missing grant is named in a function's error as on AWS (a secret the IMAP poller cannot "
        "read: 'ssm:/...: SSM could not be read (AccessDeniedException: ... ssm:GetParameter)')",
    ),
    (
        "IAM evaluation for DynamoDB, SNS, SSM and SESv2 SendEmail requests",
        "the request's resource is '*', so no statement scoped to a table, a topic, a parameter or an "
        "identity ever matches; SendEmail is authorized against the sending identity and the "
        "configuration set (SES developer guide, 'Controlling access to Amazon SES')",
        "least privilege: the functions' roles name their table, index, topics, parameter, identities",
    ),
)

REQUEST = threading.local()  # per request thread: .secure (set by the endpoint's middleware)

DKIM_TOKENS = ("shimdkimtokenone", "shimdkimtokentwo", "shimdkimtokenthree")


@dataclass(frozen=True)
class SentEmail:
    """One SendEmail as SES accepted it: what SES event publishing would know of the send."""

    region: str
    message_id: str
    source: str
    destinations: tuple[str, ...]
    raw: str
    tags: dict[str, str]
    configuration_set: str | None
    sent_at: datetime


LambdaSink = Callable[[str, str, str, str, str, "str | None", "dict[str, Any] | None"], None]


@dataclass
class ShimState:
    lambda_sink: LambdaSink | None = None  # (subscription, topic, function, id, message, subject, attrs)
    event_destinations: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    mail_from: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    sent: list[SentEmail] = field(default_factory=list)
    budget_tags: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sends(self) -> list[SentEmail]:
        with self.lock:
            return list(self.sent)


STATE = ShimState()
_undo: list[Callable[[], None]] = []


def _patch(owner: Any, name: str, value: Any) -> None:
    missing = object()
    old = owner.__dict__.get(name, missing)
    setattr(owner, name, value)

    def undo() -> None:
        if old is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, old)

    _undo.append(undo)


# --- SESv2 ---------------------------------------------------------------------------------------


def _key(response: BaseResponse, name: str) -> tuple[str, str, str]:
    return (response.current_account, response.region, name)


def _config_set_name(response: BaseResponse) -> str:
    name = response._get_param("ConfigurationSetName")
    backend = sesv2_backends[response.current_account][response.region]
    backend.get_configuration_set(configuration_set_name=name)  # NotFoundException when missing
    return str(name)


def _create_event_destination(self: SESV2Response) -> str:
    name = _config_set_name(self)
    destination = dict(self._get_param("EventDestination") or {})
    destination["Name"] = self._get_param("EventDestinationName")
    destination.setdefault("Enabled", False)
    with STATE.lock:
        STATE.event_destinations.setdefault(_key(self, name), {})[destination["Name"]] = destination
    return "{}"


def _get_event_destinations(self: SESV2Response) -> str:
    name = _config_set_name(self)
    with STATE.lock:
        destinations = list(STATE.event_destinations.get(_key(self, name), {}).values())
    return json.dumps({"EventDestinations": destinations})


_update_event_destination = _create_event_destination  # both store the destination as given, by name


def _delete_event_destination(self: SESV2Response) -> str:
    name = str(self._get_param("ConfigurationSetName"))
    with STATE.lock:
        STATE.event_destinations.get(_key(self, name), {}).pop(self._get_param("EventDestinationName"), None)
    return "{}"


def _put_mail_from(self: SESV2Response) -> str:
    identity = self._get_param("EmailIdentity")
    sesv2_backends[self.current_account][self.region].get_email_identity(email_identity=identity)
    with STATE.lock:
        STATE.mail_from[_key(self, identity)] = {
            "MailFromDomain": self._get_param("MailFromDomain"),
            "MailFromDomainStatus": "SUCCESS",
            "BehaviorOnMxFailure": self._get_param("BehaviorOnMxFailure") or "USE_DEFAULT_VALUE",
        }
    return "{}"


def _dkim(attributes: dict[str, Any], identity_type: str) -> dict[str, Any]:
    dkim = dict(attributes or {})
    stamp = dkim.get("LastKeyGenerationTimestamp")
    if isinstance(stamp, str):
        dkim["LastKeyGenerationTimestamp"] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    if identity_type == "DOMAIN":
        dkim.setdefault("Tokens", list(DKIM_TOKENS))
        dkim["Status"] = "SUCCESS"
    return dkim


def _identity_response(original: Any) -> Any:
    def get_response_object(self: EmailIdentity) -> dict[str, Any]:
        body: dict[str, Any] = dict(original.fget(self))
        body["DkimAttributes"] = _dkim(body.get("DkimAttributes") or {}, self.identity_type)
        body["VerifiedForSendingStatus"] = True
        return body

    return property(get_response_object)


def _create_email_identity(original: Callable[[SESV2Response], str]) -> Callable[[SESV2Response], str]:
    def create_email_identity(self: SESV2Response) -> str:
        body = json.loads(original(self))
        body["DkimAttributes"] = _dkim(body.get("DkimAttributes") or {}, body.get("IdentityType", ""))
        body["VerifiedForSendingStatus"] = True
        return json.dumps(body)

    return create_email_identity


def _get_email_identity(original: Callable[[SESV2Response], str]) -> Callable[[SESV2Response], str]:
    def get_email_identity(self: SESV2Response) -> str:
        body = json.loads(original(self))
        with STATE.lock:
            mail_from = STATE.mail_from.get(_key(self, self._get_param("EmailIdentity")))
        if mail_from:
            body["MailFromAttributes"] = mail_from
        return json.dumps(body)

    return get_email_identity


def _config_set_v2(original: Callable[[ConfigurationSet], dict[str, Any]]) -> Any:
    def to_dict_v2(self: ConfigurationSet) -> dict[str, Any]:
        body = original(self)
        sending = body.get("SendingOptions") or {}
        enabled = sending.get("SendingEnabled", True)
        if isinstance(enabled, dict):
            enabled = enabled.get("SendingEnabled", True)
        body["SendingOptions"] = {"SendingEnabled": bool(enabled)}
        for block in ("TrackingOptions", "VdmOptions"):
            if not _has_value(body.get(block)):
                body.pop(block, None)
        return {k: v for k, v in body.items() if v is not None}

    return to_dict_v2


def _has_value(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_value(v) for v in value.values())
    return value not in (None, "", [], {})


def _identity_tags(original: Callable[..., list[dict[str, str]]]) -> Callable[..., list[dict[str, str]]]:
    def list_tags_for_resource(self: Any, resource_arn: str) -> list[dict[str, str]]:
        return original(self, resource_arn.replace(":identity/", ":email-identity/", 1))

    return list_tags_for_resource


def _send_email(original: Callable[[SESV2Response], str]) -> Callable[[SESV2Response], str]:
    def send_email(self: SESV2Response) -> str:
        answer = original(self)
        params = json.loads(self.body)
        raw = params.get("Content", {}).get("Raw", {}).get("Data", "")
        import base64

        destination = params.get("Destination", {})
        record = SentEmail(
            region=self.region,
            message_id=json.loads(answer)["MessageId"],
            source=params.get("FromEmailAddress", ""),
            destinations=tuple(destination.get("ToAddresses", [])),
            raw=base64.b64decode(raw).decode() if raw else "",
            tags={t["Name"]: t["Value"] for t in params.get("EmailTags", [])},
            configuration_set=params.get("ConfigurationSetName"),
            sent_at=datetime.now(UTC),
        )
        with STATE.lock:
            STATE.sent.append(record)
        return answer

    return send_email


# --- SNS -> Lambda ---------------------------------------------------------------------------------


def _subscription_publish(original: Callable[..., None]) -> Callable[..., None]:
    def publish(
        self: Subscription,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.protocol != "lambda":
            original(
                self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs
            )
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if STATE.lambda_sink is None:
            raise RuntimeError("SNS has a Lambda subscription but no Lambda service is attached")
        STATE.lambda_sink(
            self.arn, self.topic.arn, self.endpoint, message_id, message, subject, message_attributes
        )

    return publish


# --- Lambda ---------------------------------------------------------------------------------------

_KEPT_CONFIG = ("DeadLetterConfig", "LoggingConfig")


def _function_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(self, account_id, spec, *args, **kwargs)
        self.stack_kept = {key: spec[key] for key in _KEPT_CONFIG if spec.get(key)}

    return init


def _function_configuration(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        kept = getattr(self, "stack_kept", {})
        config["LoggingConfig"] = {
            "LogFormat": "Text",
            "LogGroup": f"/aws/lambda/{self.function_name}",
            **kept.get("LoggingConfig", {}),
        }
        if kept.get("DeadLetterConfig", {}).get("TargetArn"):
            config["DeadLetterConfig"] = kept["DeadLetterConfig"]
        return config

    return get_configuration


def _function_update(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        kept = getattr(self, "stack_kept", {})
        for key in _KEPT_CONFIG:
            if key in config_updates:
                kept[key] = config_updates[key]
        self.stack_kept = kept
        return original(self, config_updates)

    return update_configuration


# --- SES receiving --------------------------------------------------------------------------------


def _delete_receipt_rule(self: SESResponse) -> Any:
    from moto.core.responses import EmptyResult
    from moto.ses.exceptions import RuleSetDoesNotExist

    rule_set = self.backend.receipt_rule_set.get(self._get_param("RuleSetName"))
    if rule_set is None:
        raise RuleSetDoesNotExist(f"Rule set does not exist: {self._get_param('RuleSetName')}")
    rule_set.rules = [r for r in rule_set.rules if r.get("Name") != self._get_param("RuleName")]
    return EmptyResult()


# --- SQS -----------------------------------------------------------------------------------------


def _queue_attributes(original: Any) -> Any:
    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = dict(original.fget(self))
        for name in ("Policy", "RedrivePolicy", "RedriveAllowPolicy"):  # unset: absent, as on AWS
            if not result.get(name):
                result.pop(name, None)
        if result.get("RedrivePolicy"):
            result["RedrivePolicy"] = json.dumps(json.loads(result["RedrivePolicy"]), separators=(",", ":"))
        return result

    return property(attributes)


# --- Budgets -------------------------------------------------------------------------------------


def _describe_subscribers(self: BudgetsResponse) -> str:
    wanted = self._get_param("Notification") or {}
    budget = budgets_backends[self.current_account][self.partition].budgets[self._get_param("AccountId")][
        self._get_param("BudgetName")
    ]
    subscribers = next(
        (
            list(n.subscribers)
            for n in budget.notifications
            if all(n.details.get(k) == v for k, v in wanted.items())
        ),
        [],
    )
    return json.dumps({"Subscribers": subscribers, "NextToken": None})


def _create_budget(original: Callable[[BudgetsResponse], str]) -> Callable[[BudgetsResponse], str]:
    def create_budget(self: BudgetsResponse) -> str:
        answer = original(self)
        name = (self._get_param("Budget") or {}).get("BudgetName", "")
        with STATE.lock:
            STATE.budget_tags[(self._get_param("AccountId"), name)] = list(
                self._get_param("ResourceTags") or []
            )
        return answer

    return create_budget


def _list_budget_tags(self: BudgetsResponse) -> str:
    arn = str(self._get_param("ResourceARN") or "")  # arn:aws:budgets::ACCOUNT:budget/NAME
    account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
    with STATE.lock:
        tags = STATE.budget_tags.get((account, name), [])
    return json.dumps({"ResourceTags": tags})


# --- SNS -----------------------------------------------------------------------------------------


def _topic_attributes(original: Callable[[SNSResponse], Any]) -> Callable[[SNSResponse], Any]:
    def get_topic_attributes(self: SNSResponse) -> Any:
        answer = original(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        answer.result["Attributes"]["SignatureVersion"] = str(getattr(topic, "signature_version", "1"))
        return answer

    return get_topic_attributes


# --- IAM: the resource of a request, where moto leaves it '*' -------------------------------------


def _dynamodb_resource(self: DynamoHandler) -> str:
    try:
        body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
    except ValueError:
        return "*"
    table = body.get("TableName")
    if not table:
        items = body.get("RequestItems") or {}
        table = next(iter(items), None)
    if not table:
        for item in body.get("TransactItems") or []:
            for operation in item.values():
                table = operation.get("TableName") or table
    if not table:
        return "*"
    arn = f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"
    return f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn


def _ssm_resource(self: SimpleSystemManagerResponse) -> str:
    name = json.loads(self.body or "{}").get("Name") if isinstance(self.body, str | bytes) else None
    if not name:
        return "*"
    return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter/{str(name).lstrip('/')}"


def _sns_resource(self: SNSResponse) -> str:
    return str(self._get_param("TopicArn") or self._get_param("TargetArn") or "*")


_SESV2_PATHS = (  # moto's catch-all "/v2/.*" route does not match paths this deep
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations/"
    "(?P<EventDestinationName>[^/]+)$",
    "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/mail-from$",
)


def _signed_request(self: IAMRequestBase) -> AWSRequest:
    """The request as it was signed: its raw body (empty for a GET), not moto's parsed parameters."""
    signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed, self._headers)
    # A form body was parsed by then (raw body empty): moto's own re-encoding of it is right for those.
    body = self._body if self._body or self._method in ("GET", "HEAD", "DELETE") else self._data
    request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


def _send_email_resources(request: IAMRequest) -> list[str]:
    body = json.loads(request._body or b"{}")
    prefix = f"arn:aws:ses:{request._region}:{request.account_id}"
    sender = str(body.get("FromEmailAddress", "")).rsplit("<", 1)[-1].rstrip(">").strip()
    resources = [f"{prefix}:identity/{sender.rsplit('@', 1)[-1]}"] if sender else []
    if body.get("ConfigurationSetName"):
        resources.append(f"{prefix}:configuration-set/{body['ConfigurationSetName']}")
    return resources or ["*"]


_SQS_BATCH = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _check_action_permitted(original: Callable[[IAMRequest, str], None]) -> Callable[[IAMRequest, str], None]:
    def check_action_permitted(self: IAMRequest, resource: str) -> None:
        if self._action == "ses:SendEmail" and self._path.startswith("/v2/"):
            for arn in _send_email_resources(self):
                original(self, arn)
            return
        if self._action in _SQS_BATCH:
            whole, self._action = self._action, _SQS_BATCH[self._action]
            try:
                original(self, resource)
            finally:
                self._action = whole
            return
        if self._action not in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
            original(self, resource)
            return
        body = json.loads(self._body or b"{}")
        whole = self._action
        try:
            for item in body.get("TransactItems", []):
                for kind, operation in item.items():
                    self._action = _TRANSACT_ACTIONS[kind]
                    original(
                        self,
                        f"arn:aws:dynamodb:{self._region}:{self.account_id}:table/{operation['TableName']}",
                    )
        finally:
            self._action = whole

    return check_action_permitted


def _raise_access_denied(original: Callable[[IAMRequest], None]) -> Callable[[IAMRequest], None]:
    def raise_access_denied(self: IAMRequest) -> None:
        if self._headers.get("X-Amz-Target"):  # werkzeug headers: case-insensitive
            raise JsonRESTError(
                "AccessDeniedException",
                f"User: {self._access_key.arn} is not authorized to perform: {self._action}",
            )
        original(self)

    return raise_access_denied


def _no_moto_event_source_mappings() -> property:
    return property(lambda self: {}, lambda self, value: None)


def _condition_met(operator: str, expected: Any, actual: list[str]) -> bool:
    """One condition block entry, with IAM's semantics for a missing key (not met, unless IfExists)."""
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if not actual:
        return if_exists
    wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
    if base == "Bool":
        return any(a.lower() == w.lower() for a in actual for w in wanted)
    if base in ("StringEquals", "ArnEquals"):
        return any(a == w for a in actual for w in wanted)
    if base == "StringNotEquals":
        return all(a != w for a in actual for w in wanted)
    if base in ("StringLike", "ArnLike"):
        import fnmatch

        return any(fnmatch.fnmatchcase(a, w) for a in actual for w in wanted)
    raise NotImplementedError(f"IAM condition operator {operator} is not evaluated by the stack test's shim")


def _statement_conditions_met(statement: dict[str, Any], incoming: dict[str, str] | None) -> bool:
    context = {k.lower(): v for k, v in (incoming or {}).items()}
    context.setdefault("aws:securetransport", "true" if getattr(REQUEST, "secure", False) else "false")
    for operator, entries in (statement.get("Condition") or {}).items():
        for key, expected in entries.items():
            value = context.get(key.lower())
            if not _condition_met(operator, expected, [value] if value is not None else []):
                return False
    return True


def _principal_matches(statement: dict[str, Any], principal: str) -> bool:
    expected = statement.get("Principal")
    if not expected:
        return True
    if expected == "*":
        return True
    aws = expected.get("AWS") if isinstance(expected, dict) else None
    if aws is None:
        return False
    return aws in ("*", principal) or (isinstance(aws, list) and principal in aws)


def _statement_permits(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> PermissionResult:
    """IAM's rule for one statement: it applies when its action, principal, resource and conditions
    all match; then Allow permits and Deny denies; otherwise it says nothing."""
    statement = self._statement
    if "NotAction" in statement:
        concerned = not self._check_element_matches("NotAction", action)
    else:
        concerned = self._check_element_matches("Action", action)
    if not concerned:
        return PermissionResult.NEUTRAL
    if self.is_unknown_principal(statement.get("Principal")):
        return PermissionResult.NEUTRAL
    if principal and not _principal_matches(statement, principal):
        return PermissionResult.NEUTRAL
    if not _statement_conditions_met(statement, incoming_condition_values):
        return PermissionResult.NEUTRAL
    if statement.get("Resource") and not self._check_element_matches("Resource", resource):
        return PermissionResult.NEUTRAL
    return PermissionResult.PERMITTED if statement["Effect"] == "Allow" else PermissionResult.DENIED


_DYNAMODB = threading.Lock()


def _one_at_a_time(original: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB:
            return original(self)

    return call_action


def install() -> ShimState:
    """Apply every gap's fill to the moto in this process (before the server's first request)."""
    paths = dict(sesv2_urls.url_paths)
    for path in _SESV2_PATHS:
        paths[path] = SESV2Response.dispatch
    _patch(sesv2_urls, "url_paths", paths)
    STATE.event_destinations.clear()
    STATE.mail_from.clear()
    STATE.sent.clear()
    STATE.budget_tags.clear()
    STATE.lambda_sink = None
    _patch(SESResponse, "delete_receipt_rule", _delete_receipt_rule)
    _patch(LambdaFunction, "__init__", _function_init(LambdaFunction.__init__))
    _patch(LambdaFunction, "get_configuration", _function_configuration(LambdaFunction.get_configuration))
    _patch(LambdaFunction, "update_configuration", _function_update(LambdaFunction.update_configuration))
    _patch(Subscription, "publish", _subscription_publish(Subscription.publish))
    _patch(SESV2Response, "create_configuration_set_event_destination", _create_event_destination)
    _patch(SESV2Response, "get_configuration_set_event_destinations", _get_event_destinations)
    _patch(SESV2Response, "update_configuration_set_event_destination", _update_event_destination)
    _patch(SESV2Response, "delete_configuration_set_event_destination", _delete_event_destination)
    _patch(SESV2Response, "put_email_identity_mail_from_attributes", _put_mail_from)
    _patch(SESV2Response, "get_email_identity", _get_email_identity(SESV2Response.get_email_identity))
    _patch(
        SESV2Response, "create_email_identity", _create_email_identity(SESV2Response.create_email_identity)
    )
    _patch(SESV2Response, "send_email", _send_email(SESV2Response.send_email))
    _patch(EmailIdentity, "get_response_object", _identity_response(EmailIdentity.get_response_object))
    _patch(ConfigurationSet, "to_dict_v2", _config_set_v2(ConfigurationSet.to_dict_v2))
    _patch(Queue, "BASE_ATTRIBUTES", [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"])
    _patch(Queue, "redrive_allow_policy", None)
    _patch(Queue, "attributes", _queue_attributes(Queue.attributes))
    _patch(Queue, "lambda_event_source_mappings", _no_moto_event_source_mappings())
    _patch(BudgetsResponse, "describe_subscribers_for_notification", _describe_subscribers)
    _patch(BudgetsResponse, "list_tags_for_resource", _list_budget_tags)
    _patch(BudgetsResponse, "create_budget", _create_budget(BudgetsResponse.create_budget))
    _patch(SNSResponse, "get_topic_attributes", _topic_attributes(SNSResponse.get_topic_attributes))
    _patch(SESV2Backend, "list_tags_for_resource", _identity_tags(SESV2Backend.list_tags_for_resource))
    _patch(IAMRequestBase, "_create_aws_request", _signed_request)
    _patch(IAMPolicyStatement, "is_action_permitted", _statement_permits)
    _patch(IAMRequest, "check_action_permitted", _check_action_permitted(IAMRequest.check_action_permitted))
    _patch(IAMRequest, "_raise_access_denied", _raise_access_denied(IAMRequest._raise_access_denied))
    _patch(DynamoHandler, "_determine_resource", _dynamodb_resource)
    _patch(DynamoHandler, "call_action", _one_at_a_time(DynamoHandler.call_action))
    _patch(SNSResponse, "_determine_resource", _sns_resource)
    _patch(SimpleSystemManagerResponse, "_determine_resource", _ssm_resource)
    return STATE


def uninstall() -> None:
    while _undo:
        _undo.pop()()


@contextmanager
def installed() -> Iterator[ShimState]:
    try:
        yield install()
    finally:
        uninstall()
