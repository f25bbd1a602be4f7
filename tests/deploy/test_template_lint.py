"""cfn-lint and ``sam validate --lint`` pass on every template the project ships.

cfn-lint runs with its informational checks too. ``sam validate --lint``
runs cfn-lint as sam bundles it; it does not run the SAM translator (that
needs AWS credentials to look up managed policies): test_template_security
translates every template offline instead.

Each template is linted as shipped (Lambda Managed Instances off by
default), and again with Managed Instances on by default (a copy whose
defaults choose a capacity provider, subnets and security groups), so that
the lint's default-value checks see both.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cfn import load
from deploy_support import (
    CHAT_TEMPLATE,
    INIT_TEMPLATES,
    TEMPLATES,
    need_executable,
    offline_env,
    template_id,
)

from lambdastream.deploy import scaffold

# What `sam deploy --parameter-overrides` would choose to switch Managed Instances on.
MANAGED_INSTANCES_ON = {
    "ManagedInstances": "true",
    "ManagedInstancesSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
    "ManagedInstancesSecurityGroupIds": "sg-0123456789abcdef0",
}


@pytest.fixture(params=["off", "on"], ids=lambda compute: f"managed-instances-{compute}")
def managed_instances(request) -> str:
    return request.param


@pytest.fixture
def linted(request, managed_instances: str, tmp_path: Path) -> Path:
    """The template as shipped, or a copy whose defaults switch Managed Instances on."""
    path: Path = request.param
    if managed_instances == "off":
        return path
    template = load(path)
    for name, value in MANAGED_INSTANCES_ON.items():
        template["Parameters"][name]["Default"] = value
    copy = tmp_path / "template.json"
    copy.write_text(json.dumps(template, indent=1))
    return copy


@pytest.mark.parametrize("linted", TEMPLATES, ids=template_id, indirect=True)
def test_cfn_lint(linted: Path):
    path = linted
    cfn_lint = need_executable("cfn-lint")
    result = subprocess.run(
        [cfn_lint, "--include-checks", "I", "--format", "parseable", "--", str(path)],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("linted", TEMPLATES, ids=template_id, indirect=True)
def test_sam_validate_lint(linted: Path):
    path = linted
    sam = need_executable("sam")
    result = subprocess.run(
        [sam, "validate", "--lint", "--region", "us-east-1", "--template-file", str(path)],
        cwd=path.parent,
        env=offline_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{path} is a valid SAM Template" in result.stdout + result.stderr


def test_templates_are_found():
    # The glob must keep finding the chat's template, and every choice of
    # `lambdastream init --template` must be checked as the project it writes.
    assert CHAT_TEMPLATE in TEMPLATES
    assert set(INIT_TEMPLATES) == set(scaffold.TEMPLATES) >= {"bedrock", "fastapi"}
    assert set(INIT_TEMPLATES.values()) <= set(TEMPLATES)
    package = Path(scaffold.__file__).parent / "project"
    written = {}
    for choice, (files, _) in scaffold.TEMPLATES.items():
        (source,) = [name for name, target in files.items() if target == "template.yaml"]
        written[source] = choice
        # What the user gets: the package's template, its name filled in.
        text = INIT_TEMPLATES[choice].read_text()
        assert text == (package / source).read_text().replace("{{name}}", f"my-{choice}")
        assert "{{" not in text
    # No template in the package that no choice writes (and so nothing checks).
    assert sorted(written) == sorted(p.name for p in package.glob("*template.yaml"))


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    # CI must not pass by skipping what it was meant to check.
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="lambdastream-no-such-tool"):
        need_executable("lambdastream-no-such-tool")
