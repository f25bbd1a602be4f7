"""``lambdastream init DIR --template fastapi``: a FastAPI project that streams
as generated, under ``lambdastream dev`` (as ``app.handler``, as ``app:app``
and behind the local REST API) and in-process under FastAPI's own test
client; its SAM template passes cfn-lint."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from h11client import request
from rest_support import start_rest
from support import missing

from lambdastream.deploy.scaffold import FASTAPI_FILES, PROJECT_FILES


def init(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambdastream", "init", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path) -> Path:
    result = init("my-api", "--template", "fastapi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Created my-api (fastapi)" in result.stdout
    assert "lambdastream dev app.handler" in result.stdout
    return tmp_path / "my-api"


def test_the_fastapi_project_has_its_files_and_says_what_to_run(project):
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == sorted(FASTAPI_FILES.values())
    assert set(FASTAPI_FILES.values()) == set(PROJECT_FILES.values())  # same layout as bedrock
    for path in project.rglob("*"):
        if path.is_file():
            assert "{{name}}" not in path.read_text(), path
    app = (project / "app.py").read_text()
    assert "from lambdastream.asgi import asgi" in app and "handler = asgi(app)" in app
    assert (project / "requirements.txt").read_text().splitlines()[-1] == "fastapi"
    template = (project / "template.yaml").read_text()
    assert "my-api: a FastAPI app" in template
    expected = (
        "Handler: app.handler",
        "InvokeMode: RESPONSE_STREAM",
        "Default: AWS_IAM",
        "AWS_LAMBDA_EXEC_WRAPPER: /opt/lambdastream",
        "Layers: [!Ref LambdastreamLayer]",
    )
    for line in expected:
        assert line in template, line
    assert "bedrock" not in template.lower()  # no Bedrock permission in an app that needs none
    readme = (project / "README.md").read_text()
    for command in ("lambdastream dev app.handler", "sam build", "sam deploy --guided",
                    "curl -N http://127.0.0.1:9000/stream"):  # fmt: skip
        assert command in readme


def test_the_default_template_stays_bedrock(tmp_path):
    assert init("chat", cwd=tmp_path).returncode == 0
    assert "stream_text" in (tmp_path / "chat" / "app.py").read_text()
    result = init("x", "--template", "flask", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice: 'flask'" in result.stderr
    assert not (tmp_path / "x").exists()
    help_text = subprocess.run(
        [sys.executable, "-m", "lambdastream", "init", "--help"],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    assert "{bedrock,fastapi}" in help_text and "(default bedrock)" in " ".join(help_text.split())


def test_the_generated_app_runs_under_fastapis_test_client(project):
    from fastapi.testclient import TestClient

    spec = importlib.util.spec_from_file_location("generated_fastapi_app", project / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    client = TestClient(module.app)
    assert client.get("/").json() == {"hello": "world", "app": "my-api"}
    lines = client.get("/stream", params={"count": 3})
    assert lines.text == "line 0\nline 1\nline 2\n"
    assert lines.headers["content-type"] == "text/plain; charset=utf-8"
    events = client.get("/events", params={"count": 2})
    assert events.headers["content-type"].startswith("text/event-stream")
    assert (
        events.text == 'id: 0\nevent: tick\ndata: {"n":0}\n\nid: 1\nevent: tick\ndata: {"n":1}\n\n'
    )


def check_streams(base: str) -> None:
    """What a client of the generated app sees through ``lambdastream dev``."""
    hello = request(base + "/", timeout=30)
    assert hello.status == 200, hello.body
    assert json.loads(hello.body) == {"hello": "world", "app": "my-api"}
    lines = request(base + "/stream?count=4", timeout=30)
    assert lines.status == 200 and lines.body == b"line 0\nline 1\nline 2\nline 3\n"
    assert lines.header("content-type") == "text/plain; charset=utf-8"
    arrivals = [at for at, data in lines.chunks for _ in range(data.count(b"\n"))]
    for i, at in enumerate(arrivals):  # each line as the app yields it, 0.2 s apart
        assert at - arrivals[0] >= i * 0.15, arrivals
    events = request(base + "/events?count=3", timeout=30)
    assert events.status == 200
    assert events.header(
        "content-type",
    ).startswith("text/event-stream")  # type: ignore[union-attr]
    assert events.header("cache-control") == "no-cache"
    assert events.body.decode().split("\n\n")[:3] == [
        f'id: {i}\nevent: tick\ndata: {{"n":{i}}}' for i in range(3)
    ]
    assert len([c for _, c in events.chunks if c]) >= 3  # one event at a time, not one piece


@pytest.mark.timeout(90)
@pytest.mark.parametrize("spec", ["app.handler", "app:app"])
def test_the_generated_project_streams_under_dev(project, dev_server, spec):
    server = dev_server(spec, project, "--timeout", "30")
    check_streams(server.url)


@pytest.mark.timeout(90)
def test_the_generated_project_streams_behind_the_local_rest_api(project):
    server = start_rest("app.handler", project, "--timeout", "30")
    try:
        check_streams(server.url)
    finally:
        server.stop()


def test_the_generated_template_passes_cfn_lint(project):
    beside = Path(sys.executable).parent / "cfn-lint"
    if not beside.is_file():
        missing("the cfn-lint command", "make install installs it")
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    result = subprocess.run(
        [str(beside), "--include-checks", "I", "--format", "parseable", "--",
         str(project / "template.yaml")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
