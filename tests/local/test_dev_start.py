"""``lambdastream dev`` as a newcomer starts it: its flags, its defaults, a handler
that is not there, and two servers side by side."""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from h11client import request
from support import REPO, DevServer, write_handler

from lambdastream.cli import build_parser
from lambdastream.local.command import function_config
from lambdastream.local.dev_flags import api_port


def dev(*argv: str) -> argparse.Namespace:
    """``lambdastream dev ARGV`` as the command line parses it."""
    return build_parser(["dev", *argv]).parse_args(["dev", *argv])


def run_dev(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``lambdastream dev ARGV`` to its end (it must end by itself)."""
    return subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", *argv],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip


def popen_dev(*argv: str) -> DevServer:
    """Start ``lambdastream dev ARGV`` as typed (no port flags added); wait for its banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdastream", "dev", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    server = DevServer(proc)
    try:
        server.url = server.wait_for_log(r"Function URL: (http://\S+?)/?$").group(1)
        server.api_url = server.wait_for_log(r"Invoke API:\s+(http://\S+)$").group(1)
    except BaseException:
        server.stop()
        raise
    return server


HELLO = """
def handler(event, context):
    return {"statusCode": 200, "body": "hi"}
"""


# ------------------------------------------------------------------ ports
@pytest.mark.parametrize("port", ["70000", "-1", "nine"])
@pytest.mark.parametrize("flag", ["--port", "--api-port"])
def test_a_port_out_of_range_is_refused_in_one_line(tmp_path, flag, port):
    result = run_dev("app.handler", "--root", str(tmp_path), flag, port)
    assert result.returncode == 2
    assert result.stderr == (
        f"lambdastream dev: error: argument {flag}: {port} is not a port:"
        " use 0 (any free port) to 65535\n"
    )


def _two_free_ports() -> int:
    """A port P such that P and P + 1 are both free just now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65535:
            with socket.socket() as next_one:
                try:
                    next_one.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two free ports in a row")


@pytest.mark.timeout(60)
def test_two_servers_given_only_port_both_start_the_invoke_api_on_the_next_port(tmp_path):
    root = write_handler(tmp_path, HELLO)
    servers = []
    try:
        for _ in range(2):
            port = _two_free_ports()
            servers.append(popen_dev("app.handler", "--root", str(root), "--port", str(port)))
            assert servers[-1].url == f"http://127.0.0.1:{port}"
            assert servers[-1].api_url == f"http://127.0.0.1:{port + 1}"
        assert [request(server.url + "/").body for server in servers] == [b"hi", b"hi"]
    finally:
        for server in servers:
            server.stop()


def test_the_invoke_api_port_follows_port_unless_given():
    assert api_port(dev("app.handler")) == 9001
    assert api_port(dev("app.handler", "--port", "9100")) == 9101
    assert api_port(dev("app.handler", "--port", "0")) == 0
    assert api_port(dev("app.handler", "--port", "9100", "--api-port", "7000")) == 7000


# ---------------------------------------------------------------- timeout
def _template_timeout(path: Path) -> float:
    text = path.read_text()
    found = re.search(r"\n  FunctionTimeout:\n(?:    .*\n)*?    Default: (\d+)\n", text)
    assert found, f"{path}: no FunctionTimeout parameter with a default"
    return float(found.group(1))


def test_the_default_timeout_is_what_the_templates_deploy():
    # `lambdastream init`'s template and the chat's; the FastAPI one deploys less.
    project = REPO / "src" / "lambdastream" / "deploy" / "project"
    deployed = {
        _template_timeout(project / "template.yaml"),
        _template_timeout(REPO / "examples" / "chat" / "template.yaml"),
    }
    assert deployed == {dev("app.handler").timeout}
    assert dev("app.handler").timeout >= _template_timeout(project / "fastapi-template.yaml")


SLOW_STREAM = """
import time

def handler(event, context):
    yield "begun\\n"
    time.sleep(3.5)  # longer than Lambda's own 3 s default, shorter than any template's
    yield "ended\\n"
"""


@pytest.mark.timeout(60)
def test_a_stream_longer_than_3_s_arrives_whole_under_the_default_timeout(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, SLOW_STREAM))
    reply = request(server.url + "/", timeout=30)
    assert reply.status == 200
    assert reply.body == b"begun\nended\n"
    assert reply.trailers == []


# -------------------------------------------------------- a missing handler
def _runtimes_own_error(handler: str, root: Path) -> str:
    """What the runtime's own loader reports for ``handler`` in ``root``: type: message."""
    probe = (
        "import sys\n"
        "from lambdastream.runtime.bootstrap import load_handler, prepare_sys_path\n"
        "prepare_sys_path(sys.argv[2])\n"
        "try:\n"
        "    load_handler(sys.argv[1])\n"
        "except Exception as exc:\n"
        "    print(f'{exc.error_type}: {exc.message}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, handler, str(root)],
        capture_output=True, text=True, timeout=30, cwd=root,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("handler", "files"),
    [
        ("nosuch.handler", {}),
        ("pkg.nosuch.handler", {"pkg/__init__.py": ""}),
        ("space/nosuch.handler", {"space/other.py": ""}),
        ("nosuch:app", {"app.py": "def handler(event, context):\n    return 1\n"}),
    ],
)
def test_a_handler_whose_module_is_nowhere_fails_at_start_with_the_init_error(
    tmp_path, handler, files
):
    for name, text in files.items():
        write_handler(tmp_path, text, name=name)
    result = run_dev(handler, "--root", str(tmp_path), "--port", "0")
    assert result.returncode == 1, result
    assert "Function URL" not in result.stdout  # no banner that looks healthy
    spec = handler.replace(":", ".")
    init_error = _runtimes_own_error(spec, tmp_path)
    assert init_error.startswith("Runtime.ImportModuleError: Unable to import module"), init_error
    assert result.stderr.startswith(
        f"lambdastream dev: the handler {spec} does not resolve; every init would fail with\n"
        f"  {init_error}\n"
        f"  (looked under --root {tmp_path.resolve()} and on the Python path:"
    ), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(60)
def test_with_watch_a_missing_module_is_a_warning_and_serves_once_it_is_written(tmp_path):
    server = popen_dev("app.handler", "--root", str(tmp_path), "--port", "0", "--watch")
    try:
        server.wait_for_log(
            r"WARNING: Runtime\.ImportModuleError: Unable to import module 'app':"
            r" No module named 'app' \(nothing under --root .* yet: watching for it\)"
        )
        write_handler(tmp_path, HELLO)
        reply = request(server.url + "/")
        deadline = time.monotonic() + 20
        while reply.body != b"hi" and time.monotonic() < deadline:
            time.sleep(0.2)  # a reload that --watch started as the file landed may be under way
            reply = request(server.url + "/")
        assert reply.body == b"hi"
    finally:
        server.stop()


@pytest.mark.timeout(60)
def test_a_module_that_exists_but_fails_to_import_still_starts_as_lambda_deploys_it(tmp_path):
    # An import error inside the module is the runtime's to report, per invocation.
    root = write_handler(tmp_path, "import no_such_dependency\n")
    server = popen_dev("app.handler", "--root", str(root), "--port", "0")
    try:
        assert request(server.url + "/").status == 502
        server.wait_for_log(r"Runtime\.ImportModuleError: Unable to import module 'app'")
    finally:
        server.stop()


@pytest.mark.timeout(60)
def test_a_provisioned_environment_whose_init_fails_stops_dev_with_the_init_error(tmp_path):
    root = write_handler(tmp_path, "raise RuntimeError('init boom')\n")
    result = run_dev("app.handler", "--root", str(root), "--port", "0", "--provisioned", "1")
    assert result.returncode == 1, result
    assert "Function URL" not in result.stdout
    assert "[ERROR] RuntimeError: init boom" in result.stdout
    assert result.stderr.startswith(
        "lambdastream dev: 1 of 1 provisioned environments failed to initialize"
        " (the init error is above)"
    ), result.stderr


# ------------------------------------------------------- --max-concurrency
def test_max_concurrency_sets_the_functions_variable_only_above_one():
    one = function_config(dev("app.handler"), None)
    assert one.max_concurrency == 1
    assert "AWS_LAMBDA_MAX_CONCURRENCY" not in one.environ("127.0.0.1:9001", "stream")
    four = function_config(dev("app.handler", "--max-concurrency", "4"), None)
    assert four.max_concurrency == 4
    assert four.environ("127.0.0.1:9001", "stream")["AWS_LAMBDA_MAX_CONCURRENCY"] == "4"


@pytest.mark.parametrize("value", ["0", "65", "-3", "many"])
def test_max_concurrency_out_of_range_is_refused_in_one_line(tmp_path, value):
    result = run_dev("app.handler", "--root", str(tmp_path), "--max-concurrency", value)
    assert result.returncode == 2
    assert result.stderr == (
        f"lambdastream dev: error: argument --max-concurrency: {value} is not from 1 to 64"
        " invocations per environment\n"
    )


def test_max_concurrency_is_in_the_help_with_its_default_and_variable():
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "--help"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    text = " ".join(result.stdout.split())
    assert "--max-concurrency N invocations one environment takes at once" in text
    assert "AWS_LAMBDA_MAX_CONCURRENCY=N is set when N > 1" in text
    described = text.split("--max-concurrency N invocations", 1)[1].split("--provisioned", 1)[0]
    assert "default 1" in described
