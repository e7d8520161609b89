"""The composition root: the one place that knows which adapter implements which port.

`LocalAdapters` runs everything on one machine (SQLite, simulated SES or SMTP, files); `AwsAdapters`
provides the same names on DynamoDB, SQS, SES (with regional failover) and S3. Services never see the
container: they get their ports as arguments.

Providers name what they build by dotted path (`lazy`), imported when first built: a process imports
only what it wires. A Lambda function's cold start then loads its own service and adapters, not every
function's (the sender never imports the feedback ingestor, the admin services or SQLite), and the CLI
loads no boto3 unless it talks to AWS. scripts/package_lambda.py's smoke test imports every module in
the zip, so a lazily built one that cannot import still fails the build.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from entrypoints.settings import Settings

if TYPE_CHECKING:
    from adapters.aws.s3_objects import S3ObjectReader
    from outreach_core.policies.config import SendingPolicy
    from outreach_core.policies.domain_health import Expectations
    from outreach_core.ports import Clock, DomainInspector, MessageSink, SecretSource, WebhookTransport
    from outreach_core.records import Records
    from outreach_core.services.domain_health import MailFrom
    from outreach_core.services.webhooks import WebhookPublisher, WebhookService


LAZY_TARGETS: list[str] = []  # every path named below: the package smoke test resolves each one


def lazy(path: str) -> Callable[..., Any]:
    """`package.module.name`, imported on the first call (then as cheap as the name itself)."""
    LAZY_TARGETS.append(path)
    module, _, name = path.rpartition(".")
    target: Callable[..., Any] | None = None

    def build(*args: Any, **kwargs: Any) -> Any:
        nonlocal target
        if target is None:
            target = getattr(importlib.import_module(module), name)
        return target(*args, **kwargs)

    build.__qualname__ = build.__name__ = f"lazy({path})"
    return build


_client = lazy("adapters.aws.clients.make_client")
# Clients a function rarely calls (alerts, SMTP identities' secrets, the failover region): on first use.
_deferred_client = lazy("adapters.aws.clients.DeferredClient")

EVENT_QUEUE_MAX_DELAY_S = 7 * 24 * 3600  # the local event channel stands in for SNS: it may hold events long


def _domain_inspector(settings: Settings) -> DomainInspector:
    from adapters.dns_mx import OfflineDomainInspector, nameservers

    if settings.mx_resolver == "offline":
        return OfflineDomainInspector()
    from adapters.domain_auth import CheckdmarcInspector  # CLI only: checkdmarc stays out of the Lambdas

    return CheckdmarcInspector(nameservers(settings.dns_nameservers))


def _through_ses(settings: Settings) -> bool:
    return settings.backend == "aws" or settings.mailer == "simulator"


def _expectations(settings: Settings) -> Expectations:
    """What a sending domain needs for the way this deployment sends (policies.domain_health)."""
    from outreach_core.policies.domain_health import Expectations

    if _through_ses(settings):
        return Expectations(
            route="ses",
            spf_include=settings.spf_include or "amazonses.com",
            mail_from_mx=f"feedback-smtp.{settings.aws_region}.amazonses.com",
        )
    return Expectations(route="smtp", spf_include=settings.spf_include, mail_from_mx="")


def _mail_from(settings: Settings) -> MailFrom:
    from outreach_core.services.domain_health import MailFrom

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

    clock = providers.Singleton(lazy("adapters.clock.SystemClock"))
    store = providers.Singleton(
        lazy("adapters.sqlite_store.SqliteStateStore"),
        path=settings.provided.db_path,
        exclusive=settings.provided.sqlite_exclusive,
    )
    job_queue = providers.Singleton(
        lazy("adapters.sqlite_queue.SqliteJobQueue"),
        path=settings.provided.db_path,
        name="jobs",
        clock=clock,
        visibility_timeout=settings.provided.sender_lease_s,
        max_receives=settings.provided.max_receives,
    )
    event_queue = providers.Singleton(
        lazy("adapters.sqlite_queue.SqliteJobQueue"),
        path=settings.provided.db_path,
        name="events",
        clock=clock,
        visibility_timeout=60,
        max_delay_seconds=EVENT_QUEUE_MAX_DELAY_S,
    )
    simulator_profile = providers.Singleton(lazy("adapters.simulated_ses.SimulatorProfile"))
    simulator = providers.Singleton(
        lazy("adapters.simulated_ses.SimulatedSesMailer"),
        events=event_queue,
        clock=clock,
        profile=simulator_profile,
    )
    smtp = providers.Singleton(
        lazy("adapters.smtp_mailer.SmtpMailer"),
        host=settings.provided.smtp_host,
        port=settings.provided.smtp_port,
        clock=clock,
        username=settings.provided.smtp_username,
        password=settings.provided.smtp_password.get_secret_value.call(),
        starttls=settings.provided.smtp_starttls,
        implicit_tls=settings.provided.smtp_implicit_tls,
        timeout=settings.provided.smtp_timeout_s,
    )
    secrets = providers.Singleton(
        lazy("adapters.secrets.SecretResolver")
    )  # env: and file: references; ssm: on AWS only
    # Each identity's own SMTP account when it has one, else the workspace's mailer.
    mailer = providers.Singleton(
        lazy("adapters.mail_routing.IdentityMailer"),
        default=providers.Selector(settings.provided.mailer, simulator=simulator, smtp=smtp),
        clock=clock,
        secrets=secrets,
        timeout=settings.provided.smtp_timeout_s,
        refuse_own_accounts=providers.Callable(_own_accounts_refusal, settings),
    )
    webhook_queue = providers.Singleton(
        lazy("adapters.sqlite_queue.SqliteJobQueue"),
        path=settings.provided.db_path,
        name="webhooks",
        clock=clock,
        visibility_timeout=60,
        max_receives=5,
    )
    webhook_transport = providers.Singleton(
        lazy("adapters.webhook_http.HttpWebhookTransport"), timeout=settings.provided.webhook_timeout_s
    )
    mailbox_for = providers.Singleton(
        lazy("adapters.imap_mailbox.ImapMailboxes"),
        secrets=secrets,
        clock=clock,
        timeout=settings.provided.imap_timeout_s,
    )
    archive = providers.Singleton(
        lazy("adapters.filesystem_archive.FilesystemArchive"), root=settings.provided.archive_root
    )
    log_notifier = providers.Singleton(
        lazy("adapters.log_notifier.LogNotifier")
    )  # the log channel (its `sent` list shows what went out)
    notifier = providers.Singleton(
        lazy("entrypoints.observability.local_notifier"),
        settings=settings,
        store=store,
        clock=clock,
        log=log_notifier,
    )
    metrics = providers.Singleton(lazy("entrypoints.observability.local_metrics"))
    mx_resolver = providers.Selector(
        settings.provided.mx_resolver,
        dns=providers.Singleton(
            lazy("adapters.dns_mx.DnsMxResolver"),
            resolver=providers.Callable(
                lazy("adapters.dns_mx.make_resolver"), settings.provided.dns_nameservers
            ),
        ),
        offline=providers.Singleton(lazy("adapters.dns_mx.StaticMxResolver")),
    )
    disposable_domains = providers.Singleton(lazy("adapters.disposable_domains.load"))
    domain_inspector = providers.Singleton(_domain_inspector, settings)
    # Local replies arrive with their content (an SNS action, POST /sns): nothing to read from S3.
    inbound_reader: providers.Provider[None] = providers.Object(None)


def _publisher(
    records: Records, clock: Clock, queue: Callable[[], MessageSink], settings: Settings
) -> WebhookPublisher | None:
    """None on AWS without a webhook queue (webhooks off in Terraform): nothing is published."""
    from outreach_core.services.webhooks import WebhookPublisher

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
    from outreach_core.services.webhooks import WebhookConfig, WebhookService

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
    from outreach_core.policies.config import AccountLimits, SendingPolicy

    return SendingPolicy(account=AccountLimits(max_send_rate=max_send_rate, max_24h_send=max_24h_send))


def _mail_route(settings: Settings) -> str:
    return "failover" if settings.aws_failover_region else "single"


def _inbound_reader(client: object, settings: Settings) -> S3ObjectReader | None:
    """Replies the SES receipt rule stored in S3; only that bucket and prefix are ever read."""
    from adapters.aws.s3_objects import S3ObjectReader

    if not settings.inbound_bucket:
        return None
    return S3ObjectReader(client, buckets={settings.inbound_bucket}, prefix=settings.inbound_prefix)


class AwsAdapters(containers.DeclarativeContainer):
    """The same provider names as LocalAdapters, on AWS. Clients are built once per process (a Lambda
    cold start); `aws_endpoint_url` points them all at a moto server in tests."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(lazy("adapters.clock.SystemClock"))
    session = providers.Singleton(lazy("boto3.session.Session"), region_name=settings.provided.aws_region)
    _region = settings.provided.aws_region
    _endpoint = settings.provided.aws_endpoint_url
    dynamodb_client = providers.Singleton(_client, session, "dynamodb", _region, _endpoint)
    sqs_client = providers.Singleton(_client, session, "sqs", _region, _endpoint)
    s3_client = providers.Singleton(_client, session, "s3", _region, _endpoint)
    cloudwatch_client = providers.Singleton(_client, session, "cloudwatch", _region, _endpoint)
    sns_client = providers.Singleton(_deferred_client, session, "sns", _region, _endpoint)
    ses_client = providers.Singleton(_client, session, "sesv2", _region, _endpoint)
    ses_failover_client = providers.Singleton(
        _deferred_client,
        session,
        "sesv2",
        settings.provided.aws_failover_region,
        _endpoint,
    )

    store = providers.Singleton(
        lazy("adapters.aws.dynamodb_store.DynamoDbStateStore"),
        client=dynamodb_client,
        table_name=settings.provided.table_name,
    )
    job_queue = providers.Singleton(
        lazy("adapters.aws.sqs_queue.SqsJobQueue"),
        client=sqs_client,
        queue_url=settings.provided.job_queue_url,
        dlq_url=settings.provided.job_dlq_url,
        clock=clock,
        metrics_client=cloudwatch_client.provider,
    )
    log_notifier = providers.Singleton(lazy("adapters.log_notifier.LogNotifier"))
    # The one notifier of the process: the guard, the queue monitor and the failover breaker all alert
    # through it (the log, and the SNS alert topic when set), rate-limited through the store.
    notifier = providers.Singleton(
        lazy("entrypoints.observability.aws_notifier"),
        settings=settings,
        store=store,
        clock=clock,
        sns=sns_client,
        log=log_notifier,
    )
    metrics = providers.Singleton(
        lazy("entrypoints.observability.aws_metrics"), settings=settings, clock=clock
    )  # EMF lines on stdout
    ses_primary = providers.Singleton(
        lazy("adapters.aws.ses_mailer.SesMailer"),
        client=ses_client,
        region=_region,
        clock=clock,
        configuration_set=settings.provided.ses_configuration_set,
    )
    ses_secondary = providers.Singleton(
        lazy("adapters.aws.ses_mailer.SesMailer"),
        client=ses_failover_client,
        region=settings.provided.aws_failover_region,
        clock=clock,
        configuration_set=settings.provided.ses_configuration_set,
    )
    ssm_client = providers.Singleton(_deferred_client, session, "ssm", _region, _endpoint)
    # env: and file: references, and ssm: ones (SecureStrings, cached a few minutes).
    secrets = providers.Singleton(
        lazy("adapters.secrets.SecretResolver"),
        ssm=providers.Singleton(
            lazy("adapters.aws.ssm_parameter.SsmSecrets"), client=ssm_client, clock=clock
        ),
    )
    # Send only: publishers and the webhook function's retries (the event source mapping receives).
    webhook_queue = providers.Singleton(
        lazy("adapters.aws.sqs_outbox.SqsOutbox"),
        client=sqs_client,
        queue_url=settings.provided.webhook_queue_url,
    )
    webhook_transport = providers.Singleton(
        lazy("adapters.webhook_http.HttpWebhookTransport"), timeout=settings.provided.webhook_timeout_s
    )
    mailbox_for = providers.Singleton(
        lazy("adapters.imap_mailbox.ImapMailboxes"),
        secrets=secrets,
        clock=clock,
        timeout=settings.provided.imap_timeout_s,
    )
    ses_route = providers.Selector(
        providers.Callable(_mail_route, settings),
        single=ses_primary,
        failover=providers.Singleton(
            lazy("adapters.aws.failover.FailoverMailer"),
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
    mailer = providers.Singleton(
        lazy("adapters.mail_routing.IdentityMailer"), default=ses_route, clock=clock, secrets=secrets
    )
    mx_resolver = providers.Selector(
        settings.provided.mx_resolver,
        dns=providers.Singleton(
            lazy("adapters.dns_mx.DnsMxResolver"),
            resolver=providers.Callable(
                lazy("adapters.dns_mx.make_resolver"), settings.provided.dns_nameservers
            ),
        ),
        offline=providers.Singleton(lazy("adapters.dns_mx.StaticMxResolver")),
    )
    disposable_domains = providers.Singleton(lazy("adapters.disposable_domains.load"))
    domain_inspector = providers.Singleton(_domain_inspector, settings)
    archive = providers.Singleton(
        lazy("adapters.aws.s3_archive.S3Archive"),
        client=s3_client,
        bucket=settings.provided.archive_bucket,
        kms_key_id=settings.provided.archive_kms_key_id,
    )
    inbound_reader = providers.Singleton(_inbound_reader, s3_client, settings)


class Services(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    adapters = providers.DependenciesContainer()

    records = providers.Singleton(lazy("outreach_core.records.Records"), store=adapters.store)
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
        lazy("outreach_core.services.limiter.SendLimiter"),
        records=records,
        policy=sending_policy,
        directory=providers.Singleton(
            lazy("outreach_core.services.providers.ProviderDirectory"), resolver=adapters.mx_resolver
        ),
    )
    guard = providers.Singleton(
        lazy("outreach_core.services.guard.ReputationGuard"),
        records=records,
        clock=adapters.clock,
        notifier=adapters.notifier,
        limiter=limiter,
        webhooks=webhook_publisher,
    )
    suppression = providers.Singleton(
        lazy("outreach_core.services.suppression.SuppressionService"),
        records=records,
        webhooks=webhook_publisher,
    )
    inbox = providers.Singleton(
        lazy("outreach_core.services.inbox.InboxService"),
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        webhooks=webhook_publisher,
    )
    hygiene = providers.Singleton(
        lazy("outreach_core.services.hygiene.ListHygiene"),
        records=records,
        resolver=adapters.mx_resolver,
        disposable=adapters.disposable_domains,
    )
    admin = providers.Factory(
        lazy("outreach_core.services.admin.AdminService"),
        records=records,
        clock=adapters.clock,
        webhooks=webhook_publisher,
    )
    domain_health = providers.Factory(
        lazy("outreach_core.services.domain_health.DomainHealthService"),
        records=records,
        clock=adapters.clock,
        inspector=adapters.domain_inspector,
        expectations=providers.Callable(_expectations, settings),
        mail_from=providers.Callable(_mail_from, settings),
    )
    leads = providers.Factory(
        lazy("outreach_core.services.leads.LeadImportService"),
        records=records,
        clock=adapters.clock,
        hygiene=hygiene,
    )
    lead_actions = providers.Factory(
        lazy("outreach_core.services.lifecycle.LeadActions"), records=records, clock=adapters.clock
    )
    templates = providers.Factory(
        lazy("outreach_core.services.templates.TemplateService"),
        records=records,
        clock=adapters.clock,
        unsubscribe_base_url=settings.provided.unsubscribe_base_url,
        secret=settings.provided.unsubscribe_secret.get_secret_value.call(),
    )
    forecast = providers.Factory(
        lazy("outreach_core.services.forecast.ForecastService"),
        records=records,
        clock=adapters.clock,
        limiter=limiter,
    )
    timeline = providers.Factory(
        lazy("outreach_core.services.timeline.LeadTimeline"),
        records=records,
        clock=adapters.clock,
        limiter=limiter,
    )
    planner = providers.Singleton(
        lazy("outreach_core.services.planner.PlannerService"),
        records=records,
        queue=adapters.job_queue,
        clock=adapters.clock,
        config=providers.Factory(
            lazy("outreach_core.services.planner.PlannerConfig"),
            horizon=providers.Factory(_seconds, settings.provided.planner_horizon_s),
        ),
        limiter=limiter,
        guard=guard,
        hygiene=hygiene,
    )
    metered_mailer = providers.Singleton(
        lazy("outreach_core.telemetry.MeteredMailProvider"), inner=adapters.mailer, metrics=adapters.metrics
    )
    sender = providers.Singleton(
        lazy("outreach_core.services.sender.SenderService"),
        records=records,
        queue=adapters.job_queue,
        mailer=metered_mailer,
        clock=adapters.clock,
        guard=guard,
        suppression=suppression,
        config=providers.Factory(
            lazy("outreach_core.services.sender.SenderConfig"),
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
        lazy("outreach_core.services.feedback.FeedbackService"),
        records=records,
        clock=adapters.clock,
        guard=guard,
        suppression=suppression,
        metrics=adapters.metrics,
    )
    replies = providers.Singleton(
        lazy("outreach_core.services.feedback.ReplyService"),
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        secrets=settings.provided.unsubscribe_secrets,
        inbox=inbox,
    )
    unsubscribe = providers.Singleton(
        lazy("outreach_core.services.unsubscribe.UnsubscribeService"),
        records=records,
        clock=adapters.clock,
        suppression=suppression,
        secrets=settings.provided.unsubscribe_secrets,
    )
    uncertain = providers.Factory(
        lazy("outreach_core.services.uncertain.UncertainJobs"), records=records, clock=adapters.clock
    )
    audit_log = providers.Factory(
        lazy("outreach_core.services.audit_log.AuditLog"),
        records=records,
        clock=adapters.clock,
        archive=adapters.archive,
    )
    ingestor = providers.Singleton(
        lazy("adapters.feedback_ingest.EventIngestor"),
        archive=adapters.archive,
        feedback=feedback,
        replies=replies,
        clock=adapters.clock,
        inbound_reader=adapters.inbound_reader,
        metrics=adapters.metrics,
        notifier=adapters.notifier,
    )
    status = providers.Factory(
        lazy("outreach_core.services.status.StatusService"),
        records=records,
        clock=adapters.clock,
        guard=guard,
        queue=adapters.job_queue,
    )
    queue_monitor = providers.Factory(
        lazy("outreach_core.services.monitoring.QueueMonitor"),
        queue=adapters.job_queue,
        clock=adapters.clock,
        metrics=adapters.metrics,
        notifier=adapters.notifier,
    )
    dead_letters = providers.Factory(
        lazy("outreach_core.services.deadletters.DeadLetterService"),
        records=records,
        queue=adapters.job_queue,
        clock=adapters.clock,
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
