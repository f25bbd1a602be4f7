"""The chat template's three authentication modes (``Auth``), each as CloudFormation deploys it.

- ``IAM`` (the default): an ``AWS_IAM`` Function URL, an invoker policy to
  attach to callers, nothing granted in the function's resource policy, no
  secret, no CloudFront.
- ``API_KEY``: for clients that cannot sign (the OpenAI SDKs send
  ``Authorization: Bearer``). The URL's ``AuthType`` is ``NONE``, the
  function's ``CHAT_API_KEY_SECRET_ARN`` names the secret ``ApiKeySecretArn``
  gives (``auth.py`` reads it at init and refuses requests without the key),
  the role may ``secretsmanager:GetSecretValue`` on exactly that ARN, and
  ``kms:Decrypt`` only when ``ApiKeySecretKmsKeyArn`` names a customer managed
  key, only through Secrets Manager, only for that secret. The Rules refuse
  the mode without a secret; reserved concurrency caps the public URL's cost.
- ``CLOUDFRONT``: a distribution signing with origin access control (type
  ``lambda``, ``always``, ``sigv4``) in front of the ``AWS_IAM`` URL; only the
  distribution (its ARN as ``SourceArn``) is granted the URL's two actions;
  caching off, POST allowed, HTTPS, HTTP/2 and 3, the longest origin response
  timeout without a quota increase.

Each mode's outputs name the address clients use, and each points at the
function that is deployed, on demand or on Lambda Managed Instances. What
every deployment must satisfy (least privilege, the Bedrock grants) is
test_template_security's; that each mode lints clean is test_template_lint's.

Sources: the CloudFront developer guide, "Restrict access to an AWS Lambda
function URL origin" (private-content-restricting-access-to-lambda.html);
the Lambda developer guide, "Control access to Lambda function URLs"
(urls-auth.html: both actions since October 2025); the Secrets Manager user
guide (security-encryption.html: the ``SecretARN`` encryption context).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from cfn import (
    ACCOUNT,
    REGION,
    constraint_violations,
    deployed,
    load,
    outputs,
    parameter_values,
    rules_refusing,
)
from deploy_support import CHAT_TEMPLATE, need_module

SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:chat-api-key-AbCdEf"
OTHER_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:chat-api-key-2-GhIjKl"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MANAGED_INSTANCES = {
    "ManagedInstances": "true",
    "ManagedInstancesSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
    "ManagedInstancesSecurityGroupIds": "sg-0123456789abcdef0",
}
# The parameters that choose each mode (API_KEY needs its secret).
MODES: dict[str, dict[str, str]] = {
    "IAM": {"Auth": "IAM"},
    "API_KEY": {"Auth": "API_KEY", "ApiKeySecretArn": SECRET},
    "API_KEY+KMS": {"Auth": "API_KEY", "ApiKeySecretArn": SECRET, "ApiKeySecretKmsKeyArn": KMS_KEY},
    "CLOUDFRONT": {"Auth": "CLOUDFRONT"},
}
URL_ACTIONS = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
# CloudFront's managed policies (fixed, documented ids).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
FUNCTION_URL = f"https://ChatUrl.lambda-url.{REGION}.on.aws/"
DISTRIBUTION_ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{{Ref:ChatDistribution}}"


@pytest.fixture(scope="module", autouse=True)
def _translator() -> None:
    need_module("samtranslator")


def _deploy(**chosen: str) -> dict[str, dict[str, Any]]:
    template = load(CHAT_TEMPLATE)
    params = parameter_values(template, chosen)
    assert constraint_violations(template, params) == []
    assert rules_refusing(template, params) == []
    return deployed(template, params)


def _outputs(**chosen: str) -> dict[str, Any]:
    template = load(CHAT_TEMPLATE)
    return outputs(template, parameter_values(template, chosen))


def _of_type(resources: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in resources.items()
        if resource["Type"] == resource_type
    }


def _the(resources: Mapping[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found, *others) = _of_type(resources, resource_type).items()
    assert not others, f"more than one {resource_type}"
    return found


def _function(resources: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return _the(resources, "AWS::Lambda::Function")


def _url(resources: Mapping[str, Any]) -> dict[str, Any]:
    return _the(resources, "AWS::Lambda::Url")[1]


def _env(resources: Mapping[str, Any]) -> dict[str, str]:
    return _function(resources)[1]["Environment"]["Variables"]


def _role_statements(resources: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The function role's inline policies: name -> statements."""
    _, function = _function(resources)
    role_id = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", function["Role"]).group(1)
    return {
        policy["PolicyName"]: policy["PolicyDocument"]["Statement"]
        for policy in resources[role_id]["Properties"]["Policies"]
    }


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _every_statement(resources: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every IAM statement of every policy the deployment holds."""
    statements = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        documents = [properties.get("PolicyDocument")]
        documents += [p.get("PolicyDocument") for p in properties.get("Policies", [])]
        for document in documents:
            if isinstance(document, dict):
                statements += _listed(document["Statement"])
    return statements


def _actions(resources: Mapping[str, Any]) -> set[str]:
    return {a for s in _every_statement(resources) for a in _listed(s.get("Action", []))}


def _alias_target(resources: Mapping[str, Any], target: str) -> str:
    """The function an alias reference (``{Ref:...Alias...}``) belongs to."""
    alias_id = re.fullmatch(r"\{Ref:(\w+)\}", target).group(1)
    alias = resources[alias_id]
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["Name"] == "live"
    return re.fullmatch(r"\{Ref:(\w+)\}", alias["Properties"]["FunctionName"]).group(1)


# -- The switch ---------------------------------------------------------------------


def test_auth_is_one_switch_of_three_modes_iam_by_default():
    parameters = load(CHAT_TEMPLATE)["Parameters"]
    auth = parameters["Auth"]
    assert auth["Type"] == "String"
    assert auth["Default"] == "IAM"
    assert sorted(auth["AllowedValues"]) == ["API_KEY", "CLOUDFRONT", "IAM"]
    assert parameters["ApiKeySecretArn"]["Default"] == ""
    assert parameters["ApiKeySecretKmsKeyArn"]["Default"] == ""
    # One switch: the two it replaces are gone (no combination to refuse).
    assert "UrlAuthType" not in parameters and "EnableCloudFront" not in parameters


def test_the_rules_refuse_api_key_without_a_secret():
    template = load(CHAT_TEMPLATE)

    def refused(**chosen: str) -> list[str]:
        return rules_refusing(template, parameter_values(template, chosen))

    assert refused(Auth="API_KEY") == ["ApiKeyNeedsASecret"]
    assert refused(Auth="API_KEY", ApiKeySecretKmsKeyArn=KMS_KEY) == ["ApiKeyNeedsASecret"]
    for mode in MODES.values():
        assert refused(**mode) == []
        assert refused(**mode, **MANAGED_INSTANCES) == []


def test_api_key_without_a_secret_stays_private_even_past_the_rules():
    # Were the Rules skipped, the URL must not turn public with no key to check.
    template = load(CHAT_TEMPLATE)
    resources = deployed(template, parameter_values(template, {"Auth": "API_KEY"}))
    assert _url(resources)["AuthType"] == "AWS_IAM"
    assert "CHAT_API_KEY_SECRET_ARN" not in _env(resources)
    permissions = _of_type(resources, "AWS::Lambda::Permission").values()
    assert all(p["Principal"] != "*" for p in permissions)
    assert "secretsmanager:GetSecretValue" not in _actions(resources)


@pytest.mark.parametrize(
    "arn",
    [
        SECRET,
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/chat_key+v2=a.b@c-x1Y2z3",
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:chat-AbCdEf",
        "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:chat-AbCdEf",
    ],
)
def test_the_secret_parameter_takes_a_full_secret_arn(arn):
    pattern = load(CHAT_TEMPLATE)["Parameters"]["ApiKeySecretArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, arn)
    assert re.fullmatch(pattern, "")


@pytest.mark.parametrize(
    "refused",
    [
        "*",
        "chat-api-key",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:*",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:chat-api-key-*",
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:chat-api-key-??????",
        f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:chat-api-key-AbCdEf",
        f"arn:aws:secretsmanager:{REGION}:*:secret:chat-api-key-AbCdEf",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/chat-api-key",
        f" {SECRET}",
    ],
)
def test_the_secret_parameter_refuses_wildcards_and_other_things(refused):
    pattern = load(CHAT_TEMPLATE)["Parameters"]["ApiKeySecretArn"]["AllowedPattern"]
    assert not re.fullmatch(pattern, refused)


def test_the_kms_parameter_takes_a_key_arn_and_nothing_wider():
    pattern = load(CHAT_TEMPLATE)["Parameters"]["ApiKeySecretKmsKeyArn"]["AllowedPattern"]
    multi_region = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    for key in (KMS_KEY, multi_region, ""):
        assert re.fullmatch(pattern, key), key
    for refused in (
        "*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/secretsmanager",
        f"arn:aws:kms:*:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ):
        assert not re.fullmatch(pattern, refused), refused


# -- IAM ------------------------------------------------------------------------------


def test_iam_is_the_default_and_unchanged():
    resources = _deploy()
    assert resources.keys() == _deploy(Auth="IAM").keys()
    url = _url(resources)
    assert url["AuthType"] == "AWS_IAM"
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    # Nothing in the function's resource policy: callers hold the invoker policy.
    assert _of_type(resources, "AWS::Lambda::Permission") == {}
    (_, policy), *others = _of_type(resources, "AWS::IAM::ManagedPolicy").items()
    assert not others
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == URL_ACTIONS
    assert statement["Resource"] == url["TargetFunctionArn"]
    # No key, no secret, no KMS, no CloudFront, no cost cap (no one unsigned gets in).
    assert "CHAT_API_KEY_SECRET_ARN" not in _env(resources)
    assert set(_role_statements(resources)) == {"logs", "bedrock-model"}
    assert not {a for a in _actions(resources) if a.startswith(("secretsmanager:", "kms:"))}
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::CloudFront::")]
    assert "ReservedConcurrentExecutions" not in _function(resources)[1]
    assert _outputs() == {
        "ClientUrl": FUNCTION_URL,
        "FunctionUrl": FUNCTION_URL,
        "InvokeCommand": f"lambdastream invoke {FUNCTION_URL} --sigv4 --prompt hi",
        "InvokerPolicy": "{Ref:ChatInvokerPolicy}",
        "LogGroup": "{Ref:ChatLogGroup}",
    }


# -- API_KEY --------------------------------------------------------------------------


def test_api_key_makes_the_url_public_and_the_function_check_the_key():
    resources = _deploy(**MODES["API_KEY"])
    url = _url(resources)
    assert url["AuthType"] == "NONE"
    assert _env(resources)["CHAT_API_KEY_SECRET_ARN"] == SECRET
    # Anyone may call through the URL, and only through it.
    grants = {
        p["Action"]: p
        for p in _of_type(resources, "AWS::Lambda::Permission").values()
        if p["FunctionName"] == url["TargetFunctionArn"]
    }
    assert set(grants) == URL_ACTIONS
    assert {p["Principal"] for p in grants.values()} == {"*"}
    assert grants["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert grants["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    # The public URL's cost cap, as for any public URL.
    params = parameter_values(load(CHAT_TEMPLATE), MODES["API_KEY"])
    assert (
        _function(resources)[1]["ReservedConcurrentExecutions"] == params["PublicConcurrencyLimit"]
    )
    # No signed callers, so no invoker policy; no CloudFront.
    assert _of_type(resources, "AWS::IAM::ManagedPolicy") == {}
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::CloudFront::")]


def test_api_key_role_reads_exactly_that_secret_and_decrypts_nothing():
    resources = _deploy(**MODES["API_KEY"])
    policies = _role_statements(resources)
    assert policies["api-key-secret"] == [
        {
            "Sid": "ReadTheApiKeySecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": SECRET,
        }
    ]
    # Nowhere else a secret, nowhere a wildcard, no KMS without the KMS parameter.
    secret_statements = [
        s
        for s in _every_statement(resources)
        if any(a.startswith("secretsmanager:") for a in _listed(s.get("Action", [])))
    ]
    assert secret_statements == policies["api-key-secret"]
    assert "*" not in repr(secret_statements)
    assert not [a for a in _actions(resources) if a.lower().startswith("kms:")]


def test_api_key_with_a_customer_managed_key_may_decrypt_only_that_secret_via_secrets_manager():
    resources = _deploy(**MODES["API_KEY+KMS"])
    read, decrypt = _role_statements(resources)["api-key-secret"]
    assert read["Resource"] == SECRET
    assert decrypt == {
        "Sid": "DecryptTheApiKeySecret",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KMS_KEY,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com",
                "kms:EncryptionContext:SecretARN": SECRET,
            }
        },
    }
    kms = [s for s in _every_statement(resources) if "kms:" in repr(s.get("Action"))]
    assert kms == [decrypt]


@pytest.mark.parametrize("mode", ["IAM", "CLOUDFRONT"])
def test_the_kms_key_and_secret_grant_nothing_outside_api_key(mode):
    resources = _deploy(**MODES[mode], ApiKeySecretArn=SECRET, ApiKeySecretKmsKeyArn=KMS_KEY)
    assert not {a for a in _actions(resources) if a.startswith(("secretsmanager:", "kms:"))}
    assert "CHAT_API_KEY_SECRET_ARN" not in _env(resources)
    assert _url(resources)["AuthType"] == "AWS_IAM"


def test_api_key_outputs_give_the_url_and_how_to_send_the_key():
    got = _outputs(**MODES["API_KEY"])
    assert got["ClientUrl"] == got["FunctionUrl"] == FUNCTION_URL
    assert got["OpenAIBaseUrl"] == f"{FUNCTION_URL}v1"
    assert got["InvokeCommand"] == (
        f'lambdastream invoke {FUNCTION_URL} --prompt hi -H "Authorization: Bearer'
        f" $(aws secretsmanager get-secret-value --secret-id {SECRET}"
        ' --query SecretString --output text)"'
    )
    assert "InvokerPolicy" not in got and "CloudFrontUrl" not in got


def _version_description(resources: Mapping[str, Any]) -> str:
    ((_, version),) = _of_type(resources, "AWS::Lambda::Version").items()
    return version["Description"]


@pytest.mark.parametrize("managed", [{}, MANAGED_INSTANCES], ids=["on-demand", "managed-instances"])
def test_a_new_secret_or_leaving_api_key_publishes_a_new_version(managed):
    # The `live` alias serves a published version: one published before the
    # switch to API_KEY has no CHAT_API_KEY_SECRET_ARN, and behind a public
    # URL it would check no key. One published before a new secret would
    # read the old one (the key meant to be retired).
    described = {
        name: _version_description(_deploy(**chosen, **managed))
        for name, chosen in {
            "IAM": MODES["IAM"],
            "API_KEY": MODES["API_KEY"],
            "API_KEY other secret": {"Auth": "API_KEY", "ApiKeySecretArn": OTHER_SECRET},
        }.items()
    }
    assert len(set(described.values())) == len(described), described
    assert described["API_KEY"].count(", key chat-api-key-AbCdEf,") == 1
    # IAM and CLOUDFRONT run the same function: the same version will do.
    assert _version_description(_deploy(**MODES["CLOUDFRONT"], **managed)) == described["IAM"]
    # Lambda takes a version description of 256 characters at most: with the
    # layer's ARN for a stack name of 64 characters (the function's limit),
    # in a Region with a long name, the default model and a secret's name of
    # 40 characters, it fits.
    layer = "arn:aws:lambda:ap-southeast-2:123456789012:layer:" + "s" * 64 + ":9999"
    name = SECRET.rsplit(":", 1)[1]
    for description in described.values():
        real = re.sub(r"\{Ref:LambdastreamLayer\w*\}", layer, description)
        assert real != description
        assert len(real.replace(name, "n" * 40)) <= 256, real


# -- CLOUDFRONT -----------------------------------------------------------------------


def test_cloudfront_signs_with_a_lambda_oac_for_an_aws_iam_url():
    resources = _deploy(**MODES["CLOUDFRONT"])
    url = _url(resources)
    assert url["AuthType"] == "AWS_IAM"
    oac_id, oac = _the(resources, "AWS::CloudFront::OriginAccessControl")
    config = oac["OriginAccessControlConfig"]
    assert (
        config["OriginAccessControlOriginType"],
        config["SigningBehavior"],
        config["SigningProtocol"],
    ) == ("lambda", "always", "sigv4")
    _, distribution = _the(resources, "AWS::CloudFront::Distribution")
    (origin,) = distribution["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == f"ChatUrl.lambda-url.{REGION}.on.aws"
    assert origin["OriginAccessControlId"] == f"{{GetAtt:{oac_id}.Id}}"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # The response timeout bounds each wait for the next bytes, not the answer.
    assert origin["CustomOriginConfig"]["OriginReadTimeout"] == 60
    assert "ResponseCompletionTimeout" not in origin


def test_cloudfront_only_the_distribution_is_granted_the_url():
    resources = _deploy(**MODES["CLOUDFRONT"])
    url = _url(resources)
    permissions = list(_of_type(resources, "AWS::Lambda::Permission").values())
    assert {p["Action"] for p in permissions} == URL_ACTIONS
    for permission in permissions:
        assert permission["Principal"] == "cloudfront.amazonaws.com"
        assert permission["SourceArn"] == DISTRIBUTION_ARN
        assert permission["FunctionName"] == url["TargetFunctionArn"]
    by_action = {p["Action"]: p for p in permissions}
    assert by_action["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "AWS_IAM"
    assert by_action["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    # Public through the distribution: the cost cap; no secret to read.
    assert _function(resources)[1]["ReservedConcurrentExecutions"]
    assert "CHAT_API_KEY_SECRET_ARN" not in _env(resources)


def test_cloudfront_passes_the_stream_through_uncached():
    resources = _deploy(**MODES["CLOUDFRONT"])
    _, distribution = _the(resources, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert {"GET", "HEAD", "OPTIONS", "POST"} <= set(behavior["AllowedMethods"])
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["Compress"] is False
    assert config["HttpVersion"] == "http2and3"
    assert not config.get("CacheBehaviors")


def test_cloudfront_outputs_give_the_distributions_address():
    got = _outputs(**MODES["CLOUDFRONT"])
    assert got["ClientUrl"] == got["CloudFrontUrl"] == "https://ChatDistribution.cloudfront.net/"
    assert got["FunctionUrl"] == FUNCTION_URL
    # The URL itself still answers signed callers holding the invoker policy.
    assert got["InvokeCommand"] == f"lambdastream invoke {FUNCTION_URL} --sigv4 --prompt hi"
    assert "OpenAIBaseUrl" not in got


# -- With Lambda Managed Instances ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_points_at_the_function_deployed(mode):
    for managed, expected in (({}, "ChatFunction"), (MANAGED_INSTANCES, "ChatManagedFunction")):
        resources = _deploy(**MODES[mode], **managed)
        function_id, function = _function(resources)
        assert function_id == expected
        url = _url(resources)
        assert _alias_target(resources, url["TargetFunctionArn"]) == function_id
        for permission_id, permission in _of_type(resources, "AWS::Lambda::Permission").items():
            assert permission["FunctionName"] == url["TargetFunctionArn"], permission_id
        for policy in _of_type(resources, "AWS::IAM::ManagedPolicy").values():
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Resource"] == url["TargetFunctionArn"]
        public = mode != "IAM"
        assert ("ReservedConcurrentExecutions" in function) is public
        variables = function["Environment"]["Variables"]
        assert variables.get("CHAT_API_KEY_SECRET_ARN") == MODES[mode].get("ApiKeySecretArn")
        assert url["AuthType"] == ("NONE" if mode.startswith("API_KEY") else "AWS_IAM")
        got = _outputs(**MODES[mode], **managed)
        assert got["ClientUrl"] == (
            "https://ChatDistribution.cloudfront.net/" if mode == "CLOUDFRONT" else FUNCTION_URL
        )
