"""The composition root: the one place that knows which adapter implements which port.

`LocalAdapters` runs everything on one machine (SQLite, simulated SES or SMTP, files); `AwsAdapters`
provides the same names on DynamoDB, SQS, SES (with regional failover) and S3. Services never see the
container: they get their ports as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
from dependency_injector import containers, providers

from adapters import disposable_domains
from adapters.aws.clients import make_client
from adapters.aws.dynamodb_store import DynamoDbStateStore
from adapters.aws.failover import FailoverMailer
from adapters.aws.s3_archive import S3Archive
from adapters.aws.s3_objects import S3ObjectReader
from adapters.aws.ses_mailer import SesMailer
from adapters.aws.sqs_outbox import SqsOutbox
from adapters.aws.sqs_queue import SqsJobQueue
from adapters.aws.ssm_parameter import SsmSecrets
from adapters.clock import SystemClock
from adapters.dns_mx import (
    DnsMxResolver,
    OfflineDomainInspector,
    StaticMxResolver,
    make_resolver,
    nameservers,
)
from adapters.feedback_ingest import EventIngestor
from adapters.filesystem_archive import FilesystemArchive
from adapters.imap_mailbox import ImapMailboxes  # imapclient itself is imported on first read
from adapters.log_notifier import LogNotifier
from adapters.mail_routing import IdentityMailer
from adapters.secrets import SecretResolver
from adapters.simulated_ses import SimulatedSesMailer, SimulatorProfile
from adapters.smtp_mailer import SmtpMailer
from adapters.sqlite_queue import SqliteJobQueue
from adapters.sqlite_store import SqliteStateStore
from adapters.webhook_http import HttpWebhookTransport
from entrypoints.observability import aws_metrics, aws_notifier, local_metrics, local_notifier
from entrypoints.settings import Settings
from outreach_core.policies.config import AccountLimits, SendingPolicy
from outreach_core.policies.domain_health import Expectations
from outreach_core.ports import Clock, DomainInspector, MessageSink, SecretSource, WebhookTransport
from outreach_core.records import Records
from outreach_core.services.admin import AdminService
from outreach_core.services.audit_log import AuditLog
from outreach_core.services.deadletters import DeadLetterService
from outreach_core.services.domain_health import DomainHealthService, MailFrom
from outreach_core.services.feedback import FeedbackService, ReplyService
from outreach_core.services.forecast import ForecastService
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.hygiene import ListHygiene
from outreach_core.services.inbox import InboxService
from outreach_core.services.leads import LeadImportService
from outreach_core.services.lifecycle import LeadActions
from outreach_core.services.limiter import SendLimiter
from outreach_core.services.monitoring import QueueMonitor
from outreach_core.services.planner import PlannerConfig, PlannerService
from outreach_core.services.providers import ProviderDirectory
from outreach_core.services.sender import SenderConfig, SenderService
from outreach_core.services.status import StatusService
from outreach_core.services.suppression import SuppressionService
from outreach_core.services.templates import TemplateService
from outreach_core.services.timeline import LeadTimeline
from outreach_core.services.uncertain import UncertainJobs
from outreach_core.services.unsubscribe import UnsubscribeService
from outreach_core.services.webhooks import WebhookConfig, WebhookPublisher, WebhookService
from outreach_core.telemetry import MeteredMailProvider

EVENT_QUEUE_MAX_DELAY_S = 7 * 24 * 3600  # the local event channel stands in for SNS: it may hold events long


def _domain_inspector(settings: Settings) -> DomainInspector:
    if settings.mx_resolver == "offline":
        return OfflineDomainInspector()
    from adapters.domain_auth import CheckdmarcInspector  # CLI only: checkdmarc stays out of the Lambdas

    return CheckdmarcInspector(nameservers(settings.dns_nameservers))


def _through_ses(settings: Settings) -> bool:
    return settings.backend == "aws" or settings.mailer == "simulator"


def _expectations(settings: Settings) -> Expectations:
    """What a sending domain needs for the way this deployment sends (policies.domain_health)."""
    if _through_ses(settings):
        return Expectations(
            route="ses",
            spf_include=settings.spf_include or "amazonses.com",
            mail_from_mx=f"feedback-smtp.{settings.aws_region}.amazonses.com",
        )
    return Expectations(route="smtp", spf_include=settings.spf_include, mail_from_mx="")


def _mail_from(settings: Settings) -> MailFrom:
    if _through_ses(settings):
        return MailFrom(f"{settings.mail_from_subdomain or 'bounce-' + settings.aws_region}.{{domain}}")
    return MailFrom("{domain}")


def _own_accounts_refusal(settings: Settings) -> str:
    """Identities' own SMTP accounts send real mail: never with links signed by the built-in secret."""
    if not settings.builtin_secret:
        return ""
    return (
        "OUTREACH_UNSUBSCRIBE_SECRET is not set: identities with their own SMTP account send real mail, "
        f"which must not carry links signed with the built-in development secret (set it in "
        f"{settings.workspace / 'outreach.env'}; `outreach init` writes a fresh one)"
    )


class LocalAdapters(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    store = providers.Singleton(
        SqliteStateStore, path=settings.provided.db_path, exclusive=settings.provided.sqlite_exclusive
    )
    job_queue = providers.Singleton(
        SqliteJobQueue,
        path=settings.provided.db_path,
        name="jobs",
        clock=clock,
        visibility_timeout=settings.provided.sender_lease_s,
        max_receives=settings.provided.max_receives,
    )
    event_queue = providers.Singleton(
        SqliteJobQueue,
        path=settings.provided.db_path,
        name="events",
        clock=clock,
        visibility_timeout=60,
        max_delay_seconds=EVENT_QUEUE_MAX_DELAY_S,
    )
    simulator_profile = providers.Object(SimulatorProfile())
    simulator = providers.Singleton(
        SimulatedSesMailer, events=event_queue, clock=clock, profile=simulator_profile
    )
    smtp = providers.Singleton(
        SmtpMailer,
        host=settings.provided.smtp_host,
        port=settings.provided.smtp_port,
        clock=clock,
        username=settings.provided.smtp_username,
        password=settings.provided.smtp_password.get_secret_value.call(),
        starttls=settings.provided.smtp_starttls,
        implicit_tls=settings.provided.smtp_implicit_tls,
        timeout=settings.provided.smtp_timeout_s,
    )
    secrets = providers.Singleton(SecretResolver)  # env: and file: references; ssm: on AWS only
    # Each identity's own SMTP account when it has one, else the workspace's mailer.
    mailer = providers.Singleton(
        IdentityMailer,
        default=providers.Selector(settings.provided.mailer, simulator=simulator, smtp=smtp),
        clock=clock,
        secrets=secrets,
        timeout=settings.provided.smtp_timeout_s,
        refuse_own_accounts=providers.Callable(_own_accounts_refusal, settings),
    )
    webhook_queue = providers.Singleton(
        SqliteJobQueue,
        path=settings.provided.db_path,
        name="webhooks",
        clock=clock,
        visibility_timeout=60,
        max_receives=5,
    )
    webhook_transport = providers.Singleton(HttpWebhookTransport, timeout=settings.provided.webhook_timeout_s)
    mailbox_for = providers.Singleton(
        ImapMailboxes, secrets=secrets, clock=clock, timeout=settings.provided.imap_timeout_s
    )
    archive = providers.Singleton(FilesystemArchive, root=settings.provided.archive_root)
    log_notifier = providers.Singleton(LogNotifier)  # the log channel (its `sent` list shows what went out)
    notifier = providers.Singleton(
        local_notifier, settings=settings, store=store, clock=clock, log=log_notifier
    )
    metrics = providers.Singleton(local_metrics)
    mx_resolver = providers.Selector(
        settings.provided.mx_resolver,
        dns=providers.Singleton(
            DnsMxResolver, resolver=providers.Callable(make_resolver, settings.provided.dns_nameservers)
        ),
        offline=providers.Singleton(StaticMxResolver),
    )
    disposable_domains = providers.Singleton(disposable_domains.load)
    domain_inspector = providers.Singleton(_domain_inspector, settings)
    # Local replies arrive with their content (an SNS action, POST /sns): nothing to read from S3.
    inbound_reader: providers.Provider[None] = providers.Object(None)


def _publisher(
    records: Records, clock: Clock, queue: Callable[[], MessageSink], settings: Settings
) -> WebhookPublisher | None:
    """None on AWS without a webhook queue (webhooks off in Terraform): nothing is published."""
    if settings.backend == "aws" and not settings.webhook_queue_url:
        return None
    return WebhookPublisher(records, clock, queue())


def _webhooks(
    records: Records,
    clock: Clock,
    queue: Callable[[], MessageSink],
    transport: WebhookTransport,
    secrets: SecretSource,
    settings: Settings,
) -> WebhookService | None:
    """None on AWS without a webhook queue (webhooks off in Terraform): nothing is published."""
    if settings.backend == "aws" and not settings.webhook_queue_url:
        return None
    return WebhookService(
        records, clock, queue(), transport, secrets, WebhookConfig(max_attempts=settings.webhook_max_attempts)
    )


def _imap_poller(services: Any, adapters: Any, settings: Settings) -> Any:
    from adapters.imap_poller import ImapPoller

    return ImapPoller(
        services.records(),
        adapters.clock(),
        adapters.archive(),
        services.replies(),
        services.feedback(),
        services.inbox(),
        adapters.mailbox_for(),
        batch=settings.imap_batch,
    )


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


def _sending_policy(max_send_rate: float, max_24h_send: int) -> SendingPolicy:
    return SendingPolicy(account=AccountLimits(max_send_rate=max_send_rate, max_24h_send=max_24h_send))


def _mail_route(settings: Settings) -> str:
    return "failover" if settings.aws_failover_region else "single"


def _inbound_reader(client: object, settings: Settings) -> S3ObjectReader | None:
    """Replies the SES receipt rule stored in S3; only that bucket and prefix are ever read."""
    if not settings.inbound_bucket:
        return None
    return S3ObjectReader(client, buckets={settings.inbound_bucket}, prefix=settings.inbound_prefix)


class AwsAdapters(containers.DeclarativeContainer):
    """The same provider names as LocalAdapters, on AWS. Clients are built once per process (a Lambda
    cold start); `aws_endpoint_url` points them all at a moto server in tests."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    session = providers.Singleton(boto3.session.Session, region_name=settings.provided.aws_region)
    _region = settings.provided.aws_region
    _endpoint = settings.provided.aws_endpoint_url
    dynamodb_client = providers.Singleton(make_client, session, "dynamodb", _region, _endpoint)
    sqs_client = providers.Singleton(make_client, session, "sqs", _region, _endpoint)
    s3_client = providers.Singleton(make_client, session, "s3", _region, _endpoint)
    cloudwatch_client = providers.Singleton(make_client, session, "cloudwatch", _region, _endpoint)
    sns_client = providers.Singleton(make_client, session, "sns", _region, _endpoint)
    ses_client = providers.Singleton(make_client, session, "sesv2", _region, _endpoint)
    ses_failover_client = providers.Singleton(
        make_client, session, "sesv2", settings.provided.aws_failover_region, _endpoint
    )

    store = providers.Singleton(
        DynamoDbStateStore, client=dynamodb_client, table_name=settings.provided.table_name
    )
    job_queue = providers.Singleton(
        SqsJobQueue,
        client=sqs_client,
        queue_url=settings.provided.job_queue_url,
        dlq_url=settings.provided.job_dlq_url,
        clock=clock,
        metrics_client=cloudwatch_client.provider,
    )
    log_notifier = providers.Singleton(LogNotifier)
    # The one notifier of the process: the guard, the queue monitor and the failover breaker all alert
    # through it (the log, and the SNS alert topic when set), rate-limited through the store.
    notifier = providers.Singleton(
        aws_notifier, settings=settings, store=store, clock=clock, sns=sns_client, log=log_notifier
    )
    metrics = providers.Singleton(aws_metrics, settings=settings, clock=clock)  # EMF lines on stdout
    ses_primary = providers.Singleton(
        SesMailer,
        client=ses_client,
        region=_region,
        clock=clock,
        configuration_set=settings.provided.ses_configuration_set,
    )
    ses_secondary = providers.Singleton(
        SesMailer,
        client=ses_failover_client,
        region=settings.provided.aws_failover_region,
        clock=clock,
        configuration_set=settings.provided.ses_configuration_set,
    )
    ssm_client = providers.Singleton(make_client, session, "ssm", _region, _endpoint)
    # env: and file: references, and ssm: ones (SecureStrings, cached a few minutes).
    secrets = providers.Singleton(
        SecretResolver, ssm=providers.Singleton(SsmSecrets, client=ssm_client, clock=clock)
    )
    # Send only: publishers and the webhook function's retries (the event source mapping receives).
    webhook_queue = providers.Singleton(
        SqsOutbox, client=sqs_client, queue_url=settings.provided.webhook_queue_url
    )
    webhook_transport = providers.Singleton(HttpWebhookTransport, timeout=settings.provided.webhook_timeout_s)
    mailbox_for = providers.Singleton(
        ImapMailboxes, secrets=secrets, clock=clock, timeout=settings.provided.imap_timeout_s
    )
    ses_route = providers.Selector(
        providers.Callable(_mail_route, settings),
        single=ses_primary,
        failover=providers.Singleton(
            FailoverMailer,
            primary=ses_primary,
            secondary=ses_secondary,
            store=store,
            clock=clock,
            notifier=notifier,
            threshold=settings.provided.failover_threshold,
            cool_down=providers.Factory(_seconds, settings.provided.failover_cool_down_s),
        ),
    )
    # Each identity's own SMTP account when it has one (secrets from SSM), else SES.
    mailer = providers.Singleton(IdentityMailer, default=ses_route, clock=clock, secrets=secrets)
    mx_resolver = providers.Selector(
        settings.provided.mx_resolver,
        dns=providers.Singleton(
            DnsMxResolver, resolver=providers.Callable(make_resolver, settings.provided.dns_nameservers)
        ),
        offline=providers.Singleton(StaticMxResolver),
    )
    disposable_domains = providers.Singleton(disposable_domains.load)
    domain_inspector = providers.Singleton(_domain_inspector, settings)
    archive = providers.Singleton(
        S3Archive,
        client=s3_client,
        bucket=settings.provided.archive_bucket,
        kms_key_id=settings.provided.archive_kms_key_id,
    )
    inbound_reader = providers.Singleton(_inbound_reader, s3_client, settings)


class Services(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    adapters = providers.DependenciesContainer()

    records = providers.Singleton(Records, store=adapters.store)
    webhook_publisher = providers.Singleton(
        _publisher,
        records=records,
        clock=adapters.clock,
        queue=adapters.webhook_queue.provider,
        settings=settings,
    )
    webhooks = providers.Singleton(
        _webhooks,
        records=records,
        clock=adapters.clock,
        queue=adapters.webhook_queue.provider,
        transport=adapters.webhook_transport,
        secrets=adapters.secrets,
        settings=settings,
    )
    sending_policy = providers.Singleton(
        _sending_policy, settings.provided.ses_max_send_rate, settings.provided.ses_max_24h_send
    )
    limiter = providers.Singleton(
        SendLimiter,
        records=records,
        policy=sending_policy,
        directory=providers.Singleton(ProviderDirectory, resolver=adapters.mx_resolver),
    )
    guard = providers.Singleton(
        ReputationGuard,
        records=records,
        clock=adapters.clock,
        notifier=adapters.notifier,
        limiter=limiter,
        webhooks=webhook_publisher,
    )
    suppression = providers.Singleton(SuppressionService, records=records, webhooks=webhook_publisher)
    inbox = providers.Singleton(
        InboxService,
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        webhooks=webhook_publisher,
    )
    hygiene = providers.Singleton(
        ListHygiene, records=records, resolver=adapters.mx_resolver, disposable=adapters.disposable_domains
    )
    admin = providers.Factory(AdminService, records=records, clock=adapters.clock, webhooks=webhook_publisher)
    domain_health = providers.Factory(
        DomainHealthService,
        records=records,
        clock=adapters.clock,
        inspector=adapters.domain_inspector,
        expectations=providers.Callable(_expectations, settings),
        mail_from=providers.Callable(_mail_from, settings),
    )
    leads = providers.Factory(LeadImportService, records=records, clock=adapters.clock, hygiene=hygiene)
    lead_actions = providers.Factory(LeadActions, records=records, clock=adapters.clock)
    templates = providers.Factory(
        TemplateService,
        records=records,
        clock=adapters.clock,
        unsubscribe_base_url=settings.provided.unsubscribe_base_url,
        secret=settings.provided.unsubscribe_secret.get_secret_value.call(),
    )
    forecast = providers.Factory(ForecastService, records=records, clock=adapters.clock, limiter=limiter)
    timeline = providers.Factory(LeadTimeline, records=records, clock=adapters.clock, limiter=limiter)
    planner = providers.Singleton(
        PlannerService,
        records=records,
        queue=adapters.job_queue,
        clock=adapters.clock,
        config=providers.Factory(
            PlannerConfig, horizon=providers.Factory(_seconds, settings.provided.planner_horizon_s)
        ),
        limiter=limiter,
        guard=guard,
        hygiene=hygiene,
    )
    metered_mailer = providers.Singleton(MeteredMailProvider, inner=adapters.mailer, metrics=adapters.metrics)
    sender = providers.Singleton(
        SenderService,
        records=records,
        queue=adapters.job_queue,
        mailer=metered_mailer,
        clock=adapters.clock,
        guard=guard,
        suppression=suppression,
        config=providers.Factory(
            SenderConfig,
            unsubscribe_base_url=settings.provided.unsubscribe_base_url,
            # Never the built-in secret for real mail: BuiltInSecretError instead.
            unsubscribe_secret=settings.provided.sending_secret.call(),
            lease=providers.Factory(_seconds, settings.provided.sender_lease_s),
            max_attempts=settings.provided.max_attempts,
            max_receives=settings.provided.max_receives,
        ),
        limiter=limiter,
        metrics=adapters.metrics,
    )
    feedback = providers.Singleton(
        FeedbackService,
        records=records,
        clock=adapters.clock,
        guard=guard,
        suppression=suppression,
        metrics=adapters.metrics,
    )
    replies = providers.Singleton(
        ReplyService,
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        secrets=settings.provided.unsubscribe_secrets,
        inbox=inbox,
    )
    unsubscribe = providers.Singleton(
        UnsubscribeService,
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        secrets=settings.provided.unsubscribe_secrets,
    )
    uncertain = providers.Factory(UncertainJobs, records=records, clock=adapters.clock)
    audit_log = providers.Factory(AuditLog, records=records, clock=adapters.clock, archive=adapters.archive)
    ingestor = providers.Singleton(
        EventIngestor,
        archive=adapters.archive,
        feedback=feedback,
        replies=replies,
        clock=adapters.clock,
        inbound_reader=adapters.inbound_reader,
        metrics=adapters.metrics,
        notifier=adapters.notifier,
    )
    status = providers.Factory(
        StatusService, records=records, clock=adapters.clock, guard=guard, queue=adapters.job_queue
    )
    queue_monitor = providers.Factory(
        QueueMonitor,
        queue=adapters.job_queue,
        clock=adapters.clock,
        metrics=adapters.metrics,
        notifier=adapters.notifier,
    )
    dead_letters = providers.Factory(
        DeadLetterService, records=records, queue=adapters.job_queue, clock=adapters.clock
    )


class Application(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    adapters = providers.Container(LocalAdapters, settings=settings)
    services = providers.Container(Services, settings=settings, adapters=adapters)


class AwsApplication(Application):
    adapters = providers.Container(AwsAdapters, settings=Application.settings)  # type: ignore[arg-type]
    services = providers.Container(Services, settings=Application.settings, adapters=adapters)


def imap_poller(app: Application) -> Any:
    """The IMAP poller (adapters.imap_poller) of this application, built on first use."""
    return _imap_poller(app.services, app.adapters, app.settings())


def build(settings: Settings | None = None) -> Application:
    """The application for these settings (from the environment when omitted)."""
    settings = settings or Settings()
    if settings.backend == "aws":
        return AwsApplication(settings=settings)
    settings.workspace.mkdir(parents=True, exist_ok=True)
    return Application(settings=settings)
