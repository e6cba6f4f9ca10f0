"""Bad input a user could give the command lines, each refused in one line that says what to do, with
nothing half-written: a port where another kind of server answers, an output that is not a file, an
empty video."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest

import localaws.cli


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:  # the test reads the command's standard error alone
        pass


@pytest.fixture
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server that is not AWS (``python -m http.server``, of an empty folder) on 127.0.0.1: its URL."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path_factory.mktemp("web")))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("argv", [["deploy", "--engine", "in-process"], ["destroy", "--force"], ["redactor-layer"]])
def test_local_against_a_server_that_is_not_aws_is_one_line(web_server, tmp_path, capsys, argv):
    command, *options = argv
    extra = ["--data-dir", str(tmp_path)] if command != "redactor-layer" else []
    assert localaws.cli.main([command, "--endpoint", web_server, *options, *extra]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: {web_server} answers, but not as an AWS endpoint (another program on that port?): start the "
        f"local endpoint with: {localaws.cli.python_command('serve')}, and pass the URL it prints to --endpoint\n"
    )
    assert not (tmp_path / "outputs-local.json").exists()
