"""The chat's container image, verified as far as this machine allows.

No Docker engine runs here, so the image is not built. What is checked comes
from the Dockerfile itself: hadolint lints it; its COPY and RUN steps are
carried out into directories standing for each stage's filesystem (the base
image's interpreter replaced by a stand-in with nothing installed, its
paths mapped into the stage); and its ENTRYPOINT and CMD, as written, start
the runtime under ``lambdastream dev``, which streams the chat's answer from
``bedrock-local`` through the Function URL and the Invoke API.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import inspect_bytecode
from dockerfile_parse import DockerfileParser
from h11client import request
from lambda_standin import MANAGED_BOOTSTRAP_RAN, ManagedRuntime, build, newest_lambda_python
from support import lambda_client

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "examples" / "chat" / "Dockerfile"
# The base image's environment (public.ecr.aws/lambda/python).
BASE_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime"}
# Directories of the image a step may touch; they are mapped into the stage.
IMAGE_DIRS = ("/build", "/layer", "/var/task")


class ImageBuild:
    """Carries out a Dockerfile's COPY and RUN steps into stand-in directories."""

    def __init__(self, dockerfile: Path, context: Path, root: Path, managed: ManagedRuntime):
        self.parser = DockerfileParser(str(dockerfile))
        self.context = context
        self.root = root
        self.managed = managed
        self.stages: list[Path] = []
        self.names: dict[str, Path] = {}
        self.entrypoint: list[str] = []
        self.cmd: list[str] = []

    def run(self) -> None:
        for step in self.parser.structure:
            instruction, value = step["instruction"], step["value"]
            if instruction == "FROM":
                self._from(value)
            elif instruction == "COPY":
                self._copy(value)
            elif instruction == "RUN":
                self._run(value)
            elif instruction == "ENTRYPOINT":
                self.entrypoint = json.loads(value)  # the exec form: a JSON array
            elif instruction == "CMD":
                self.cmd = json.loads(value)
            elif instruction not in ("COMMENT",):
                raise AssertionError(f"the stand-in build does not know {instruction}")

    def path(self, image_path: str, stage: Path | None = None) -> Path:
        """Where ``image_path`` of a stage is in the stand-in."""
        path = self._expand(image_path)
        assert path.startswith(IMAGE_DIRS), f"{path} is outside the mapped image directories"
        return (stage or self.stages[-1]) / path.lstrip("/")

    def _from(self, value: str) -> None:
        image, _, name = value.partition(" AS ")
        assert image.startswith("public.ecr.aws/lambda/python:"), image
        stage = self.root / f"stage{len(self.stages)}"
        stage.mkdir()
        self.stages.append(stage)
        if name:
            self.names[name.strip()] = stage

    def _copy(self, value: str) -> None:
        args = shlex.split(value)
        source_root = self.context
        if args[0].startswith("--from="):
            source_root = self.names[args.pop(0).split("=", 1)[1]]
        *sources, dest = args
        target = self.path(dest)
        for source in sources:
            origin = source_root / self._expand(source).lstrip("/")
            assert origin.exists(), f"COPY {source}: nothing at {origin}"
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)

    def _run(self, command: str) -> None:
        command = self._expand(command)
        prefix = r"(?<![\w/.-])"
        for image_dir in IMAGE_DIRS:
            command = re.sub(
                prefix + re.escape(image_dir), str(self.stages[-1]) + image_dir, command
            )
        command = re.sub(prefix + r"python3(?![\w.])", str(self.managed.python), command)
        command = re.sub(prefix + r"pip(?![\w.-])", f"{sys.executable} -m pip", command)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            # Offline: a step that needs the network fails here.
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "HTTPS_PROXY": "http://127.0.0.1:9",
        }
        result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env)
        assert result.returncode == 0, f"RUN {command}\n{result.stdout}\n{result.stderr}"

    @staticmethod
    def _expand(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: BASE_ENV[m.group(1)], text)


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    version, interpreter = newest_lambda_python("3.13")
    if version != "3.13":
        pytest.skip("the image is python:3.13 and this machine has no python3.13")
    root = tmp_path_factory.mktemp("image")
    managed = build(root / "base", version, interpreter)
    built = ImageBuild(DOCKERFILE, REPO, root, managed)
    built.run()
    return built


def test_the_image_holds_the_function_and_only_the_layers_modules(image):
    task = image.path("/var/task")
    assert (task / "app.py").is_file() and (task / "static" / "index.html").is_file()
    assert (task / "lambdastream" / "runtime" / "bootstrap.py").is_file()
    assert not (task / "lambdastream" / "local").exists()
    # Compiled for the image's Python, so a read-only image never compiles:
    # every module, each an unchecked-hash .pyc that no file date makes stale
    # (the stand-in build runs in other directories: no path check).
    report = inspect_bytecode(image.managed.python, [(task, None)])
    assert report["tag"] == "cpython-313" and report["sources"] >= 20
    assert report["problems"] == []


def test_the_entrypoint_and_command_stream_the_chat(image, dev_server):
    assert image.entrypoint[0] == "/var/lang/bin/python3.13"
    assert image.cmd == ["app.handler"]
    command = [str(image.managed.python), *image.entrypoint[1:], *image.cmd]
    server = dev_server(
        image.cmd[0],
        image.path("/var/task"),
        "--bootstrap", shlex.join(command), "--name", "chat", "--timeout", "60", "--bedrock-local",
        "--env", f"LAMBDA_RUNTIME_DIR={image.managed.runtime_dir}",
        env={"PYTHONPATH": "", "LAMBDASTREAM_BEDROCK_SCRIPT": "echo"},
    )  # fmt: skip
    prompt = "Does the image stream?"
    reply = request(
        server.url, "POST", [("content-type", "application/json")],
        body=json.dumps({"prompt": prompt}).encode(), timeout=60,
    )  # fmt: skip
    assert reply.status == 200, reply.body
    assert prompt in reply.body.decode()
    assert len(reply.chunks) >= 4
    lam = lambda_client(server.api_url)
    events = lam.invoke_with_response_stream(
        FunctionName="chat", Payload=json.dumps({"prompt": prompt})
    )["EventStream"]
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert prompt in payload.partition(b"\0" * 8)[2].decode()
    assert MANAGED_BOOTSTRAP_RAN not in server.logs()
