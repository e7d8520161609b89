"""What is left in the account after `terraform destroy`, read from the endpoint region by region.
The stack test's own admin user (made before Terraform ran) is not Terraform's and is not counted."""

from __future__ import annotations

from typing import Any

from tests.stack.stack import ADMIN_USER, FAILOVER, PRIMARY


def leftovers(stack: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def note(kind: str, names: list[str]) -> None:
        if names:
            found[kind] = sorted(names)

    iam = stack.client("iam")
    note(
        "iam roles",
        [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")],
    )
    note("iam policies", [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]])
    note("iam users", [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"] != ADMIN_USER])
    note("s3 buckets", [b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]])
    budgets = (
        stack.client("budgets", region="us-east-1")
        .describe_budgets(AccountId="123456789012")
        .get("Budgets", [])
    )
    note("budgets", [b["BudgetName"] for b in budgets])
    for region in (PRIMARY, FAILOVER):

        def client(service: str, region: str = region) -> Any:
            return stack.client(service, region=region)

        note(
            f"{region} lambda functions",
            [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
        )
        note(
            f"{region} event source mappings",
            [m["UUID"] for m in client("lambda").list_event_source_mappings()["EventSourceMappings"]],
        )
        note(f"{region} dynamodb tables", client("dynamodb").list_tables()["TableNames"])
        note(f"{region} sqs queues", client("sqs").list_queues().get("QueueUrls", []))
        note(f"{region} sns topics", [t["TopicArn"] for t in client("sns").list_topics()["Topics"]])
        note(
            f"{region} sns subscriptions",
            [s["SubscriptionArn"] for s in client("sns").list_subscriptions()["Subscriptions"]],
        )
        note(
            f"{region} log groups",
            [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]],
        )
        note(
            f"{region} alarms",
            [a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]],
        )
        note(
            f"{region} dashboards",
            [d["DashboardName"] for d in client("cloudwatch").list_dashboards()["DashboardEntries"]],
        )
        note(f"{region} schedules", [s["Name"] for s in client("scheduler").list_schedules()["Schedules"]])
        note(
            f"{region} schedule groups",
            [
                g["Name"]
                for g in client("scheduler").list_schedule_groups()["ScheduleGroups"]
                if g["Name"] != "default"
            ],
        )
        note(
            f"{region} ses identities",
            [i["IdentityName"] for i in client("sesv2").list_email_identities()["EmailIdentities"]],
        )
        note(
            f"{region} ses configuration sets", client("sesv2").list_configuration_sets()["ConfigurationSets"]
        )
        note(
            f"{region} ses receipt rule sets",
            [r["Name"] for r in client("ses").list_receipt_rule_sets().get("RuleSets", [])],
        )
        note(f"{region} http apis", [a["Name"] for a in client("apigatewayv2").get_apis()["Items"]])
        note(
            f"{region} ssm parameters", [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
        )
    return found
