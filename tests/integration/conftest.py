"""Fixtures: a real local endpoint on 127.0.0.1, a bucket, synthetic videos and a notification channel."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws.defaults import client_environment
from localaws.deploy import engine
from localaws.deploy.handlers import Context
from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from synthetic import SyntheticVideo, make_video
from tests.support.aws import ACCOUNT_ID, REGION, ROOT, Channel, GateDetector, make_channel, unique


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    settings = EmulatorSettings(data_dir=tmp_path_factory.mktemp("endpoint"))
    with LocalEndpoint(settings, port=0) as running:
        yield running


@pytest.fixture(scope="session")
def aws(endpoint: LocalEndpoint) -> Callable[..., Any]:
    """``aws("s3")``: a boto3 client of the local endpoint."""
    return endpoint.client


@pytest.fixture
def channel(aws: Callable[..., Any]) -> Channel:
    return make_channel(aws)


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SyntheticVideo]:
    folder = tmp_path_factory.mktemp("videos")
    return {
        "face": make_video(folder / "face.mp4", seconds=2.0),
        "no-face": make_video(folder / "no-face.mp4", seconds=1.0, with_face=False),
        "mpeg4": make_video(folder / "mpeg4.mp4", seconds=0.5, codec="mpeg4"),
    }


def versioned_bucket(aws: Callable[..., Any], prefix: str) -> str:
    """A new bucket with versioning on, as the stack's video bucket has it."""
    name = unique(prefix)
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="session")
def bucket(aws: Callable[..., Any]) -> str:
    return versioned_bucket(aws, "videos")


@pytest.fixture
def mesh_endpoint(tmp_path: Path) -> Iterator[tuple[Callable[..., Any], str]]:
    """An endpoint of its own serving with ``--landmarks mesh``, and a versioned bucket on it: (client,
    bucket). Patches of the emulator's module functions made in the test apply: they are looked up
    per job."""
    settings = EmulatorSettings(data_dir=tmp_path / "mesh-endpoint", landmarks="mesh")
    with LocalEndpoint(settings, port=0) as running:
        yield running.client, versioned_bucket(running.client, "mesh")


@pytest.fixture(scope="module")
def stack(endpoint, tmp_path_factory) -> dict[str, Any]:
    """The project's stack, deployed into the endpoint; its outputs file."""
    folder = tmp_path_factory.mktemp("stack")
    ctx = Context(endpoint.clients_in(REGION), REGION, ACCOUNT_ID)
    outputs, _ = engine.deploy(
        ctx,
        ROOT,
        "launcher",
        folder / "state.json",
        {"aws:region": REGION, "rekognition-faces:namePrefix": unique("launch")},
    )
    path = folder / "outputs.json"
    path.write_text(json.dumps(outputs, indent=2))
    return {"outputs": outputs, "file": path}


@pytest.fixture
def aws_env(endpoint, monkeypatch) -> dict[str, str]:
    env = client_environment(endpoint.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def gate(endpoint, monkeypatch):
    """Jobs on the shared endpoint stay IN_PROGRESS until the test opens the gate."""
    detector = GateDetector()
    monkeypatch.setattr(endpoint.rekognition, "_detector", detector)
    yield detector
    detector.gate.set()
