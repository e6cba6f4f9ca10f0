"""Lambda: functions, their SQS event source mappings and their asynchronous invocations' settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from ..archives import build_zip
from .base import (
    Context,
    Handler,
    Inputs,
    Outputs,
    choose_name,
    exists,
    ignore_missing,
    retag,
)

FUNCTION_CONFIGURATION = {
    "handler": "Handler",
    "runtime": "Runtime",
    "role": "Role",
    "timeout": "Timeout",
    "memorySize": "MemorySize",
    "description": "Description",
}


def _function_configuration(inputs: Inputs) -> dict[str, Any]:
    configuration = {api: inputs[key] for key, api in FUNCTION_CONFIGURATION.items() if inputs.get(key) is not None}
    configuration["Environment"] = {"Variables": (inputs.get("environment") or {}).get("variables") or {}}
    configuration["Layers"] = list(inputs.get("layers") or [])
    storage = (inputs.get("ephemeralStorage") or {}).get("size")
    if storage:
        configuration["EphemeralStorage"] = {"Size": storage}
    logging_config = inputs.get("loggingConfig")
    if logging_config:
        configuration["LoggingConfig"] = {
            api: logging_config[key]
            for key, api in (("logFormat", "LogFormat"), ("logGroup", "LogGroup"))
            if logging_config.get(key)
        }
    return configuration


class Function(Handler):
    type_token = "aws:lambda/function:Function"
    inputs = frozenset(
        {
            "name",
            "code",
            "tags",
            "environment",
            "loggingConfig",
            "layers",
            "ephemeralStorage",
            "architectures",
            *FUNCTION_CONFIGURATION,
        }
    )
    replace_on = frozenset({"name"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        function_name = choose_name(inputs, name, 64)
        response = ctx.client("lambda").create_function(
            FunctionName=function_name,
            Code={"ZipFile": build_zip(inputs["code"])},
            Tags=inputs.get("tags") or {},
            **({"Architectures": inputs["architectures"]} if inputs.get("architectures") else {}),
            **_function_configuration(inputs),
        )
        return function_name, self._outputs(inputs, response)

    @staticmethod
    def _outputs(inputs: Inputs, response: Mapping[str, Any]) -> Outputs:
        arn = response["FunctionArn"]
        return {
            **{key: value for key, value in inputs.items() if key != "code"},  # an archive, not state
            "name": response["FunctionName"],
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "version": "$LATEST",
            "codeSha256": response["CodeSha256"],
            "sourceCodeHash": response["CodeSha256"],
        }

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        lam = ctx.client("lambda")
        response = lam.get_function_configuration(FunctionName=resource_id)
        if old.get("code") != new.get("code"):
            response = lam.update_function_code(FunctionName=resource_id, ZipFile=build_zip(new["code"]))
        if _function_configuration(old) != _function_configuration(new):
            response = lam.update_function_configuration(FunctionName=resource_id, **_function_configuration(new))
        arn = response["FunctionArn"]
        retag(
            old.get("tags"),
            new.get("tags"),
            lambda tags: lam.tag_resource(Resource=arn, Tags=tags),
            lambda keys: lam.untag_resource(Resource=arn, TagKeys=keys),
        )
        return self._outputs(new, response)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("lambda").get_function(FunctionName=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("lambda").delete_function(FunctionName=resource_id))


# Pulumi input name -> Lambda API member, for what UpdateEventSourceMapping can change in place.
MAPPING_SETTINGS = {
    "functionName": "FunctionName",
    "batchSize": "BatchSize",
    "maximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
    "functionResponseTypes": "FunctionResponseTypes",
    "enabled": "Enabled",
}


def _mapping_settings(inputs: Inputs) -> dict[str, Any]:
    settings = {api: inputs[key] for key, api in MAPPING_SETTINGS.items() if inputs.get(key) is not None}
    scaling = inputs.get("scalingConfig") or {}
    if scaling.get("maximumConcurrency"):
        settings["ScalingConfig"] = {"MaximumConcurrency": scaling["maximumConcurrency"]}
    return settings


class EventSourceMapping(Handler):
    type_token = "aws:lambda/eventSourceMapping:EventSourceMapping"
    inputs = frozenset({"eventSourceArn", "scalingConfig", *MAPPING_SETTINGS})
    replace_on = frozenset({"eventSourceArn"})

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        mapping = ctx.client("lambda").create_event_source_mapping(
            EventSourceArn=inputs["eventSourceArn"], **_mapping_settings(inputs)
        )
        return mapping["UUID"], self._outputs(inputs, mapping)

    @staticmethod
    def _outputs(inputs: Inputs, mapping: Mapping[str, Any]) -> Outputs:
        return {**inputs, "uuid": mapping["UUID"], "functionArn": mapping["FunctionArn"], "state": mapping["State"]}

    def update(self, ctx: Context, resource_id: str, old: Inputs, new: Inputs, outputs: Outputs) -> Outputs:
        mapping = ctx.client("lambda").update_event_source_mapping(UUID=resource_id, **_mapping_settings(new))
        return self._outputs(new, mapping)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("lambda").get_event_source_mapping(UUID=resource_id))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("lambda").delete_event_source_mapping(UUID=resource_id))


# Pulumi input name -> Lambda API member, for PutFunctionEventInvokeConfig.
EVENT_INVOKE_SETTINGS = {
    "maximumRetryAttempts": "MaximumRetryAttempts",
    "maximumEventAgeInSeconds": "MaximumEventAgeInSeconds",
}


def _event_invoke_settings(inputs: Inputs) -> dict[str, Any]:
    """The request members of the config: what the program left out is the API's default."""
    settings = {api: inputs[key] for key, api in EVENT_INVOKE_SETTINGS.items() if inputs.get(key) is not None}
    destinations = inputs.get("destinationConfig") or {}
    config = {
        api: {"Destination": destinations[key]["destination"]}
        for key, api in (("onSuccess", "OnSuccess"), ("onFailure", "OnFailure"))
        if (destinations.get(key) or {}).get("destination")
    }
    if config:
        settings["DestinationConfig"] = config
    return settings


class FunctionEventInvokeConfig(Handler):
    """A function's asynchronous invocations: retries and maximum event age. Its ID is the
    provider's, the function name (and ``:qualifier`` when one is given)."""

    type_token = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
    inputs = frozenset({"functionName", "qualifier", "destinationConfig", *EVENT_INVOKE_SETTINGS})
    # Another function is another config. Not the qualifier: the endpoint has $LATEST only (no
    # versions or aliases), so none and "$LATEST" name the same config, which a replacement (create
    # the new, then delete the old) would delete.
    replace_on = frozenset({"functionName"})

    @staticmethod
    def _target(inputs: Inputs) -> dict[str, Any]:
        qualifier = inputs.get("qualifier")
        return {"FunctionName": inputs["functionName"], **({"Qualifier": qualifier} if qualifier else {})}

    def create(self, ctx: Context, name: str, inputs: Inputs) -> tuple[str, Outputs]:
        outputs = self.apply(ctx, inputs, {})
        qualifier = inputs.get("qualifier")
        return (f"{inputs['functionName']}:{qualifier}" if qualifier else inputs["functionName"]), outputs

    def apply(self, ctx: Context, inputs: Inputs, outputs: Outputs) -> Outputs:
        """Put replaces the whole config, as the provider's update does: a setting taken out of the
        program goes back to Lambda's default."""
        ctx.client("lambda").put_function_event_invoke_config(**self._target(inputs), **_event_invoke_settings(inputs))
        return dict(inputs)

    def exists(self, ctx: Context, resource_id: str, outputs: Outputs) -> bool:
        return exists(lambda: ctx.client("lambda").get_function_event_invoke_config(**self._target(outputs)))

    def delete(self, ctx: Context, resource_id: str, outputs: Outputs) -> None:
        ignore_missing(lambda: ctx.client("lambda").delete_function_event_invoke_config(**self._target(outputs)))
