"""The offline proof that `pulumi package add ./components` works: start the plugin the way the Pulumi
engine does (`python <plugin dir> <engine address>`, from another working directory, with nothing on
PYTHONPATH), read the port it prints, and ask for its schema over the provider gRPC interface."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.provider import PACKAGE_VERSION, SCHEMA_FILE

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "components"
START_TIMEOUT_S = 60


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The engine's address: the provider only dials it to construct resources, not to serve its schema.
    process = subprocess.Popen(
        [sys.executable, str(PLUGIN_DIR), "127.0.0.1:1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(START_TIMEOUT_S, process.kill)
    timer.start()
    try:
        port_line = process.stdout.readline() if process.stdout else ""
        timer.cancel()
        if not port_line.strip().isdigit():
            process.kill()
            pytest.fail(f"the provider printed no port: {port_line!r}; stderr: {process.communicate()[1][-2000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{port_line.strip()}") as channel:
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_S)
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        timer.cancel()
        process.kill()
        process.communicate()


def test_the_plugin_serves_the_committed_schema(provider):
    response = provider.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
    assert json.loads(response.schema) == json.loads(SCHEMA_FILE.read_text())
    assert provider.GetPluginInfo(empty_pb2.Empty(), timeout=30).version == PACKAGE_VERSION
