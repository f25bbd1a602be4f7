"""``lambdastream init``: a new project that streams as generated and builds offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import need_python_bin, run_sam
from h11client import request

from lambdastream.deploy.scaffold import PROJECT_FILES


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
    result = init("my-chat", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "my-chat"


def test_init_writes_the_project_and_says_what_to_run(project):
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == (
        sorted(PROJECT_FILES.values())
    )
    assert "my-chat" in (project / "template.yaml").read_text().split("Parameters:")[0]
    assert "{{name}}" not in (project / "README.md").read_text()
    readme = (project / "README.md").read_text()
    for command in ("lambdastream dev app.handler", "sam build", "sam deploy --guided"):
        assert command in readme


def test_the_generated_project_streams_under_dev(project, dev_server):
    server = dev_server(
        "app.handler", project, "--bedrock-local", "--timeout", "60",
        env={"LAMBDASTREAM_BEDROCK_SCRIPT": "echo"},  # the prompt comes back, to assert
    )  # fmt: skip
    prompt = "Tell me why streaming matters"
    reply = request(
        server.url,
        "POST",
        [("content-type", "application/json")],
        body=json.dumps({"prompt": prompt}).encode(),
        timeout=60,
    )
    assert reply.status == 200, reply.body
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert prompt in reply.body.decode()
    assert len(reply.chunks) >= 4  # word by word, not in one piece
    bad = request(server.url, "POST", body=b"not json")
    assert bad.status == 400
    assert json.loads(bad.body) == {"error": 'send JSON {"prompt": "..."}'}


def test_the_generated_project_builds_offline_with_sam(project):
    # layer/Makefile runs the lambdastream command; sam builds the function
    # with python3.13, its runtime.
    path = [need_python_bin("3.13"), str(Path(sys.executable).parent)]
    for command in (["validate", "--lint", "--region", "us-east-1"], ["build"]):
        result = run_sam(command, project, path=path)
        assert result.returncode == 0, result.stdout + result.stderr
    built = project / ".aws-sam" / "build"
    assert os.access(built / "LambdastreamLayer" / "lambdastream", os.X_OK)
    assert (built / "LambdastreamLayer" / "python" / "lambdastream" / "runtime").is_dir()
    assert (built / "StreamingFunction" / "app.py").is_file()


def test_init_refuses_a_directory_that_holds_anything(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = init(str(target), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"lambdastream init: {target} is not empty; choose a new directory"
    ]
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_init_refuses_a_file_and_a_name_no_stack_can_have(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = init("afile", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "lambdastream init: afile is not a directory; choose a new directory"
    ]
    result = init("ok-dir", "--name", "1 bad name", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "pass --name" in result.stderr
    assert not (tmp_path / "ok-dir").exists()


def test_init_into_an_empty_directory_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    result = init("empty", "--name", "streamer", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty" / "app.py").is_file()
