"""CloudWatch: the stack's alarms and its dashboard (``alarms: true``).

The endpoint stores them as CloudWatch does (``describe_alarms``, ``get_dashboard``); nothing there
computes SQS or Lambda metrics, so the alarms stay in INSUFFICIENT_DATA."""

from __future__ import annotations

from typing import Any

from .base import Context, Handler, Inputs, Outputs, choose_name, exists, ignore_missing, retag, tag_list

# put_metric_alarm's parameter for each input the component gives (the rest are named the same, capitalised).
_ALARM_PARAMETERS = {
    "alarmDescription": "AlarmDescription",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "actionsEnabled": "ActionsEnabled",
}
_WHOLE_NUMBERS = {
    "period": "Period",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
}


def _alarm_request(name: str, inputs: Inputs) -> dict[str, Any]:
    request: dict[str, Any] = {"AlarmName": name, "Threshold": float(inputs["threshold"])}
    request.update({param: inputs[key] for key, param in _ALARM_PARAMETERS.items() if inputs.get(key) is not None})
    request.update({param: int(inputs[key]) for key, param in _WHOLE_NUMBERS.items() if inputs.get(key) is not None})
    request["Dimensions"] = [{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()]
    return request


class MetricAlarm(Handler):
    type_token = "aws:cloudwatch/metricAlarm:MetricAlarm"
    inputs = frozenset({"name", "namePrefix", "threshold", "dimensions", "tags", *_ALARM_PARAMETERS, *_WHOLE_NUMBERS})
    replace_on = frozenset({"name", "namePrefix"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        alarm = choose_name(inputs, name, 255)
        ctx.client("cloudwatch").put_metric_alarm(**_alarm_request(alarm, inputs), Tags=tag_list(inputs.get("tags")))
        arn = f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{alarm}"
        return alarm, {**inputs, "name": alarm, "arn": arn}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        cloudwatch = ctx.client("cloudwatch")
        cloudwatch.put_metric_alarm(**_alarm_request(resource_id, new))
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: cloudwatch.tag_resource(ResourceARN=outputs["arn"], Tags=tag_list(tags)),
            lambda keys: cloudwatch.untag_resource(ResourceARN=outputs["arn"], TagKeys=keys),
        )
        return {**new, "name": resource_id, "arn": outputs["arn"]}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return bool(ctx.client("cloudwatch").describe_alarms(AlarmNames=[resource_id])["MetricAlarms"])

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("cloudwatch").delete_alarms(AlarmNames=[resource_id]))


class Dashboard(Handler):
    type_token = "aws:cloudwatch/dashboard:Dashboard"
    inputs = frozenset({"dashboardName", "dashboardBody"})
    replace_on = frozenset({"dashboardName"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        dashboard = inputs["dashboardName"]
        return dashboard, self.apply(ctx, inputs, {})

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        dashboard = inputs["dashboardName"]
        ctx.client("cloudwatch").put_dashboard(DashboardName=dashboard, DashboardBody=inputs["dashboardBody"])
        return {**inputs, "dashboardArn": f"arn:aws:cloudwatch::{ctx.account_id}:dashboard/{dashboard}"}

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("cloudwatch").get_dashboard(DashboardName=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("cloudwatch").delete_dashboards(DashboardNames=[resource_id]))
