"""Grabbing the report's frames: at result timestamps, from a file or from S3 by ranged reads."""

from __future__ import annotations

import io
import random

import av
import numpy as np
import pytest
from PIL import Image

from launcher.jobs.appearances import Box
from launcher.jobs.s3video import S3ObjectReader
from launcher.report.thumbnails import UnreadableVideo, frames_at, thumbnail, thumbnails
from launcher.upload import S3Video
from synthetic import make_video


class FakeS3:
    """head_object and ranged get_object over bytes in memory, counting what is fetched."""

    def __init__(self, data: bytes) -> None:
        self.data, self.ranges = data, []

    def head_object(self, **params):
        assert params == {"Bucket": "b", "Key": "v.mp4", "VersionId": "1"}
        return {"ContentLength": len(self.data)}

    def get_object(self, Range, **params):
        first, last = (int(value) for value in Range.removeprefix("bytes=").split("-"))
        self.ranges.append((first, last))
        return {"Body": io.BytesIO(self.data[first : last + 1])}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("frames") / "clip.mp4", seconds=4.0)


def test_the_frame_at_each_timestamp_is_the_first_shown_at_or_after_it(clip):
    got = dict(frames_at(clip.path, [3000, 0, 210, 200, 3000, 99_000]))
    assert sorted(got) == [0, 200, 210, 3000], "each once, in order; past the end: none"
    shown_ms = {t: round(float(f.pts * f.time_base * 1000)) for t, f in got.items()}
    assert shown_ms == {0: 0, 200: 200, 210: 233, 3000: 3000}


def test_an_s3_object_reads_like_a_file():
    data = random.Random(5).randbytes(10_000)
    s3 = FakeS3(data)
    reader, reference = (
        S3ObjectReader(s3, S3Video("b", "v.mp4", "1"), block_size=512, cached_blocks=2),
        io.BytesIO(data),
    )
    rng = random.Random(1)
    for _ in range(200):
        offset, whence = rng.choice(
            [(rng.randrange(11_000), 0), (rng.randrange(-300, 300), 1), (-rng.randrange(900), 2)]
        )
        if whence == 1 and reference.tell() + offset < 0:
            continue
        assert reader.seek(offset, whence) == reference.seek(offset, whence)
        size = rng.randrange(1, 2000)
        assert reader.read(size) == reference.read(size)
    assert all(last - first < 512 for first, last in s3.ranges)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """4 s of noise (every frame costs bytes), a keyframe every half second."""
    path = tmp_path_factory.mktemp("noisy") / "noisy.mp4"
    rng = np.random.default_rng(3)
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.codec_context.gop_size = 15
        for _ in range(120):
            picture = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode())
    return path


@pytest.mark.parametrize("timestamp", [200, 3500])
def test_frames_from_s3_are_the_file_s_frames_and_only_what_is_needed_is_fetched(noisy, timestamp):
    data = noisy.read_bytes()
    reader = S3ObjectReader(FakeS3(data), S3Video("b", "v.mp4", "1"), block_size=4096)
    (from_s3,) = (frame.to_ndarray(format="rgb24") for _, frame in frames_at(reader, [timestamp]))
    (from_file,) = (frame.to_ndarray(format="rgb24") for _, frame in frames_at(noisy, [timestamp]))
    assert np.array_equal(from_s3, from_file)
    assert reader.bytes_fetched < len(data) / 4, "the index, and the frames from the keyframe before it"


def test_a_thumbnail_shows_the_box_with_a_margin(clip):
    image = Image.new("RGB", (640, 360), (10, 20, 30))
    picture = thumbnail(image, Box(0.25, 0.25, 0.25, 0.5), height=160)
    assert picture.height == 160 and picture.jpeg[:3] == b"\xff\xd8\xff"
    left, top, width, height = picture.box
    assert width / height == pytest.approx(160 / 180, rel=0.02)  # the box's own shape, in pixels
    # A margin of 35% of the box on each side: 56 px left of it, 63 px above it, before scaling.
    assert left / top == pytest.approx(56 / 63, rel=0.02)
    assert left + width / 2 == pytest.approx(picture.width / 2, abs=1)
    # A box at the frame's edge: the crop stops at the edge, the box stays inside the picture.
    edge = thumbnail(image, Box(0.0, 0.0, 0.1, 0.1), height=100)
    assert edge.box[:2] == (0.0, 0.0) and edge.box[2] < edge.width


def test_thumbnails_of_boxes_at_the_same_timestamp_share_one_frame(clip):
    box = clip.face_at(1000)
    face = Box(box.left / clip.width, box.top / clip.height, box.width / clip.width, box.height / clip.height)
    made = thumbnails(clip.path, {0: (1000, face), 1: (1000, Box(0.0, 0.0, 0.2, 0.2)), 2: (99_000, face)})
    assert sorted(made) == [0, 1], "past the end: no thumbnail"


def test_an_unreadable_video_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(UnreadableVideo):
        thumbnails(bad, {0: (0, Box(0, 0, 0.1, 0.1))})
