"""cfn-lint and ``sam validate --lint`` pass on every template the project ships.

cfn-lint runs with its informational checks too. ``sam validate --lint``
runs cfn-lint as sam bundles it; it does not run the SAM translator (that
needs AWS credentials to look up managed policies): test_template_security
translates every template offline instead.

Each template is linted as shipped (Lambda Managed Instances off by
default), and again with Managed Instances on by default (a copy whose
defaults choose a capacity provider, subnets and security groups), so that
the lint's default-value checks see both. The chat's template is linted
again in each of its authentication modes (``Auth``: IAM, API_KEY with and
without a customer managed key, CLOUDFRONT), with Managed Instances off and
on, the same way: a copy whose defaults choose the mode.
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
# And to choose each of the chat's authentication modes.
_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-api-key-AbCdEf"
_KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CHAT_AUTH_MODES = {
    "IAM": {"Auth": "IAM"},
    "API_KEY": {"Auth": "API_KEY", "ApiKeySecretArn": _SECRET},
    "API_KEY+KMS": {
        "Auth": "API_KEY",
        "ApiKeySecretArn": _SECRET,
        "ApiKeySecretKmsKeyArn": _KMS_KEY,
    },
    "CLOUDFRONT": {"Auth": "CLOUDFRONT"},
}


def _with_defaults(path: Path, defaults: dict[str, str], directory: Path) -> Path:
    """A copy of the template at ``path`` whose parameters default to ``defaults``."""
    template = load(path)
    for name, value in defaults.items():
        template["Parameters"][name]["Default"] = value
    copy = directory / "template.json"
    copy.write_text(json.dumps(template, indent=1))
    return copy


def _cfn_lint(path: Path) -> None:
    cfn_lint = need_executable("cfn-lint")
    result = subprocess.run(
        [cfn_lint, "--include-checks", "I", "--format", "parseable", "--", str(path)],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _sam_validate_lint(path: Path) -> None:
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


@pytest.fixture(params=["off", "on"], ids=lambda compute: f"managed-instances-{compute}")
def managed_instances(request) -> str:
    return request.param


@pytest.fixture
def linted(request, managed_instances: str, tmp_path: Path) -> Path:
    """The template as shipped, or a copy whose defaults switch Managed Instances on."""
    path: Path = request.param
    if managed_instances == "off":
        return path
    return _with_defaults(path, MANAGED_INSTANCES_ON, tmp_path)


@pytest.mark.parametrize("linted", TEMPLATES, ids=template_id, indirect=True)
def test_cfn_lint(linted: Path):
    _cfn_lint(linted)


@pytest.mark.parametrize("linted", TEMPLATES, ids=template_id, indirect=True)
def test_sam_validate_lint(linted: Path):
    _sam_validate_lint(linted)


@pytest.mark.parametrize("mode", CHAT_AUTH_MODES)
def test_chat_auth_mode_lints_clean(mode: str, managed_instances: str, tmp_path: Path):
    defaults = CHAT_AUTH_MODES[mode] | (MANAGED_INSTANCES_ON if managed_instances == "on" else {})
    path = _with_defaults(CHAT_TEMPLATE, defaults, tmp_path)
    _cfn_lint(path)
    _sam_validate_lint(path)


def test_the_lint_sees_each_auth_mode():
    # Every value of the chat's Auth switch is linted.
    allowed = load(CHAT_TEMPLATE)["Parameters"]["Auth"]["AllowedValues"]
    assert sorted(allowed) == sorted({mode["Auth"] for mode in CHAT_AUTH_MODES.values()})


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
