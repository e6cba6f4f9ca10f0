"""Fixtures: a real local endpoint on 127.0.0.1, a bucket, synthetic videos and a notification channel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from synthetic import SyntheticVideo, make_video

from .support import Channel, make_channel, unique


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


@pytest.fixture(scope="session")
def bucket(aws: Callable[..., Any]) -> str:
    name = unique("videos")
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
