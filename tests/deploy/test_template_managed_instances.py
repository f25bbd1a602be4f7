"""Every shipped template offers Lambda Managed Instances: off by default, secure when on.

Lambda Managed Instances run a function on EC2 instances in the customer's
own subnets, through an ``AWS::Lambda::CapacityProvider`` that the function
names in its ``CapacityProviderConfig``. The SAM transform cannot add or drop
that property with ``Fn::If`` (it validates the property before
CloudFormation evaluates conditions), so each template holds the function
twice, each under a condition: the on-demand one, and the one on the capacity
provider. Exactly one of them is deployed.

Checked here, for each template as CloudFormation would deploy it
(``cfn.deployed``): with the defaults, no capacity provider and no function
with a capacity provider; with ``ManagedInstances=true``, one function, on
the template's capacity provider, python3.13 or newer (the Python runtimes
Managed Instances support), at least 2 GB, its concurrency a bounded
parameter, and the operator role Lambda assumes holding the AWS managed
policy the Lambda developer guide prescribes and nothing else. The security
checks of every deployment, on or off, are test_template_security's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cfn import deployed, load, parameter_values, rules_refusing
from deploy_support import TEMPLATES, need_module, template_id

# https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-operator-role.html
OPERATOR_POLICY = "arn:aws:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788", "subnet-0123456789abcdef0"]
SECURITY_GROUPS = ["sg-0123456789abcdef0"]
ON = {
    "ManagedInstances": "true",
    "ManagedInstancesSubnetIds": ",".join(SUBNETS),
    "ManagedInstancesSecurityGroupIds": ",".join(SECURITY_GROUPS),
}
# LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency:
# "Minimum: 1, Maximum: 1600" (CloudFormation template reference); Python's
# default is 16 per vCPU (Lambda's Python runtime for Managed Instances).
CONCURRENCY_RANGE = (1, 1600)
# "The minimum supported function size is 2GB and 1 vCPU" (best practices).
MIN_MEMORY = 2048
# "Python: Python 3.13 and later" (Lambda Managed Instances runtimes).
MIN_PYTHON = (3, 13)


@pytest.fixture(scope="module", autouse=True)
def _translator() -> None:
    need_module("samtranslator")


def _of_type(resources: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in resources.items()
        if resource["Type"] == resource_type
    }


def _deploy(path: Path, **chosen: str) -> dict[str, dict[str, Any]]:
    template = load(path)
    params = parameter_values(template, chosen)
    assert rules_refusing(template, params) == []
    return deployed(template, params)


def _the_function(resources: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    (logical_id, function), *others = _of_type(resources, "AWS::Lambda::Function").items()
    assert not others, "one function is deployed, whichever the compute type"
    return logical_id, function


def _the_capacity_provider(resources: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    (logical_id, provider), *others = _of_type(resources, "AWS::Lambda::CapacityProvider").items()
    assert not others
    return logical_id, provider


def _getatt_arn(value: Any) -> str:
    match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(value))
    assert match is not None, value
    return match.group(1)


def _python(runtime: str) -> tuple[int, ...]:
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    assert match is not None, runtime
    return tuple(int(part) for part in match.groups())


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_managed_instances_is_a_switch_off_by_default(path: Path):
    parameters = load(path)["Parameters"]
    switch = parameters["ManagedInstances"]
    assert switch["Type"] == "String"
    assert switch["Default"] == "false"
    assert sorted(switch["AllowedValues"]) == ["false", "true"]
    for name in ("ManagedInstancesSubnetIds", "ManagedInstancesSecurityGroupIds"):
        assert parameters[name]["Default"] == ""


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_off_there_is_no_capacity_provider_and_the_function_runs_on_demand(path: Path):
    resources = _deploy(path)
    assert _of_type(resources, "AWS::Lambda::CapacityProvider") == {}
    _, function = _the_function(resources)
    assert "CapacityProviderConfig" not in function
    # No role but the function's own: no operator role, no managed policy.
    assert all(
        not role.get("ManagedPolicyArns") for role in _of_type(resources, "AWS::IAM::Role").values()
    )
    assert OPERATOR_POLICY not in repr(resources)


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_on_the_function_runs_on_the_templates_capacity_provider(path: Path):
    resources = _deploy(path, **ON)
    function_id, function = _the_function(resources)
    provider_id, provider = _the_capacity_provider(resources)
    config = function["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert _getatt_arn(config["CapacityProviderArn"]) == provider_id
    assert config["PerExecutionEnvironmentMaxConcurrency"] == "16"
    assert _python(function["Runtime"]) >= MIN_PYTHON
    assert int(function["MemorySize"]) >= MIN_MEMORY
    assert "SnapStart" not in function
    # The instances' architecture is the function's (the default is x86_64).
    assert provider["InstanceRequirements"]["Architectures"] == function["Architectures"]
    # The layer's exec wrapper runs lambdastream's runtime, which forks a
    # worker per AWS_LAMBDA_MAX_CONCURRENCY (docs/managed-instances.md).
    assert function["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/lambdastream"
    # The URL serves this function's published `live` alias.
    ((_, url),) = _of_type(resources, "AWS::Lambda::Url").items()
    alias_id = re.fullmatch(r"\{Ref:(\w+)\}", url["TargetFunctionArn"]).group(1)
    alias = resources[alias_id]["Properties"]
    assert alias["Name"] == "live"
    assert alias["FunctionName"] == f"{{Ref:{function_id}}}"


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_on_the_capacity_provider_runs_in_the_given_network_with_a_fleet_cap(path: Path):
    template = load(path)
    resources = _deploy(path, **ON)
    _, provider = _the_capacity_provider(resources)
    assert provider["VpcConfig"] == {"SubnetIds": SUBNETS, "SecurityGroupIds": SECURITY_GROUPS}
    scaling = provider["CapacityProviderScalingConfig"]
    assert scaling["ScalingMode"] == "Auto"
    cap = template["Parameters"]["ManagedInstancesMaxVCpus"]
    assert scaling["MaxVCpuCount"] == str(cap["Default"])
    assert 2 <= cap["MinValue"] <= cap["Default"] <= cap["MaxValue"] <= 15000
    resources = _deploy(path, **ON, ManagedInstancesMaxVCpus="64")
    assert (
        _the_capacity_provider(resources)[1]["CapacityProviderScalingConfig"]["MaxVCpuCount"]
        == "64"
    )


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_the_concurrency_is_a_bounded_parameter(path: Path):
    spec = load(path)["Parameters"]["ManagedInstancesMaxConcurrency"]
    assert spec["Type"] == "Number"
    low, high = CONCURRENCY_RANGE
    assert low <= spec["MinValue"] <= spec["Default"] <= spec["MaxValue"] <= high
    assert spec["Default"] == 16
    resources = _deploy(path, **ON, ManagedInstancesMaxConcurrency="64")
    _, function = _the_function(resources)
    config = function["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert config["PerExecutionEnvironmentMaxConcurrency"] == "64"
    memory = load(path)["Parameters"]["ManagedInstancesMemory"]
    assert MIN_MEMORY <= memory["MinValue"] <= memory["Default"]


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_the_operator_role_holds_the_documented_managed_policy_and_nothing_else(path: Path):
    resources = _deploy(path, **ON)
    _, provider = _the_capacity_provider(resources)
    role_id = _getatt_arn(provider["PermissionsConfig"]["CapacityProviderOperatorRoleArn"])
    role = resources[role_id]
    assert role["Type"] == "AWS::IAM::Role"
    properties = role["Properties"]
    assert properties["ManagedPolicyArns"] == [OPERATOR_POLICY]
    assert "Policies" not in properties
    # Nothing attaches a policy of its own to it.
    for policy in resources.values():
        if policy["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            assert f"{{Ref:{role_id}}}" not in repr(policy["Properties"])
    (statement,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    # The function runs with its own role, not the operator's.
    _, function = _the_function(resources)
    function_role = _getatt_arn(function["Role"])
    assert function_role != role_id
    assert not resources[function_role]["Properties"].get("ManagedPolicyArns")


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_the_rules_refuse_managed_instances_without_a_network_or_with_snap_start(path: Path):
    template = load(path)

    def refused(**chosen: str) -> list[str]:
        return rules_refusing(template, parameter_values(template, chosen))

    assert refused(**ON) == []
    assert refused(**{**ON, "ManagedInstancesSubnetIds": ""})
    assert refused(**{**ON, "ManagedInstancesSecurityGroupIds": ""})
    # SnapStart is not offered on Managed Instances: asked for both, say so.
    assert refused(**ON, EnableSnapStart="true")
    assert refused(EnableSnapStart="true") == []


@pytest.mark.parametrize(
    "change",
    [
        {"ManagedInstancesMaxConcurrency": "32"},
        {"ManagedInstancesMemory": "4096"},
        {"FunctionTimeout": "300"},
    ],
    ids=lambda change: next(iter(change)),
)
@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_a_changed_managed_instances_setting_publishes_a_new_version(path: Path, change):
    # As on demand: SAM names the version after the template as written, so
    # a parameter's new value must change the version's description, or the
    # `live` alias keeps serving the old version.
    def version(resources: Mapping[str, Any]) -> tuple[str, str]:
        ((version_id, properties),) = _of_type(resources, "AWS::Lambda::Version").items()
        return version_id, properties["Description"]

    before = version(_deploy(path, **ON))
    after = version(_deploy(path, **ON, **change))
    assert before != after
