"""Only this machine's own tools get in (issue 18, docs/security.md): a web page of another origin,
in a real headless browser (Debian's chromium), cannot create a bucket or start a job, unless its
origin is allowed with --allow-origin; a request whose Host is not the endpoint's own (DNS rebinding)
is refused; no CORS header is sent by default; boto3 and the AWS CLI still work."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from localaws.endpoint import LocalEndpoint
from localaws.process import client_environment
from localaws.rekognition.models import EmulatorSettings
from tests.support.aws import GateDetector, unique
from tests.support.browser import CHROMIUM, NO_CHROMIUM, chromium_command, chromium_environment

AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
BROWSER_DEADLINE_SECONDS = 90

PAGE = """<!doctype html>
<html><body><script>
const endpoint = %(endpoint)s, bucket = %(bucket)s, video = %(video)s;
async function attempt(request) {
  try {
    const response = await request();
    return "HTTP " + response.status + " " + (await response.text()).slice(0, 200);
  } catch (error) {
    return "refused: " + error;
  }
}
(async () => {
  const results = {};
  results.createBucket = await attempt(() => fetch(endpoint + "/" + bucket, {method: "PUT"}));
  results.startJob = await attempt(() => fetch(endpoint + "/", {
    method: "POST",
    headers: {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.StartFaceDetection"},
    body: JSON.stringify({Video: {S3Object: video}}),
  }));
  await fetch("/results", {method: "POST", body: JSON.stringify(results)});
})();
</script></body></html>
"""


class PageServer:
    """Serves the attacking page from another local port and collects what it reports."""

    def __init__(self) -> None:
        self.page = ""
        self.results: dict[str, str] | None = None
        self.reported = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                owner.results = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()
                owner.reported.set()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def open_in_chromium(server: PageServer, profile: Path) -> dict[str, str]:
    server.reported.clear()
    browser = subprocess.Popen(
        chromium_command(profile, server.origin + "/"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=chromium_environment(profile),
    )
    try:
        assert server.reported.wait(BROWSER_DEADLINE_SECONDS), "the page reported nothing"
    finally:
        browser.kill()
        browser.wait()
    assert server.results is not None
    return server.results


def endpoint_with(
    tmp_path: Path, name: str, allow_origins: tuple[str, ...] = (), detector: GateDetector | None = None
) -> LocalEndpoint:
    settings = EmulatorSettings(data_dir=tmp_path / name)
    return LocalEndpoint(settings, port=0, detector=detector or GateDetector(), allow_origins=allow_origins)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_page_of_another_origin_cannot_create_a_bucket_or_start_a_job(tmp_path, page_server, aws, bucket, videos):
    """The same page twice: against the default endpoint it fails; against one that allows its
    origin it succeeds, which shows the page's requests are real ones."""
    key = unique("face") + ".mp4"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=videos["face"].path.read_bytes())
    outcomes = {}
    for name, allowed in (("default", ()), ("allowing", (page_server.origin,))):
        detector = GateDetector()  # holds a started job open until the test has counted it
        with endpoint_with(tmp_path, name, allowed, detector) as endpoint:
            new_bucket = unique("from-a-page")
            page_server.page = PAGE % {
                "endpoint": json.dumps(endpoint.url),
                "bucket": json.dumps(new_bucket),
                "video": json.dumps({"Bucket": bucket, "Name": key}),
            }
            results = open_in_chromium(page_server, tmp_path / f"profile-{name}")
            buckets = {b["Name"] for b in endpoint.client("s3").list_buckets()["Buckets"]}
            outcomes[name] = (results, new_bucket in buckets, endpoint.rekognition.store.count_open())
            detector.gate.set()
    results, created, jobs = outcomes["default"]
    assert results["createBucket"].startswith("refused"), results
    assert results["startJob"].startswith("refused"), results
    assert not created and jobs == 0
    results, created, jobs = outcomes["allowing"]
    assert results["createBucket"].startswith("HTTP 200"), results
    assert results["startJob"].startswith("HTTP 200") and "JobId" in results["startJob"], results
    assert created and jobs == 1


def raw_request(url: str, method: str = "GET", path: str = "/", headers: dict[str, str] | None = None) -> Any:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest(method, path, skip_host=True)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_a_host_that_is_not_the_endpoints_own_is_refused(endpoint):
    port = endpoint.url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", f"10.1.2.3:{port}", f"localhost.evil:{port}"):
        response = raw_request(endpoint.url, headers={"Host": host})
        assert response.status == 403, host
        assert b"<Code>AccessDenied</Code>" in response.body and b"rebinding" in response.body
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"LOCALHOST.:{port}",
        f"[::1]:{port}",
        f"s3.localhost:{port}",
    ):
        assert raw_request(endpoint.url, headers={"Host": host}).status != 403, host  # then moto answers


def test_no_cors_header_unless_the_origin_is_allowed(endpoint, tmp_path):
    port = endpoint.url.rsplit(":", 1)[1]
    host = {"Host": f"127.0.0.1:{port}"}
    plain = raw_request(endpoint.url, headers=host)
    assert plain.status == 200
    assert not [name for name, _ in plain.getheaders() if name.lower().startswith("access-control-")]
    preflight = {**host, "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "PUT"}
    refused = raw_request(endpoint.url, "OPTIONS", "/some-bucket", preflight)
    assert refused.status == 403
    assert not [name for name, _ in refused.getheaders() if name.lower().startswith("access-control-")]
    # A browser's no-cors request carries no Origin, but says where it comes from.
    assert raw_request(endpoint.url, headers={**host, "Sec-Fetch-Site": "cross-site"}).status == 403
    assert raw_request(endpoint.url, headers={**host, "Sec-Fetch-Site": "none"}).status == 200  # typed in
    with endpoint_with(tmp_path, "allowing", ("http://127.0.0.1:8000",)) as allowing:
        port = allowing.url.rsplit(":", 1)[1]
        preflight["Host"] = f"127.0.0.1:{port}"
        answered = raw_request(allowing.url, "OPTIONS", "/some-bucket", preflight)
        assert answered.status == 200
        assert answered.getheader("Access-Control-Allow-Origin") == "http://127.0.0.1:8000"
        other = raw_request(allowing.url, "OPTIONS", "/some-bucket", {**preflight, "Origin": "http://evil.example"})
        assert other.status == 403 and other.getheader("Access-Control-Allow-Origin") is None
        listed = raw_request(allowing.url, headers={"Host": preflight["Host"], "Origin": "http://127.0.0.1:8000"})
        assert listed.status == 200
        assert listed.getheader("Access-Control-Allow-Origin") == "http://127.0.0.1:8000"


@pytest.mark.skipif(AWS_CLI is None, reason="no AWS CLI (requirements-dev.txt installs awscli)")
def test_boto3_and_the_aws_cli_still_get_in(endpoint, aws, tmp_path):
    name = unique("cli")
    environment = {**os.environ, **client_environment(endpoint.url), "HOME": str(tmp_path)}
    assert AWS_CLI is not None
    subprocess.run([AWS_CLI, "s3", "mb", f"s3://{name}"], env=environment, check=True, capture_output=True)
    (tmp_path / "object.txt").write_text("hello")
    subprocess.run(
        [AWS_CLI, "s3", "cp", str(tmp_path / "object.txt"), f"s3://{name}/object.txt"],
        env=environment,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [AWS_CLI, "sts", "get-caller-identity"], env=environment, check=True, capture_output=True, text=True
    )
    assert json.loads(listed.stdout)["Account"]
    assert aws("s3").get_object(Bucket=name, Key="object.txt")["Body"].read() == b"hello"


def _ipv6_loopback() -> bool:
    """Whether ::1 can be bound here (socket.has_ipv6 says only that Python was built with IPv6)."""
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_endpoint_on_an_ipv6_address_prints_a_url_that_works(tmp_path):
    """`serve --host ::1` printed http://::1:PORT, which AWS_ENDPOINT_URL refuses ('Invalid endpoint');
    its own Host, [::1]:PORT, gets in."""
    import boto3

    with LocalEndpoint(EmulatorSettings(data_dir=tmp_path), "::1", 0) as endpoint:
        assert re.fullmatch(r"http://\[::1\]:\d+", endpoint.url)
        s3 = boto3.client(
            "s3", endpoint_url=endpoint.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        name = unique("ipv6")  # moto's state is this process's: other tests' buckets are there too
        s3.create_bucket(Bucket=name)
        assert name in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


def test_serve_answers_whatever_profile_the_shell_names(tmp_path, monkeypatch):
    """`local.py serve` from a shell whose AWS_PROFILE ~/.aws does not hold: it started (its clients
    read no profile since 7b4e42e), but every request was answered 500, ProfileNotFound raised by
    the botocore sessions made as it serves (its region list, moto's regions of a service). A real
    endpoint process, and a request to each kind of service: S3, a query one (SQS), Rekognition."""
    import boto3

    from localaws.process import EndpointProcess

    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with EndpointProcess(tmp_path / "endpoint", extra_args=["--ephemeral"]) as endpoint:
        monkeypatch.delenv("AWS_PROFILE")  # only the endpoint's: this process's clients would read it too
        env = client_environment(endpoint.url)
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        s3, sqs = (session.client(name, endpoint_url=endpoint.url) for name in ("s3", "sqs"))
        s3.create_bucket(Bucket="profile-test")
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["profile-test"]
        assert sqs.create_queue(QueueName="profile-test")["QueueUrl"].endswith("/profile-test")
        rekognition = session.client("rekognition", endpoint_url=endpoint.url)
        with pytest.raises(rekognition.exceptions.InvalidS3ObjectException):
            rekognition.start_face_detection(Video={"S3Object": {"Bucket": "profile-test", "Name": "none.mp4"}})
