"""The docs' CDK, Terraform and Serverless Framework snippets, run as written.

Each snippet is read from the section "The layer, for CDK, Terraform or
Serverless Framework" (docs/deploy.md today; the README and every page
under docs/ are searched, so the section may move), never copied here, put in a fresh
directory next to the layer zip that ``lambdastream build layer`` makes and a
function's ``app.py`` where the snippet looks for it, then handed to the tool
it is written for:

- CDK (```python): the stack is instantiated in an ``aws_cdk.App`` and
  synthesized (aws-cdk-lib from PyPI, on Node through jsii); the assertions
  read the CloudFormation template and the asset manifest CDK deploys from.
- Terraform (```hcl): parsed with python-hcl2 (always), and ``terraform fmt``,
  ``init`` and ``validate`` with the AWS provider, offline, where the machine
  has Terraform and a filesystem mirror of the provider: they come from no
  registry this project reaches (HashiCorp's own sites). Set
  ``LAMBDASTREAM_TF_PROVIDER_MIRROR`` to a directory holding
  ``registry.terraform.io/hashicorp/aws/...``; else Terraform's implied local
  mirrors and ``/opt/tf-plugins`` are searched.
- Serverless Framework (```yaml): ``osls package`` (the open-source fork of
  v3; npm, tests/readme_deploy) turns it into CloudFormation. Packaging asks
  CloudFormation whether the stack exists (to skip re-uploading an unchanged
  layer); a loopback stand-in answers that it does not, as for a first
  deploy.

Install: the venv's dev extra (aws-cdk-lib, constructs, python-hcl2) and
``tools/install-readme-deploy-tools.sh`` (osls). Under CI=true a missing tool
that make test installs fails its test; elsewhere the test is skipped and
says what is missing. Terraform, which nothing here can install, is used
where the machine has it and skipped where it does not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from deploy.deploy_support import offline_env
from support import REPO, missing

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SECTION = "The layer, for CDK, Terraform or Serverless Framework"
OSLS_DIR = REPO / "tests" / "readme_deploy"
LAYER = "lambdastream-layer.zip"
WRAPPER_ENV = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambdastream"}
BOTH_INVOKE_ACTIONS = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
APP_PY = "def handler(event, context):\n    return 'hi'\n"


def section() -> tuple[str, list[str]]:
    """The page holding the section's heading, and the section's lines after it."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            heading = re.fullmatch(r"(#{1,6}) (.*)\n?", line)
            if heading and heading.group(2) == SECTION:
                found.append((page, len(heading.group(1)), lines[i + 1 :]))
    assert len(found) == 1, f"{len(found)} pages have a heading {SECTION!r}"
    page, level, rest = found[0]
    return page.relative_to(REPO).as_posix(), _until_heading(rest, level)


def _until_heading(lines: list[str], level: int) -> list[str]:
    """``lines`` up to the next heading of ``level`` or above (outside fences)."""
    fence = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(rf"#{{1,{level}}} ", line):
            return lines[:i]
    return lines


def snippet(language: str) -> str:
    """The one ```language block of the section, exactly as the page has it."""
    page, lines = section()
    blocks: list[list[str]] = []
    fence = None  # the language of the block we are in, "" for an unnamed one
    for line in lines:
        if fence is None and re.match(r"#{1,6} ", line):
            break  # a subsection: not this section's own
        if fence is None and line.startswith("```"):
            fence = line[3:].strip()
            if fence == language:
                blocks.append([])
        elif fence is not None and line.rstrip("\n") == "```":
            fence = None
        elif fence == language:
            blocks[-1].append(line)
    assert len(blocks) == 1, f"{page}: {SECTION!r} should hold one ```{language} block"
    return "".join(blocks[0])


unavailable = missing


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    """Run a tool to its end, its output kept for the assertion messages."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m lambdastream build layer -o lambdastream-layer.zip``, once for the module."""
    out = tmp_path_factory.mktemp("layer") / LAYER
    build = [sys.executable, "-m", "lambdastream", "build", "layer", "-o", str(out)]
    result = run(build, cwd=REPO, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def project(tmp_path: Path, layer_zip: Path) -> Path:
    """A user's directory with the layer zip in it; each test adds the function's code."""
    shutil.copyfile(layer_zip, tmp_path / LAYER)
    return tmp_path


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Logical id to properties, for the template's resources of this type."""
    resources = template["Resources"].items()
    return {lid: r.get("Properties", {}) for lid, r in resources if r["Type"] == kind}


def one_resource(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """The logical id and properties of the template's only resource of this type."""
    found = resources_of(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- AWS CDK ------------------------------------------------------------------

# Runs in a process of its own, in the user's directory: CDK resolves asset
# paths against the working directory of its Node kernel.
_SYNTH = """
import runpy, sys
import aws_cdk
defined = runpy.run_path("stack.py")
stacks = [v for v in defined.values()
          if isinstance(v, type) and issubclass(v, aws_cdk.Stack) and v is not aws_cdk.Stack]
assert len(stacks) == 1, f"the snippet should define one Stack, not {stacks}"
app = aws_cdk.App(outdir="cdk.out")
stacks[0](app, "ChatStack")
app.synth()
"""


def test_cdk_snippet_synthesizes_a_streaming_function_with_the_layer(project, layer_zip):
    if importlib.util.find_spec("aws_cdk") is None:
        unavailable("aws-cdk-lib", "pip install 'aws-cdk-lib>=2.220,<3' 'constructs>=10,<11'")
    if shutil.which("node") is None:
        unavailable("node (aws-cdk-lib runs on it through jsii)", "apt-get install nodejs")
    (project / "stack.py").write_text(snippet("python"))
    (project / "function").mkdir()
    (project / "function" / "app.py").write_text(APP_PY)

    result = run([sys.executable, "-c", _SYNTH], cwd=project, env=offline_env())
    assert result.returncode == 0, f"synth failed:\n{result.stdout}\n{result.stderr}"
    out = project / "cdk.out"
    template = json.loads((out / "ChatStack.template.json").read_text())

    layer_id, layer = one_resource(template, "AWS::Lambda::LayerVersion")
    fn_id, fn = one_resource(template, "AWS::Lambda::Function")
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "app.handler"
    assert fn["Layers"] == [{"Ref": layer_id}]
    assert fn["Environment"]["Variables"] == WRAPPER_ENV
    fn_arn = {"Fn::GetAtt": [fn_id, "Arn"]}
    _, url = one_resource(template, "AWS::Lambda::Url")
    assert url["AuthType"] == "AWS_IAM"
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    assert url["TargetFunctionArn"] == fn_arn

    # What `cdk deploy` uploads: the built zip as it is for the layer (a
    # directory or a zip of the zip would not unpack into /opt), app.py zipped.
    assets = json.loads((out / "ChatStack.assets.json").read_text())["files"]
    layer_asset = assets[layer["Content"]["S3Key"].removesuffix(".zip")]["source"]
    assert layer_asset["packaging"] == "file"
    assert (out / layer_asset["path"]).read_bytes() == layer_zip.read_bytes()
    code_asset = assets[fn["Code"]["S3Key"].removesuffix(".zip")]["source"]
    assert code_asset["packaging"] == "zip"
    assert (out / code_asset["path"] / "app.py").read_text() == APP_PY

    # The caller (the role the account assumes; the other is the function's):
    # both actions on the function, lambda:InvokeFunction only through the URL
    # (no direct Invoke, no other version or alias).
    callers = [
        lid
        for lid, role in resources_of(template, "AWS::IAM::Role").items()
        if "AWS" in role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    ]
    assert len(callers) == 1, callers
    conditions: dict[str, list[Any]] = {}
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        if {"Ref": callers[0]} not in policy.get("Roles", []):
            continue
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert as_list(statement["Resource"]) == [fn_arn], statement
            for action in as_list(statement["Action"]):
                conditions.setdefault(action, []).append(statement.get("Condition"))
    assert set(conditions) == BOTH_INVOKE_ACTIONS
    assert conditions["lambda:InvokeFunction"] == [{"Bool": {"lambda:InvokedViaFunctionUrl": True}}]


# --- Terraform -----------------------------------------------------------------


def hcl(text: str) -> dict[str, Any]:
    """HCL parsed by python-hcl2: literals unquoted, expressions as ``${...}`` strings."""
    if importlib.util.find_spec("hcl2") is None:
        unavailable("python-hcl2", "pip install 'python-hcl2>=8,<9'")
    import hcl2

    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    return hcl2.loads(text, serialization_options=options)


def jsonencoded(expression: str) -> Any:
    """The HCL value inside ``${jsonencode(...)}``, parsed."""
    inner = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", expression, re.S)
    assert inner, f"not a jsonencode(...) expression: {expression}"
    return hcl(f"value = {inner.group(1)}")["value"]


def test_terraform_snippet_declares_a_streaming_function_its_role_and_callers_policy():
    parsed = hcl(snippet("hcl"))
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for block in parsed["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                assert (kind, name) not in resources, f"{kind}.{name} declared twice"
                resources[kind, name] = body

    # Every resource an expression refers to is declared (as validate checks).
    for refers in re.findall(r"\b(aws_\w+)\.([\w-]+)\.", json.dumps(parsed)):
        assert tuple(refers) in resources, f"{'.'.join(refers)} is used but not declared"

    layer = resources["aws_lambda_layer_version", "lambdastream"]
    assert layer["filename"] == LAYER
    assert layer["source_code_hash"] == f'${{filebase64sha256("{LAYER}")}}'
    assert "python3.13" in layer["compatible_runtimes"]

    fn = resources["aws_lambda_function", "chat"]
    assert fn["runtime"] == "python3.13"
    assert fn["architectures"] == ["arm64"]
    assert fn["handler"] == "app.handler"
    assert fn["source_code_hash"] == f'${{filebase64sha256("{fn["filename"]}")}}'
    assert fn["layers"] == ["${aws_lambda_layer_version.lambdastream.arn}"]
    assert [env["variables"] for env in fn["environment"]] == [WRAPPER_ENV]

    role_name = re.fullmatch(r"\$\{aws_iam_role\.(\w+)\.arn\}", fn["role"])
    assert role_name, fn["role"]
    trust = jsonencoded(resources["aws_iam_role", role_name.group(1)]["assume_role_policy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]

    url = resources["aws_lambda_function_url", "chat"]
    assert url["function_name"] == "${aws_lambda_function.chat.function_name}"
    assert url["authorization_type"] == "AWS_IAM"
    assert url["invoke_mode"] == "RESPONSE_STREAM"

    # An AWS_IAM URL: the callers' identity policy grants both actions.
    granted = set()
    for (kind, _), body in resources.items():
        if kind == "aws_iam_policy":
            for statement in jsonencoded(body["policy"])["Statement"]:
                assert statement["Effect"] == "Allow"
                assert statement["Resource"] == "${aws_lambda_function.chat.arn}"
                granted |= set(as_list(statement["Action"]))
    assert granted == BOTH_INVOKE_ACTIONS


def terraform_provider_mirror(platform: str) -> Path | None:
    """A filesystem mirror holding hashicorp/aws for this platform, if the machine has one."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    candidates = [
        os.environ.get("LAMBDASTREAM_TF_PROVIDER_MIRROR"),
        # Terraform's implied local mirrors, then where this kind of machine has one.
        Path.home() / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        "/usr/local/share/terraform/plugins",
        "/usr/share/terraform/plugins",
        "/opt/tf-plugins",
    ]
    for candidate in filter(None, candidates):
        aws = Path(candidate) / "registry.terraform.io" / "hashicorp" / "aws"
        if any(aws.glob(f"*/{platform}/terraform-provider-aws*")):
            return Path(candidate)
    return None


def test_terraform_snippet_validates_against_the_aws_provider(project):
    # Terraform and its provider come from no registry make test can reach:
    # where a machine lacks them, this test is skipped even under CI (the
    # parse test above still runs), since no install step could provide them.
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform on PATH (no registry here has it)")
    version = json.loads(run([terraform, "version", "-json"], project, offline_env()).stdout)
    mirror = terraform_provider_mirror(version["platform"])
    if mirror is None:
        pytest.skip(f"no local mirror of the hashicorp/aws provider for {version['platform']}")
    (project / "main.tf").write_text(snippet("hcl"))
    with zipfile.ZipFile(project / "function.zip", "w") as function_zip:
        function_zip.writestr("app.py", APP_PY)
    # The mirror only: Terraform may not download anything.
    (project / "terraform.rc").write_text(
        f"provider_installation {{\n  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n"
        "  }\n}\n"
    )
    env = offline_env(
        TF_CLI_CONFIG_FILE=str(project / "terraform.rc"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
    )
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    env.pop("TF_DATA_DIR", None)

    fmt = run([terraform, "fmt", "-check", "-diff", "-no-color", "main.tf"], project, env)
    assert fmt.returncode == 0, f"the docs' HCL is not as terraform fmt writes it:\n{fmt.stdout}"
    init = run([terraform, "init", "-backend=false", "-input=false", "-no-color"], project, env)
    assert init.returncode == 0, f"terraform init failed:\n{init.stdout}\n{init.stderr}"
    validate = run([terraform, "validate", "-json", "-no-color"], project, env)
    verdict = json.loads(validate.stdout)
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in verdict["diagnostics"]
    ]
    assert verdict["valid"], problems
    assert verdict["warning_count"] == 0, problems


# --- Serverless Framework ---------------------------------------------------------


class _MissingStacks(BaseHTTPRequestHandler):
    """CloudFormation, as for a first deploy: every stack asked about does not exist."""

    calls: list[str]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = dict(p.split("=", 1) for p in self.rfile.read(length).decode().split("&") if p)
        self.calls.append(form.get("Action", "?"))
        body = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
            "<Type>Sender</Type><Code>ValidationError</Code>"
            f"<Message>Stack with id {form.get('StackName', '')} does not exist</Message>"
            "</Error><RequestId>stand-in</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloudformation() -> Iterator[tuple[str, list[str]]]:
    """A loopback CloudFormation endpoint and the actions it was asked for."""
    calls: list[str] = []
    handler = type("Handler", (_MissingStacks,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def test_serverless_snippet_packages_a_streaming_function_with_the_layer(
    project, cloudformation, tmp_path_factory
):
    osls = OSLS_DIR / "node_modules" / ".bin" / "osls"
    if not osls.exists() or shutil.which("node") is None:
        unavailable("osls", "bash tools/install-readme-deploy-tools.sh")
    endpoint, calls = cloudformation
    (project / "serverless.yml").write_text(snippet("yaml"))
    (project / "app.py").write_text(APP_PY)
    # osls sends its AWS calls through any proxy set (it ignores NO_PROXY):
    # none here, and every AWS endpoint is the stand-in.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k[:4] != "AWS_"}
    env.update(
        HOME=str(tmp_path_factory.mktemp("home")),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="stand-in",
        AWS_EC2_METADATA_DISABLED="true",
    )

    result = run([str(osls), "package", "--stage", "dev", "--region", "us-east-1"], project, env)
    assert result.returncode == 0, f"osls package failed:\n{result.stdout}\n{result.stderr}"
    assert set(calls) <= {"DescribeStacks"}, calls
    out = project / ".serverless"
    template = json.loads((out / "cloudformation-template-update-stack.json").read_text())

    # The logical id the snippet's !Ref names is the framework's for the layer.
    layer_id, layer = one_resource(template, "AWS::Lambda::LayerVersion")
    assert layer_id == "LambdastreamLambdaLayer"
    assert layer["Content"]["S3Key"].endswith(f"/{LAYER}")
    fn_id, fn = one_resource(template, "AWS::Lambda::Function")
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "app.handler"
    assert fn["Layers"] == [{"Ref": layer_id}]
    assert fn["Environment"]["Variables"] == WRAPPER_ENV
    _, url = one_resource(template, "AWS::Lambda::Url")
    assert url["AuthType"] == "AWS_IAM"
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    # AWS_IAM: nothing in the function's resource policy; callers bring their own.
    assert not resources_of(template, "AWS::Lambda::Permission")
    # The function's package is its code, not a second copy of the layer.
    with zipfile.ZipFile(out / "chat.zip") as package:
        assert package.namelist() == ["app.py"]
