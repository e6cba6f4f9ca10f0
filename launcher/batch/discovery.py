"""What a batch runs on: its VIDEO arguments expanded into videos, and a results name for each.

A file argument is taken as it is (checked later, like any video); a folder gives its ``.mp4`` and
``.mov``/``.avi`` files (``recursive``: its subfolders' too; hidden files are left out); ``s3://bucket/prefix/``
gives every object under the prefix whose name ends in one of those extensions. Every video is named
by an absolute path or an ``s3://`` URI: its identity in the ledger, so a run resumes whatever the
current folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from botocore.exceptions import ClientError

from rekognition_limits import VIDEO_SUFFIXES, is_video_name

from ..jobs.errors import BadInput, error_code, from_client_error, unreadable
from ..jobs.s3video import is_s3_uri, parse_s3_uri
from ..options import file_name, results_name

# Characters left as they are in an s3:// URI built from a listed key (the rest are %-escaped, so
# that parse_s3_uri reads back the very same key).
_URI_SAFE = "/:@!$&'()*+,;=-._~"


def is_prefix(video: str) -> bool:
    return is_s3_uri(video) and video.endswith("/")


def is_batch(videos: Iterable[str]) -> bool:
    """Several videos, a folder or an s3:// prefix make a batch; one video file or object does not."""
    videos = list(videos)
    return len(videos) != 1 or is_prefix(videos[0]) or Path(videos[0]).is_dir()


def _is_video_name(name: str) -> bool:
    return is_video_name(name) and not name.startswith(".")


def cannot_read(folder: str | Path, error: OSError) -> str:
    reason, fix = unreadable(error, "the videos")
    return f"folder {folder} cannot be read ({reason}): {fix}"


def left_out_line(folder: str, error: OSError) -> str:
    """The warning for a subfolder a recursive batch cannot list: as ``aws s3 sync`` and ``rsync`` do,
    the rest goes on, and the folder is named so that nothing is lost silently."""
    reason, fix = unreadable(error, "the videos")
    return f"folder {folder} cannot be read ({reason}), so its videos are left out: {fix}"


# A subfolder that cannot be listed: its path (as given, joined) and the error.
OnUnreadable = Callable[[str, OSError], None]


def refuse_unreadable(folder: str, error: OSError) -> None:
    """For a caller that names no handler: an unreadable subfolder is refused, never skipped."""
    raise BadInput(cannot_read(folder, error))


def folder_videos(folder: Path, recursive: bool, on_unreadable: OnUnreadable = refuse_unreadable) -> list[str]:
    """The folder's videos (``recursive``: its subfolders' too), sorted. The folder itself unreadable is
    bad input; a subfolder that cannot be listed, or listed but not entered (read without search
    permission: its files cannot be looked at), goes to ``on_unreadable`` (pathlib's rglob skipped the
    first without a word, and the second refused the whole batch as a file it could not write)."""
    try:
        names = os.listdir(folder)  # rglob would take a folder it may not read for an empty one
        # Entered too (search permission, which "folder/." needs): a folder given that may be listed but
        # not entered (0744) with its videos in subfolders warned of each subfolder as unreadable, then
        # said it had no videos.
        os.stat(os.path.join(folder, os.curdir))
    except OSError as error:
        raise BadInput(cannot_read(folder, error)) from None
    given = os.fspath(folder)
    listings: Iterable[tuple[str, list[str]]]
    if recursive:
        listings = (
            (top, names)
            for top, _, names in os.walk(folder, onerror=lambda error: on_unreadable(str(error.filename), error))
        )
    else:
        listings = [(given, names)]
    found: list[str] = []
    for top, names in listings:
        try:
            found += [str(Path(top, name).absolute()) for name in names if _is_video_file(Path(top, name))]
        except OSError as error:
            if top == given:
                raise BadInput(cannot_read(folder, error)) from None
            on_unreadable(top, error)
    if not found:
        where = "or in its subfolders" if recursive else "(add --recursive to look in its subfolders)"
        raise BadInput(f"folder {folder} has no {'/'.join(VIDEO_SUFFIXES)} videos {where}")
    return sorted(found)


def _is_video_file(path: Path) -> bool:
    """A video's name, and a regular file (a link's target); OSError when the file cannot be looked at
    (its folder may be read but not entered), not False: that folder's videos would be lost silently."""
    if not _is_video_name(path.name):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):  # a broken link, a file gone since
            return False
        raise


def prefix_videos(s3: Any, uri: str) -> list[str]:
    parts = urlsplit(uri)
    bucket, prefix = parts.netloc, unquote(parts.path.lstrip("/"))
    if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
        raise BadInput(f"{uri!r} is not an S3 prefix: write s3://bucket/prefix/")
    found = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [
                f"s3://{bucket}/{quote(item['Key'], safe=_URI_SAFE)}"
                for item in page.get("Contents", [])
                if _is_video_name(item["Key"].rsplit("/", 1)[-1])
            ]
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":  # the user's bucket, not the stack's: a typo, most likely
            raise BadInput(f"{uri}: the bucket {bucket} does not exist: check its name") from None
        raise from_client_error(error, f"listing {uri}") from None
    if not found:
        raise BadInput(f"{uri} holds no {'/'.join(VIDEO_SUFFIXES)} videos: check the bucket and the prefix")
    return found


def discover(
    videos: Iterable[str], recursive: bool, s3: Any, on_unreadable: OnUnreadable = refuse_unreadable
) -> list[str]:
    """Every video of the batch once, in the order given (a folder's or a prefix's sorted by name);
    each subfolder that cannot be listed is handed to ``on_unreadable`` (by default: refused)."""
    found: dict[str, None] = {}
    for video in videos:
        if is_prefix(video):
            expanded = prefix_videos(s3, video)
        elif is_s3_uri(video):
            parse_s3_uri(video)  # a malformed URI is bad input, refused before anything starts
            expanded = [video]
        elif Path(video).is_dir():
            expanded = folder_videos(Path(video), recursive, on_unreadable)
        else:
            expanded = [os.path.abspath(video)]
        found.update(dict.fromkeys(expanded))
    return list(found)


def result_names(videos: list[str], known: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """Each video's results name (``<name>.faces.<format>`` is its file): its file name, or, when two
    videos of the batch share that name, the file name with a short hash of the video's identity.
    Names already in the ledger (``known``) stay, so that a run resumed with more videos keeps them."""
    counts = Counter(file_name(video) for video in videos)
    taken = set(known.values())
    for video in videos:
        if video in known:
            yield video, known[video]
            continue
        name = file_name(video)
        if counts[name] > 1 or name in taken:
            stem, dot, suffix = name.rpartition(".")
            digest = hashlib.sha256(os.fsencode(video)).hexdigest()[:8]
            name = f"{stem}-{digest}.{suffix}" if dot else f"{name}-{digest}"
        name = results_name(name)  # a name too long for the file system with its suffix: shortened
        taken.add(name)
        yield video, name
