"""Every shipped template is secure for every choice its parameters allow.

Each template is translated by the SAM translator (as CloudFormation's
transform does) for every combination of its choice parameters that its
Rules accept, and for several Bedrock models, then evaluated as
CloudFormation would deploy it (``cfn.deployed``). ``security_problems``
then reads the resources like a reviewer:

- IAM: no ``*`` in any action, no NotAction/NotResource, no AWS managed
  policy anywhere but ``AWSLambdaManagedEC2ResourceOperator``, alone, on a
  role trusted by Lambda only that a capacity provider operates with and no
  function runs with (the operator role the Lambda developer guide
  prescribes for Managed Instances); a function's role may call only the two Bedrock invoke
  actions, on exactly the configured model's ARNs (derived here from the
  Bedrock user guide's rules, not from the template), and write only to the
  function's own log group, and, where the function reads an API key
  (``CHAT_API_KEY_SECRET_ARN``), ``secretsmanager:GetSecretValue`` on exactly
  that secret (the ``ApiKeySecretArn`` given) and ``kms:Decrypt`` only on the
  ``ApiKeySecretKmsKeyArn`` given, only through Secrets Manager
  (``kms:ViaService``), only for that secret; any other policy may only grant
  the URL's two actions on what a URL targets (the invoker policy);
- functions: lambdastream's exec wrapper and a layer, a log group named as
  Lambda names it, with retention; on a capacity provider (Lambda Managed
  Instances), this template's, python3.13 or newer, at least 2 GB, no
  SnapStart;
- capacity providers: the operator role above, security groups of the
  user's choosing (not the VPC's default), the functions' architecture, a
  cap on the fleet's vCPUs;
- Function URLs: ``RESPONSE_STREAM``; both ``lambda:InvokeFunctionUrl`` and
  ``lambda:InvokeFunction`` granted to whoever can reach the URL (the public
  for ``NONE``, a managed policy for ``AWS_IAM`` callers, the distribution
  for CloudFront); a public principal only for ``NONE``, scoped to the URL,
  and then reserved concurrency; reserved concurrency behind CloudFront; in
  a template with an ``ApiKeySecretArn`` (the chat's ``Auth=API_KEY``), a
  ``NONE`` URL only in front of a function that checks the key from that
  secret;
- CloudFront: origin access control that always signs, caching off, no
  compression, the viewer's headers except Host, the longest origin timeout
  without a quota increase, no edge functions.

The Bedrock checks (the model's ARNs and conditions, and the deployments
with each of ``MODEL_CASES``) apply to the templates whose model is set by
``BEDROCK_PARAMETERS``, and only there may a template let anything call
Bedrock: ``test_bedrock_is_granted_only_where_the_bedrock_checks_look``
fails for any other grant (another template's, or a policy no function's
role carries). Every other check applies to every template: the chat's, and
each project ``lambdastream init`` writes (bedrock and fastapi), which must
also be private by default (an ``AWS_IAM`` URL, nothing granted to the
public).

``test_each_weakening_is_caught`` breaks the chat template in the ways a
hurried edit would, and checks that each break is reported;
``test_each_fastapi_weakening_is_caught`` does the same to the FastAPI
project's template, ``test_an_unchecked_bedrock_grant_is_caught`` adds
Bedrock grants where the Bedrock checks do not look.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
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
from deploy_support import CHAT_TEMPLATE, INIT_TEMPLATES, TEMPLATES, need_module, template_id

BEDROCK_ACTIONS = {"bedrock:InvokeModelWithResponseStream", "bedrock:InvokeModel"}
# A template whose model is set by these parameters gets the Bedrock checks.
BEDROCK_PARAMETERS = {"ModelId", "InferenceProfile", "ModelRegions"}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
URL_ACTIONS = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
# CloudFront's managed policies (their ids are fixed and documented).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# The longest CloudFront waits for an origin without a quota increase.
MAX_ORIGIN_READ_TIMEOUT = 60
PUBLIC_CONCURRENCY = "7"
# The chat's API-key mode (Auth=API_KEY): the secret and the customer managed
# key a deployment is given, and the actions reading them takes.
API_KEY_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:chat-api-key-AbCdEf"
API_KEY_KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ACTIONS = {"secretsmanager:GetSecretValue"}
KMS_ACTIONS = {"kms:Decrypt"}
# The parameter that says who may call, and its values that need more
# parameters (a template has one of these switches).
AUTH_SWITCHES = ("UrlAuthType", "Auth")
AUTH_NEEDS = {("Auth", "API_KEY"): {"ApiKeySecretArn": API_KEY_SECRET}}
# Lambda Managed Instances: the operator role's policy ("At minimum, the role
# requires the permissions in the AWSLambdaManagedEC2ResourceOperator managed
# policy": the Lambda developer guide, lambda-managed-instances-operator-role),
# and the network a deployment with ManagedInstances=true is given.
OPERATOR_POLICY = "arn:aws:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
MANAGED_INSTANCES_NETWORK = {
    "ManagedInstancesSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
    "ManagedInstancesSecurityGroupIds": "sg-0123456789abcdef0",
}
# Managed Instances run Python 3.13 and later, in functions of 2 GB or more.
MANAGED_INSTANCES_MIN_PYTHON = (3, 13)
MANAGED_INSTANCES_MIN_MEMORY = 2048

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
# The Bedrock models the templates are checked with: the default (global
# profile), geographic profiles of 3, 6 and the most (16) Regions, and a
# model called in its own Region. Regions are in no particular order.
MODEL_CASES: list[dict[str, str]] = [
    {},
    {"InferenceProfile": "us", "ModelRegions": "us-east-1,us-west-2,us-east-2"},
    {
        "InferenceProfile": "eu",
        "ModelId": "amazon.nova-pro-v1:0",
        "ModelRegions": "eu-west-3,eu-central-1,eu-north-1,eu-south-1,eu-south-2,eu-west-1",
    },
    {
        "InferenceProfile": "apac",
        "ModelRegions": ",".join(
            f"ap-{area}-{n}"
            for area, n in itertools.product(
                ["northeast", "southeast", "south", "east"], [1, 2, 3, 4]
            )
        ),
    },
    {"InferenceProfile": "none", "ModelId": "meta.llama3-1-8b-instruct-v1:0"},
]


# -- What the reviewer checks ------------------------------------------------


def security_problems(resources: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """What is wrong with a deployed template's resources, in words (nothing: [])."""
    problems: list[str] = []
    problems += _iam_problems(resources)
    problems += _stray_policy_problems(resources)
    for logical_id, function in _of_type(resources, "AWS::Lambda::Function"):
        problems += _function_problems(resources, logical_id, function, params)
        problems += _managed_instances_function_problems(resources, logical_id, function)
    for logical_id, provider in _of_type(resources, "AWS::Lambda::CapacityProvider"):
        problems += _capacity_provider_problems(resources, logical_id, provider)
    problems += _url_problems(resources, params)
    problems += _permission_problems(resources)
    for logical_id, distribution in _of_type(resources, "AWS::CloudFront::Distribution"):
        problems += _distribution_problems(resources, logical_id, distribution)
    return problems


def _of_type(resources: Mapping[str, Any], resource_type: str) -> Iterator[tuple[str, Any]]:
    for logical_id, resource in resources.items():
        if resource["Type"] == resource_type:
            yield logical_id, resource.get("Properties", {})


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy")


def _policy_documents(resources: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"]
        elif resource["Type"] in _POLICY_TYPES:
            yield logical_id, properties["PolicyDocument"]


def _iam_problems(resources: Mapping[str, Any]) -> list[str]:
    problems = []
    for where, document in _policy_documents(resources):
        for statement in document["Statement"]:
            for forbidden in ("NotAction", "NotResource", "NotPrincipal"):
                if forbidden in statement:
                    problems.append(f"{where}: {forbidden} grants everything else")
            for action in _listed(statement.get("Action", [])):
                if "*" in action:
                    problems.append(f"{where}: wildcard action {action}")
            if "*" in _listed(statement.get("Resource", [])):
                problems.append(f"{where}: Resource *")
    operator_roles = _operator_roles(resources)
    for logical_id, role in _of_type(resources, "AWS::IAM::Role"):
        if logical_id in operator_roles:
            problems += _operator_role_problems(resources, logical_id, role)
        elif role.get("ManagedPolicyArns"):
            problems.append(f"{logical_id}: managed policies {role['ManagedPolicyArns']}")
    for logical_id, resource in resources.items():
        named = repr(resource)
        if logical_id in operator_roles:
            named = named.replace(repr(OPERATOR_POLICY), "")
        if ":iam::aws:policy/" in named:
            problems.append(f"{logical_id}: names an AWS managed policy")
    for logical_id, permission in _of_type(resources, "AWS::Lambda::Permission"):
        if "*" in permission["Action"]:
            problems.append(f"{logical_id}: wildcard action {permission['Action']}")
    return problems


def _operator_roles(resources: Mapping[str, Any]) -> set[str]:
    """This template's roles that a capacity provider operates its instances with."""
    roles = set()
    for _, provider in _of_type(resources, "AWS::Lambda::CapacityProvider"):
        arn = provider.get("PermissionsConfig", {}).get("CapacityProviderOperatorRoleArn")
        match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(arn))
        if match is not None and match.group(1) in resources:
            roles.add(match.group(1))
    return roles


def _operator_role_problems(
    resources: Mapping[str, Any], role_id: str, role: Mapping[str, Any]
) -> list[str]:
    # What the Lambda developer guide prescribes (the AWS managed policy, a
    # trust policy for lambda.amazonaws.com), and nothing more: no inline
    # policy, no other managed policy, no function running with it.
    problems = []
    if role.get("ManagedPolicyArns") != [OPERATOR_POLICY]:
        problems.append(
            f"{role_id}: operator role with {role.get('ManagedPolicyArns')}, not {OPERATOR_POLICY}"
        )
    if role.get("Policies"):
        problems.append(f"{role_id}: operator role with inline policies")
    trust = role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    if trust != [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]:
        problems.append(f"{role_id}: operator role trusted by {trust}, not Lambda alone")
    if role_id in _function_roles(resources):
        problems.append(f"{role_id}: a function runs with the operator role")
    return problems


def _capacity_provider_problems(
    resources: Mapping[str, Any], logical_id: str, provider: Mapping[str, Any]
) -> list[str]:
    problems = []
    arn = provider.get("PermissionsConfig", {}).get("CapacityProviderOperatorRoleArn")
    match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(arn))
    if match is None or resources.get(match.group(1), {}).get("Type") != "AWS::IAM::Role":
        problems.append(f"{logical_id}: operator role {arn} is not this template's")
    # Without security groups the instances get the VPC's default group.
    if not provider.get("VpcConfig", {}).get("SecurityGroupIds"):
        problems.append(f"{logical_id}: no security groups of its own")
    if not provider.get("CapacityProviderScalingConfig", {}).get("MaxVCpuCount"):
        problems.append(f"{logical_id}: no cap on the fleet's vCPUs")
    architectures = provider.get("InstanceRequirements", {}).get("Architectures")
    for function_id, function in _of_type(resources, "AWS::Lambda::Function"):
        config = function.get("CapacityProviderConfig", {})
        target = config.get("LambdaManagedInstancesCapacityProviderConfig", {})
        if target.get("CapacityProviderArn") == f"{{GetAtt:{logical_id}.Arn}}" and (
            architectures != function.get("Architectures", ["x86_64"])
        ):
            problems.append(
                f"{logical_id}: instances {architectures}, {function_id} is "
                f"{function.get('Architectures', ['x86_64'])}"
            )
    return problems


def _managed_instances_function_problems(
    resources: Mapping[str, Any], logical_id: str, function: Mapping[str, Any]
) -> list[str]:
    if "CapacityProviderConfig" not in function:
        return []
    problems = []
    config = function["CapacityProviderConfig"].get(
        "LambdaManagedInstancesCapacityProviderConfig", {}
    )
    match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(config.get("CapacityProviderArn")))
    if (
        match is None
        or resources.get(match.group(1), {}).get("Type") != "AWS::Lambda::CapacityProvider"
    ):
        problems.append(
            f"{logical_id}: on capacity provider {config.get('CapacityProviderArn')},"
            " not this template's"
        )
    runtime = re.fullmatch(r"python(\d+)\.(\d+)", str(function.get("Runtime")))
    if runtime is None or tuple(map(int, runtime.groups())) < MANAGED_INSTANCES_MIN_PYTHON:
        problems.append(f"{logical_id}: {function.get('Runtime')} on Managed Instances")
    if int(function.get("MemorySize", 128)) < MANAGED_INSTANCES_MIN_MEMORY:
        problems.append(f"{logical_id}: {function.get('MemorySize')} MB on Managed Instances")
    if "SnapStart" in function:
        problems.append(f"{logical_id}: SnapStart on Managed Instances")
    return problems


def _function_problems(
    resources: Mapping[str, Any],
    logical_id: str,
    function: Mapping[str, Any],
    params: Mapping[str, str],
) -> list[str]:
    problems = []
    variables = function.get("Environment", {}).get("Variables", {})
    if variables.get("AWS_LAMBDA_EXEC_WRAPPER") != "/opt/lambdastream":
        problems.append(f"{logical_id}: AWS_LAMBDA_EXEC_WRAPPER is not /opt/lambdastream")
    layers = function.get("Layers", [])
    known_layers = {
        f"{{Ref:{name}}}" for name, _ in _of_type(resources, "AWS::Lambda::LayerVersion")
    }
    if not layers or not all(layer in known_layers or layer.startswith("arn:") for layer in layers):
        problems.append(f"{logical_id}: no lambdastream layer ({layers})")
    if not str(function.get("Runtime", "")).startswith("python3."):
        problems.append(f"{logical_id}: runtime {function.get('Runtime')} runs no exec wrapper")

    # Its log group, named as Lambda names it, with retention.
    name = function.get("FunctionName")
    groups = [
        (group_id, group)
        for group_id, group in _of_type(resources, "AWS::Logs::LogGroup")
        if name and group.get("LogGroupName") == f"/aws/lambda/{name}"
    ]
    if not groups:
        problems.append(f"{logical_id}: no log group /aws/lambda/{name}")
        return problems
    group_id, group = groups[0]
    if not group.get("RetentionInDays"):
        problems.append(f"{group_id}: no retention")
    configured = function.get("LoggingConfig", {}).get("LogGroup")
    if configured not in (None, f"{{Ref:{group_id}}}", group["LogGroupName"]):
        problems.append(f"{logical_id}: logs to {configured}, not {group['LogGroupName']}")

    role_match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(function.get("Role")))
    if role_match is None or role_match.group(1) not in resources:
        problems.append(f"{logical_id}: role {function.get('Role')} is not this template's")
        return problems
    group_arns = {
        f"{{GetAtt:{group_id}.Arn}}",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group['LogGroupName']}:*",
    }
    problems += _role_problems(resources, role_match.group(1), group_arns, variables, params)
    return problems


def _role_problems(
    resources: Mapping[str, Any],
    role_id: str,
    group_arns: set[str],
    variables: Mapping[str, str],
    params: Mapping[str, str],
) -> list[str]:
    problems = []
    statements = [
        s
        for document in _role_documents(resources, role_id)
        for s in document["Statement"]
        if s.get("Effect") == "Allow"
    ]
    granted_models: set[str] = set()
    bedrock_statements = []
    # A function that reads an API key may read that secret, and decrypt it.
    secret = variables.get("CHAT_API_KEY_SECRET_ARN")
    allowed = BEDROCK_ACTIONS | LOG_ACTIONS | (SECRET_ACTIONS | KMS_ACTIONS if secret else set())
    for statement in statements:
        actions = set(_listed(statement["Action"]))
        resources_named = _listed(statement["Resource"])
        if actions - allowed:
            problems.append(f"{role_id}: may also {sorted(actions - allowed)}")
        if actions & LOG_ACTIONS and set(resources_named) - group_arns:
            problems.append(f"{role_id}: writes logs to {resources_named}")
        if actions & (SECRET_ACTIONS | KMS_ACTIONS) and actions - SECRET_ACTIONS - KMS_ACTIONS:
            problems.append(f"{role_id}: one statement mixes the API key with {sorted(actions)}")
        if actions & SECRET_ACTIONS and resources_named != [secret]:
            problems.append(f"{role_id}: reads secrets {resources_named}, not only {secret}")
        if actions & KMS_ACTIONS:
            problems += _kms_problems(role_id, statement, secret, params)
        if actions & BEDROCK_ACTIONS:
            if actions & LOG_ACTIONS:
                problems.append(f"{role_id}: one statement mixes logs and Bedrock")
            bedrock_statements.append(statement)
            granted_models |= set(resources_named)
    if secret is not None:
        problems += _api_key_problems(role_id, statements, secret, params)
    if not bedrock_statements:
        return problems
    if not set(params) >= BEDROCK_PARAMETERS:
        return [
            *problems,
            f"{role_id}: Bedrock access not set by ModelId/InferenceProfile/ModelRegions",
        ]

    expected = expected_model_grants(params)
    if granted_models != set(expected):
        problems.append(
            f"{role_id}: Bedrock on {sorted(granted_models)}, expected {sorted(expected)}"
        )
    for statement in bedrock_statements:
        conditions = statement.get("Condition", {}).get("StringEquals", {})
        for arn in _listed(statement["Resource"]):
            for key, value in expected.get(arn, {}).items():
                if conditions.get(key) != value:
                    problems.append(f"{role_id}: {arn} without {key} = {value}")
    model = variables.get("CHAT_MODEL_ID")
    if model is not None and model != model_id(params):
        problems.append(f"CHAT_MODEL_ID is {model}, the policy is for {model_id(params)}")
    return problems


def _kms_problems(
    role_id: str, statement: Mapping[str, Any], secret: str | None, params: Mapping[str, str]
) -> list[str]:
    # Only the customer managed key given, only when Secrets Manager asks on
    # the function's behalf, only for the function's own secret (Secrets
    # Manager passes the secret's ARN as the encryption context SecretARN).
    problems = []
    key = params.get("ApiKeySecretKmsKeyArn", "")
    if not key or _listed(statement["Resource"]) != [key]:
        problems.append(f"{role_id}: kms:Decrypt on {statement['Resource']}, not the key given")
    expected = {
        "StringEquals": {
            "kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com",
            "kms:EncryptionContext:SecretARN": secret,
        }
    }
    if statement.get("Condition") != expected:
        problems.append(f"{role_id}: kms:Decrypt with {statement.get('Condition')}, not {expected}")
    return problems


def _api_key_problems(
    role_id: str, statements: list[dict[str, Any]], secret: str, params: Mapping[str, str]
) -> list[str]:
    # The secret the function reads is the one the parameters name, and the
    # role may read it (and decrypt it, when a customer managed key is given).
    problems = []
    if secret != params.get("ApiKeySecretArn"):
        given = params.get("ApiKeySecretArn")
        problems.append(f"CHAT_API_KEY_SECRET_ARN is {secret}, not ApiKeySecretArn {given}")
    granted = {a for s in statements for a in _listed(s["Action"])}
    if not granted >= SECRET_ACTIONS:
        problems.append(f"{role_id}: cannot read the API key's secret {secret}")
    if params.get("ApiKeySecretKmsKeyArn") and not granted >= KMS_ACTIONS:
        problems.append(f"{role_id}: cannot decrypt the API key's secret")
    return problems


def _role_documents(resources: Mapping[str, Any], role_id: str) -> list[dict[str, Any]]:
    """The policy documents a role carries: its own, and the policies attached to it."""
    documents = [
        resource["Properties"]["PolicyDocument"]
        for resource in resources.values()
        if resource["Type"] in _POLICY_TYPES
        and f"{{Ref:{role_id}}}"
        in [*resource["Properties"].get("Roles", []), resource["Properties"].get("RoleName")]
    ]
    documents += [p["PolicyDocument"] for p in resources[role_id]["Properties"].get("Policies", [])]
    return documents


def _function_roles(resources: Mapping[str, Any]) -> list[str]:
    """This template's roles that its functions run with."""
    roles = []
    for _, function in _of_type(resources, "AWS::Lambda::Function"):
        match = re.fullmatch(r"\{GetAtt:(\w+)\.Arn\}", str(function.get("Role")))
        if match is not None and match.group(1) in resources:
            roles.append(match.group(1))
    return roles


def _stray_policy_problems(resources: Mapping[str, Any]) -> list[str]:
    # _role_problems reads only the policies a function's role carries; any
    # other may grant only the URL's two actions on what a URL targets (the
    # invoker policy, which _url_problems reads). Else nothing checks it.
    carried = [
        document
        for role_id in _function_roles(resources)
        for document in _role_documents(resources, role_id)
    ]
    targets = {url["TargetFunctionArn"] for _, url in _of_type(resources, "AWS::Lambda::Url")}
    problems = []
    for where, document in _policy_documents(resources):
        if any(document is d for d in carried):
            continue
        for statement in _listed(document["Statement"]):
            actions = set(_listed(statement.get("Action", [])))
            resources_named = set(_listed(statement.get("Resource", [])))
            if statement.get("Effect") == "Allow" and not (
                actions <= URL_ACTIONS and resources_named <= targets
            ):
                problems.append(
                    f"{where}: grants {sorted(actions)} on {sorted(resources_named)},"
                    " for no function's role and no URL's callers"
                )
    return problems


def model_id(params: Mapping[str, str]) -> str:
    """The id the function passes to Bedrock."""
    profile = params["InferenceProfile"]
    return params["ModelId"] if profile == "none" else f"{profile}.{params['ModelId']}"


def expected_model_grants(
    params: Mapping[str, str], region: str = REGION, account: str = ACCOUNT
) -> dict[str, dict[str, str]]:
    """The ARNs a role must be granted to call the configured model -> the conditions each needs.

    From the Bedrock user guide: a model called in its own Region is its
    foundation-model ARN there. Through a geographic profile: the profile in
    the calling Region, and the foundation model in every destination Region,
    only through that profile. Through a global profile: the profile, the
    foundation model in the calling Region, and the Region-less
    foundation-model ARN (requested Region ``unspecified``), both only
    through the profile.
    """
    model, profile = params["ModelId"], params["InferenceProfile"]

    def foundation(in_region: str) -> str:
        return f"arn:aws:bedrock:{in_region}::foundation-model/{model}"

    if profile == "none":
        return {foundation(region): {}}
    profile_arn = f"arn:aws:bedrock:{region}:{account}:inference-profile/{profile}.{model}"
    via = {"bedrock:InferenceProfileArn": profile_arn}
    if profile == "global":
        return {
            profile_arn: {},
            foundation(region): {**via, "aws:RequestedRegion": region},
            foundation(""): {**via, "aws:RequestedRegion": "unspecified"},
        }
    destinations = params["ModelRegions"].split(",")
    return {profile_arn: {}, **{foundation(r): via for r in destinations}}


def _function_behind(resources: Mapping[str, Any], target: str) -> str | None:
    """The function a URL or permission target (a function, or an alias of one) names."""
    match = re.fullmatch(r"\{(?:Ref|GetAtt):(\w+)(?:\.Arn)?\}", target)
    if match is None or match.group(1) not in resources:
        return None
    resource = resources[match.group(1)]
    if resource["Type"] == "AWS::Lambda::Alias":
        return _function_behind(resources, resource["Properties"]["FunctionName"])
    return match.group(1) if resource["Type"] == "AWS::Lambda::Function" else None


def _permissions_for(
    resources: Mapping[str, Any], target: str, principal: str
) -> list[dict[str, Any]]:
    return [
        permission
        for _, permission in _of_type(resources, "AWS::Lambda::Permission")
        if permission["FunctionName"] == target and permission["Principal"] == principal
    ]


def _fronting(resources: Mapping[str, Any], url_id: str) -> list[str]:
    """The distributions whose origin is this Function URL."""
    host = f"{url_id}.lambda-url.{REGION}.on.aws"
    return [
        distribution_id
        for distribution_id, distribution in _of_type(resources, "AWS::CloudFront::Distribution")
        if any(o["DomainName"] == host for o in distribution["DistributionConfig"]["Origins"])
    ]


def _url_problems(resources: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    problems = []
    for url_id, url in _of_type(resources, "AWS::Lambda::Url"):
        target = url["TargetFunctionArn"]
        function_id = _function_behind(resources, target)
        if function_id is None:
            problems.append(f"{url_id}: targets {target}, not a function of this template")
            continue
        function = resources[function_id]["Properties"]
        if url.get("InvokeMode") != "RESPONSE_STREAM":
            problems.append(f"{url_id}: InvokeMode {url.get('InvokeMode')}, not RESPONSE_STREAM")
        distributions = _fronting(resources, url_id)
        publicly_reachable = url["AuthType"] == "NONE" or bool(distributions)
        if publicly_reachable and not function.get("ReservedConcurrentExecutions"):
            problems.append(
                f"{url_id}: reachable by anyone, {function_id} has no reserved concurrency"
            )

        if url["AuthType"] == "NONE":
            if distributions:
                problems.append(f"{url_id}: CloudFront {distributions} in front of a public URL")
            grants = _permissions_for(resources, target, "*")
            problems += _grant_problems(url_id, "the public", grants, url_auth="NONE")
            # A template that offers an API key makes a URL public only in
            # front of a function checking it (the chat's Auth=API_KEY).
            variables = function.get("Environment", {}).get("Variables", {})
            if "ApiKeySecretArn" in params and (
                not params["ApiKeySecretArn"]
                or variables.get("CHAT_API_KEY_SECRET_ARN") != params["ApiKeySecretArn"]
            ):
                problems.append(f"{url_id}: public, and {function_id} checks no API key")
        elif url["AuthType"] == "AWS_IAM":
            problems += _invoker_policy_problems(resources, url_id, target)
            for distribution_id in distributions:
                source = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{{Ref:{distribution_id}}}"
                grants = [
                    p
                    for p in _permissions_for(resources, target, "cloudfront.amazonaws.com")
                    if p.get("SourceArn") == source
                ]
                problems += _grant_problems(url_id, distribution_id, grants, url_auth="AWS_IAM")
        else:
            problems.append(f"{url_id}: AuthType {url['AuthType']}")
    return problems


def _grant_problems(
    url_id: str, whom: str, grants: list[dict[str, Any]], url_auth: str
) -> list[str]:
    # Both actions, each scoped to calls through the URL: InvokeFunctionUrl
    # by the URL's auth type, InvokeFunction by InvokedViaFunctionUrl (without
    # it the same principal could call the Invoke API directly).
    problems = []
    actions = {p["Action"] for p in grants}
    if actions != URL_ACTIONS:
        problems.append(f"{url_id}: {whom} is granted {sorted(actions)}, not both URL actions")
    for grant in grants:
        if (
            grant["Action"] == "lambda:InvokeFunctionUrl"
            and grant.get("FunctionUrlAuthType") != url_auth
        ):
            problems.append(f"{url_id}: {whom}'s InvokeFunctionUrl is not for AuthType {url_auth}")
        if (
            grant["Action"] == "lambda:InvokeFunction"
            and grant.get("InvokedViaFunctionUrl") is not True
        ):
            problems.append(f"{url_id}: {whom}'s InvokeFunction is not limited to the URL")
    return problems


def _invoker_policy_problems(resources: Mapping[str, Any], url_id: str, target: str) -> list[str]:
    # Same-account IAM callers need both actions in their identity policy:
    # the template offers a managed policy granting exactly that.
    granted: set[str] = set()
    for policy_id, policy in _of_type(resources, "AWS::IAM::ManagedPolicy"):
        for statement in policy["PolicyDocument"]["Statement"]:
            resources_named = _listed(statement["Resource"])
            if target in resources_named and statement["Effect"] == "Allow":
                granted |= set(_listed(statement["Action"]))
                if resources_named != [target]:
                    return [f"{policy_id}: grants the URL's actions on {resources_named}"]
    if granted != URL_ACTIONS:
        return [f"{url_id}: no managed policy grants callers exactly {sorted(URL_ACTIONS)}"]
    return []


def _permission_problems(resources: Mapping[str, Any]) -> list[str]:
    problems = []
    public_targets = {
        u["TargetFunctionArn"]
        for _, u in _of_type(resources, "AWS::Lambda::Url")
        if u["AuthType"] == "NONE"
    }
    distributions = {
        f"arn:aws:cloudfront::{ACCOUNT}:distribution/{{Ref:{d}}}"
        for d, _ in _of_type(resources, "AWS::CloudFront::Distribution")
    }
    for permission_id, permission in _of_type(resources, "AWS::Lambda::Permission"):
        principal = permission["Principal"]
        if principal == "*":
            if permission["FunctionName"] not in public_targets:
                problems.append(
                    f"{permission_id}: public {permission['Action']} without a public URL"
                )
            if permission["Action"] not in URL_ACTIONS:
                problems.append(f"{permission_id}: grants the public {permission['Action']}")
        elif principal == "cloudfront.amazonaws.com":
            if permission.get("SourceArn") not in distributions:
                problems.append(
                    f"{permission_id}: CloudFront, not only this template's distribution"
                )
        else:
            problems.append(f"{permission_id}: grants {principal}")
    return problems


def _distribution_problems(
    resources: Mapping[str, Any], logical_id: str, distribution: Mapping[str, Any]
) -> list[str]:
    problems = []
    config = distribution["DistributionConfig"]
    behaviors = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    for behavior in behaviors:
        if behavior.get("CachePolicyId") != CACHING_DISABLED:
            problems.append(f"{logical_id}: caches (cache policy {behavior.get('CachePolicyId')})")
        if behavior.get("Compress", False) is not False:
            problems.append(f"{logical_id}: compresses the stream")
        if behavior.get("OriginRequestPolicyId") != ALL_VIEWER_EXCEPT_HOST_HEADER:
            problems.append(
                f"{logical_id}: origin request policy {behavior.get('OriginRequestPolicyId')}"
            )
        for edge in ("LambdaFunctionAssociations", "FunctionAssociations", "ForwardedValues"):
            if behavior.get(edge):
                problems.append(f"{logical_id}: {edge} on the streaming path")
    for origin in config["Origins"]:
        if not origin["DomainName"].endswith(f".lambda-url.{REGION}.on.aws"):
            continue
        oac = re.fullmatch(r"\{GetAtt:(\w+)\.Id\}", str(origin.get("OriginAccessControlId")))
        settings = resources[oac.group(1)]["Properties"]["OriginAccessControlConfig"] if oac else {}
        if (
            settings.get("OriginAccessControlOriginType"),
            settings.get("SigningBehavior"),
            settings.get("SigningProtocol"),
        ) != ("lambda", "always", "sigv4"):
            problems.append(
                f"{logical_id}: origin {origin['Id']} not signed by a Lambda OAC, always"
            )
        custom = origin.get("CustomOriginConfig", {})
        if custom.get("OriginProtocolPolicy") != "https-only":
            problems.append(f"{logical_id}: origin {origin['Id']} not https-only")
        if custom.get("OriginReadTimeout") != MAX_ORIGIN_READ_TIMEOUT:
            problems.append(f"{logical_id}: origin read timeout {custom.get('OriginReadTimeout')}")
    return problems


# -- Which deployments are checked ---------------------------------------------


def choice_parameters(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """The template's switches: String parameters with a list of allowed values."""
    return {
        name: [str(v) for v in spec["AllowedValues"]]
        for name, spec in template.get("Parameters", {}).items()
        if spec.get("Type") == "String" and "AllowedValues" in spec
    }


def deployments(template: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Every combination of the switches, with the default model, then each model case.

    An auth mode is given what it needs (API_KEY a secret); where an API key
    can be encrypted with a customer managed key, API_KEY is also checked
    with one, on demand and on Managed Instances.
    """
    names = template.get("Parameters", {})
    extra = (
        {"PublicConcurrencyLimit": PUBLIC_CONCURRENCY} if "PublicConcurrencyLimit" in names else {}
    )
    switches = choice_parameters(template)

    def needs(chosen: Mapping[str, str]) -> dict[str, str]:
        # Managed Instances are given a network, API_KEY a secret (else the
        # Rules refuse them).
        network = MANAGED_INSTANCES_NETWORK if chosen.get("ManagedInstances") == "true" else {}
        auth = [AUTH_NEEDS.get((name, value), {}) for name, value in chosen.items()]
        return {**network, **{k: v for given in auth for k, v in given.items()}}

    for values in itertools.product(*switches.values()):
        chosen = dict(zip(switches, values, strict=True))
        yield {**extra, **needs(chosen), **chosen}
    # An auth mode without what it needs: the Rules should refuse it (and
    # then it is skipped); if they do not, it is checked as it would deploy.
    for name, value in AUTH_NEEDS:
        if value in switches.get(name, []):
            yield {**extra, name: value}
    if "ApiKeySecretKmsKeyArn" in names:
        for managed in ("false", "true"):
            chosen = {"Auth": "API_KEY", "ManagedInstances": managed}
            yield {**extra, **needs(chosen), **chosen, "ApiKeySecretKmsKeyArn": API_KEY_KMS_KEY}
    if checks_bedrock(template):
        (switch,) = [name for name in AUTH_SWITCHES if name in switches] or [None]
        for case, auth in itertools.product(MODEL_CASES[1:], switches.get(switch, [None])):
            chosen = {switch: auth} if auth else {}
            yield {**extra, **case, **needs(chosen), **chosen}


def checks_bedrock(template: Mapping[str, Any]) -> bool:
    """Whether the Bedrock checks apply: its model is set by ``BEDROCK_PARAMETERS``."""
    return set(template.get("Parameters", {})) >= BEDROCK_PARAMETERS


@pytest.fixture(scope="module", autouse=True)
def _translator() -> None:
    need_module("samtranslator")


def _checked(template: dict[str, Any]) -> Iterator[list[str]]:
    """The problems of each deployment the Rules accept, each labelled with its parameters."""
    for chosen in deployments(template):
        params = parameter_values(template, chosen)
        # A deployment CloudFormation would refuse proves nothing either way.
        assert constraint_violations(template, params) == []
        if rules_refusing(template, params):
            continue
        label = " ".join(f"{k}={v}" for k, v in chosen.items())
        yield [f"[{label}] {p}" for p in security_problems(deployed(template, params), params)]


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_every_accepted_deployment_is_secure(path: Path):
    checked = list(_checked(load(path)))
    assert checked
    assert [problem for problems in checked for problem in problems] == []


def test_chat_checks_each_switch_and_model():
    template = load(CHAT_TEMPLATE)
    assert set(choice_parameters(template)) == {
        "Auth",
        "CloudFrontPriceClass",
        "EnableSnapStart",
        "ManagedInstances",
    }
    # 3 auth modes x 3 price classes x 2 SnapStart x 2 compute types, of
    # which the 9 with SnapStart on Managed Instances are refused; API_KEY
    # with a customer managed key on each compute type; then the four other
    # models with each auth mode.
    assert len(list(_checked(template))) == 36 - 9 + 2 + 4 * 3


# -- Where Bedrock may be granted -------------------------------------------------


def _allows_bedrock(statement: Mapping[str, Any]) -> bool:
    """Whether an IAM statement allows some Bedrock action.

    IAM matches actions case-insensitively, ``*`` and ``?`` as wildcards (in
    the service prefix too: ``*`` and ``b*:Invoke*`` allow Bedrock); a
    NotAction statement is taken to allow it (it allows all it does not name).
    """
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return True
    return any(
        fnmatch.fnmatchcase("bedrock", str(action).lower().split(":", 1)[0])
        for action in _listed(statement.get("Action", []))
    )


def bedrock_grants(resources: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Where a deployed template allows calling Bedrock: (where, the statement or the ARN).

    Any policy document of any resource (a role's, a user's or group's
    inline policies, a managed or attached policy, a resource policy), and
    any AWS managed policy named for Bedrock.
    """
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = [(logical_id, properties.get("PolicyDocument"))]
        documents += [
            (f"{logical_id}/{policy.get('PolicyName')}", policy.get("PolicyDocument"))
            for policy in _listed(properties.get("Policies", []))
            if isinstance(policy, dict)
        ]
        for where, document in documents:
            if isinstance(document, dict):
                for statement in _listed(document.get("Statement", [])):
                    if _allows_bedrock(statement):
                        yield where, statement
        for arn in _listed(properties.get("ManagedPolicyArns", [])):
            if "bedrock" in str(arn).lower():
                yield logical_id, arn


def unchecked_bedrock_grants(template: dict[str, Any]) -> list[str]:
    """The Bedrock grants the Bedrock checks do not see, in each deployment the Rules accept.

    They see (``_role_problems``, against ``expected_model_grants``) the
    statements of a function's role, in the deployments of a template that
    ``checks_bedrock``, with each of ``MODEL_CASES``. Any other grant (in a
    template without the model parameters, in a policy no function's role
    carries, an AWS managed policy) would go unchecked.
    """
    unchecked = []
    for chosen in deployments(template):
        params = parameter_values(template, chosen)
        if rules_refusing(template, params):
            continue
        resources = deployed(template, params)
        seen = (
            [
                statement
                for role_id in _function_roles(resources)
                for document in _role_documents(resources, role_id)
                for statement in _listed(document["Statement"])
            ]
            if checks_bedrock(template)
            else []
        )
        label = " ".join(f"{k}={v}" for k, v in chosen.items())
        unchecked += [
            f"[{label}] {where}: {grant}"
            for where, grant in bedrock_grants(resources)
            if not any(grant is statement for statement in seen)
        ]
    return unchecked


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_bedrock_is_granted_only_where_the_bedrock_checks_look(path: Path):
    template = load(path)
    assert unchecked_bedrock_grants(template) == []
    # And where they look, there is a grant to check (else they check nothing).
    resources = deployed(template, parameter_values(template, {}))
    assert bool(list(bedrock_grants(resources))) == checks_bedrock(template)


def test_the_bedrock_checks_apply_to_the_bedrock_templates_only():
    checked = {template_id(path) for path in TEMPLATES if checks_bedrock(load(path))}
    assert checked == {"examples/chat", "init-bedrock"}


# -- Private by default ---------------------------------------------------------------


def default_exposure(template: dict[str, Any]) -> list[str]:
    """What the deployment with every default lets anyone without credentials call (nothing: [])."""
    resources = deployed(template, parameter_values(template, {}))
    exposed = [
        f"{url_id}: AuthType {url['AuthType']}"
        for url_id, url in _of_type(resources, "AWS::Lambda::Url")
        if url["AuthType"] != "AWS_IAM"
    ]
    exposed += [
        f"{permission_id}: grants the public {permission['Action']}"
        for permission_id, permission in _of_type(resources, "AWS::Lambda::Permission")
        if permission["Principal"] == "*"
    ]
    return exposed


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_every_template_is_private_by_default(path: Path):
    template = load(path)
    resources = deployed(template, parameter_values(template, {}))
    assert list(_of_type(resources, "AWS::Lambda::Url"))
    assert default_exposure(template) == []


# Defaults that would make each template public by default.
PUBLIC_DEFAULTS = {
    "UrlAuthType": {"UrlAuthType": "NONE"},
    "Auth": {"Auth": "API_KEY", "ApiKeySecretArn": API_KEY_SECRET},
}


@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_a_public_default_is_caught(path: Path):
    template = load(path)
    (switch,) = [name for name in AUTH_SWITCHES if name in template["Parameters"]]
    for name, value in PUBLIC_DEFAULTS[switch].items():
        template["Parameters"][name]["Default"] = value
    assert default_exposure(template)


# -- The chat template's own choices ---------------------------------------------


def _chat(**chosen: str) -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, Any]]]:
    template = load(CHAT_TEMPLATE)
    params = parameter_values(template, chosen)
    return template, params, deployed(template, params)


def test_rules_refuse_an_api_key_without_a_secret_and_a_profile_without_regions():
    template = load(CHAT_TEMPLATE)

    def refused(**chosen: str) -> list[str]:
        return rules_refusing(template, parameter_values(template, chosen))

    assert refused(Auth="API_KEY") == ["ApiKeyNeedsASecret"]
    assert refused(Auth="API_KEY", ApiKeySecretArn=API_KEY_SECRET) == []
    assert refused(Auth="CLOUDFRONT") == []
    assert refused(InferenceProfile="eu") == ["GeographicProfileNeedsRegions"]
    assert refused(InferenceProfile="eu", ModelRegions="eu-west-1") == []


def test_default_model_grants_are_the_global_profile_ones():
    # The Bedrock user guide's global cross-Region inference example, for
    # Claude Haiku 4.5 called from us-east-1, spelled out.
    _, _, resources = _chat()
    policy = next(
        p["PolicyDocument"]
        for p in resources["ChatRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "bedrock-model"
    )
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/global.{HAIKU}"
    assert {s["Sid"]: (s["Resource"], s.get("Condition")) for s in policy["Statement"]} == {
        "InferenceProfile": (profile, None),
        "GlobalProfileModelInThisRegion": (
            f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
            {
                "StringEquals": {
                    "aws:RequestedRegion": "us-east-1",
                    "bedrock:InferenceProfileArn": profile,
                }
            },
        ),
        "GlobalProfileModelAnywhere": (
            f"arn:aws:bedrock:::foundation-model/{HAIKU}",
            {
                "StringEquals": {
                    "aws:RequestedRegion": "unspecified",
                    "bedrock:InferenceProfileArn": profile,
                }
            },
        ),
    }
    assert all(set(s["Action"]) == BEDROCK_ACTIONS for s in policy["Statement"])
    env = resources["ChatFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CHAT_MODEL_ID"] == f"global.{HAIKU}"


def test_geographic_profile_grants_each_destination_through_the_profile():
    _, _, resources = _chat(InferenceProfile="us", ModelRegions="us-east-1,us-east-2,us-west-2")
    policy = next(
        p["PolicyDocument"]
        for p in resources["ChatRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "bedrock-model"
    )
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}"
    assert {s["Sid"]: (s["Resource"], s.get("Condition")) for s in policy["Statement"]} == {
        "InferenceProfile": (profile, None),
        "GeographicProfileModelInDestinations": (
            [
                f"arn:aws:bedrock:{r}::foundation-model/{HAIKU}"
                for r in ("us-east-1", "us-east-2", "us-west-2")
            ],
            {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        ),
    }


def test_model_regions_allow_sixteen_regions_and_no_more():
    pattern = load(CHAT_TEMPLATE)["Parameters"]["ModelRegions"]["AllowedPattern"]
    sixteen = MODEL_CASES[3]["ModelRegions"]
    assert len(sixteen.split(",")) == 16
    assert re.fullmatch(pattern, sixteen)
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "us-gov-west-1,us-gov-east-1")
    for refused in (sixteen + ",ap-east-5", "us-east-1, us-west-2", "us-east-1,", "*", "us-*-1"):
        assert not re.fullmatch(pattern, refused), refused


def test_model_id_is_a_foundation_model_without_a_profile_prefix():
    pattern = load(CHAT_TEMPLATE)["Parameters"]["ModelId"]["AllowedPattern"]
    for model in (HAIKU, "amazon.nova-pro-v1:0", "meta.llama3-1-8b-instruct-v1:0", "zai.glm-4.6"):
        assert re.fullmatch(pattern, model), model
    for profile_id in (
        f"global.{HAIKU}",
        f"us.{HAIKU}",
        f"us-gov.{HAIKU}",
        f"apac.{HAIKU}",
        "claude",
    ):
        assert not re.fullmatch(pattern, profile_id), profile_id


@pytest.mark.parametrize("snap_start", ["true", "false"])
def test_url_is_on_the_alias_of_a_published_version(snap_start):
    _, _, resources = _chat(EnableSnapStart=snap_start)
    url = resources["ChatUrl"]["Properties"]
    alias_id = re.fullmatch(r"\{Ref:(\w+)\}", url["TargetFunctionArn"]).group(1)
    alias = resources[alias_id]
    assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live"
    function = resources["ChatFunction"]["Properties"]
    expected = {"ApplyOn": "PublishedVersions"} if snap_start == "true" else None
    assert function.get("SnapStart") == expected


@pytest.mark.parametrize("auth", ["IAM", "API_KEY", "CLOUDFRONT"])
def test_outputs_say_how_to_call_the_function(auth):
    template = load(CHAT_TEMPLATE)
    params = parameter_values(template, {"Auth": auth, **AUTH_NEEDS.get(("Auth", auth), {})})
    url = f"https://ChatUrl.lambda-url.{REGION}.on.aws/"
    expected = {
        "ClientUrl": url,
        "FunctionUrl": url,
        "LogGroup": "{Ref:ChatLogGroup}",
        "InvokeCommand": f"lambdastream invoke {url} --sigv4 --prompt hi",
        "InvokerPolicy": "{Ref:ChatInvokerPolicy}",
    }
    if auth == "API_KEY":
        del expected["InvokerPolicy"]
        expected |= {
            "InvokeCommand": f"lambdastream invoke {url} --prompt hi"
            ' -H "Authorization: Bearer $(aws secretsmanager get-secret-value'
            f' --secret-id {API_KEY_SECRET} --query SecretString --output text)"',
            "OpenAIBaseUrl": f"{url}v1",
        }
    if auth == "CLOUDFRONT":
        distribution = "https://ChatDistribution.cloudfront.net/"
        expected |= {"ClientUrl": distribution, "CloudFrontUrl": distribution}
    assert outputs(template, params) == expected


def _published_version(resources: Mapping[str, Any]) -> tuple[str, str]:
    (version_id, version), *others = [
        (k, r) for k, r in resources.items() if r["Type"] == "AWS::Lambda::Version"
    ]
    assert not others
    return version_id, version["Properties"]["Description"]


@pytest.mark.parametrize(
    "change",
    [
        {"ModelId": "anthropic.claude-sonnet-4-5-20250929-v1:0"},
        {"InferenceProfile": "eu", "ModelRegions": "eu-west-1"},
        {"FunctionMemory": "1024"},
        {"FunctionTimeout": "300"},
        {"EnableSnapStart": "true"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_setting_publishes_a_new_version(change):
    # SAM names the version after a hash of the code and properties as
    # written; a parameter's new value changes neither. The alias would
    # then keep serving the old version, so the template must change the
    # version resource itself (its description: replacing it publishes).
    before = _published_version(_chat()[2])
    after = _published_version(_chat(**change)[2])
    assert before[0] != after[0] or before[1] != after[1]


# -- The checks catch a weakened template ---------------------------------------


def _statements(template: dict[str, Any], policy_name: str) -> list[Any]:
    """The statements of the chat role's inline policy ``policy_name`` (in an ``Fn::If`` or not)."""
    role = template["Resources"]["ChatRole"]["Properties"]
    policies = [p["Fn::If"][1] if "Fn::If" in p else p for p in role["Policies"]]
    return next(
        p["PolicyDocument"]["Statement"] for p in policies if p["PolicyName"] == policy_name
    )


def _first_if_value(statement: Any) -> dict[str, Any]:
    return statement["Fn::If"][1]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(template: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = template["Resources"]
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _widen_bedrock(template: dict[str, Any]) -> None:
    _first_if_value(_statements(template, "bedrock-model")[1])["Resource"] = (
        "arn:aws:bedrock:*:*:inference-profile/*"
    )


def _bedrock_wildcard_action(template: dict[str, Any]) -> None:
    _first_if_value(_statements(template, "bedrock-model")[1])["Action"] = "bedrock:*"


def _extra_action(template: dict[str, Any]) -> None:
    _statements(template, "logs")[0]["Action"].append("logs:CreateLogGroup")


def _logs_anywhere(template: dict[str, Any]) -> None:
    _statements(template, "logs")[0]["Resource"] = "*"


def _drop_global_condition(template: dict[str, Any]) -> None:
    del _first_if_value(_statements(template, "bedrock-model")[3])["Condition"]


def _drop_a_destination(template: dict[str, Any]) -> None:
    _first_if_value(_statements(template, "bedrock-model")[4])["Resource"].pop()


def _sam_made_role(template: dict[str, Any]) -> None:
    # What the SAM docs' examples do: SAM makes the role and attaches
    # AWSLambdaBasicExecutionRole (logs on every log group).
    function = template["Resources"]["ChatFunction"]["Properties"]
    del function["Role"]
    function["Policies"] = [{"Statement": _statements(template, "bedrock-model")}]
    del template["Resources"]["ChatRole"]


def _admin_role(template: dict[str, Any]) -> None:
    role = template["Resources"]["ChatRole"]["Properties"]
    role["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]


def _public_always(template: dict[str, Any]) -> None:
    del template["Resources"]["ChatUrlPublicInvokeUrl"]["Condition"]
    del template["Resources"]["ChatUrlPublicInvoke"]["Condition"]


def _api_key_statement(template: dict[str, Any], index: int) -> dict[str, Any]:
    statement = _statements(template, "api-key-secret")[index]
    return statement["Fn::If"][1] if "Fn::If" in statement else statement


def _api_key_set(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or delete) ``key`` of the API-key policy's statement ``index`` (0 read, 1 decrypt)."""

    def mutate(template: dict[str, Any]) -> None:
        statement = _api_key_statement(template, index)
        if value is _DELETE:
            del statement[key]
        else:
            statement[key] = value

    return mutate


def _kms_always(template: dict[str, Any]) -> None:
    # The decrypt statement whether or not a KMS key is given.
    statements = _statements(template, "api-key-secret")
    statements[1]["Fn::If"][0] = "ApiKeyAuth"


def _drop_kms_condition(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(template: dict[str, Any]) -> None:
        del _api_key_statement(template, 1)["Condition"]["StringEquals"][key]

    return mutate


def _url_public_always(template: dict[str, Any]) -> None:
    template["Resources"]["ChatUrl"]["Properties"]["AuthType"] = "NONE"
    _public_always(template)


def _api_key_without_a_secret(template: dict[str, Any]) -> None:
    # Auth=API_KEY alone makes the URL public (the secret's test dropped).
    template["Conditions"]["ApiKeyAuth"] = {"Fn::Equals": [{"Ref": "Auth"}, "API_KEY"]}
    del template["Rules"]["ApiKeyNeedsASecret"]
    # (The version's description splits the secret's ARN: it would fail.)
    for name in ("ChatFunction", "ChatManagedFunction"):
        template["Resources"][name]["Properties"]["VersionDescription"] = {"Ref": "Auth"}


def _secret_named(arn: Any) -> Callable[[dict[str, Any]], None]:
    """The function reads a secret other than the one the parameters name."""

    def mutate(template: dict[str, Any]) -> None:
        for name in ("ChatFunction", "ChatManagedFunction"):
            variables = template["Resources"][name]["Properties"]["Environment"]["Variables"]
            variables["CHAT_API_KEY_SECRET_ARN"]["Fn::If"][1] = arn
            _api_key_statement(template, 0)["Resource"] = arn

    return mutate


WEAKENINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "bedrock on every profile": _widen_bedrock,
    "bedrock:*": _bedrock_wildcard_action,
    "a model in one destination Region missing": _drop_a_destination,
    "global model without its conditions": _drop_global_condition,
    "role may create log groups": _extra_action,
    "logs on every log group": _logs_anywhere,
    "SAM-made role": _sam_made_role,
    "admin policy on the role": _admin_role,
    "buffered URL": _set("ChatUrl.Properties.InvokeMode", "BUFFERED"),
    "no exec wrapper": _set(
        "ChatFunction.Properties.Environment.Variables.AWS_LAMBDA_EXEC_WRAPPER", _DELETE
    ),
    "no layer": _set("ChatFunction.Properties.Layers", _DELETE),
    "no log retention": _set("ChatLogGroup.Properties.RetentionInDays", _DELETE),
    "log group named otherwise": _set("ChatLogGroup.Properties.LogGroupName", "/chat/logs"),
    "public grants without NONE": _public_always,
    "public InvokeFunction beyond the URL": _set(
        "ChatUrlPublicInvoke.Properties.InvokedViaFunctionUrl", _DELETE
    ),
    "public URL without InvokeFunction": _set("ChatUrlPublicInvoke.Condition", "UseCloudFront"),
    "no cost cap": _set("ChatFunction.Properties.ReservedConcurrentExecutions", _DELETE),
    "invoker policy without InvokeFunction": _set(
        "ChatInvokerPolicy.Properties.PolicyDocument.Statement.0.Action",
        ["lambda:InvokeFunctionUrl"],
    ),
    "invoker policy on every function": _set(
        "ChatInvokerPolicy.Properties.PolicyDocument.Statement.0.Resource", ["*"]
    ),
    "CloudFront grant for every distribution": _set(
        "ChatCloudFrontInvoke.Properties.SourceArn", _DELETE
    ),
    "CloudFront caches": _set(
        "ChatDistribution.Properties.DistributionConfig.DefaultCacheBehavior.CachePolicyId",
        "658327ea-f89d-4fab-a63d-7e88639e58f6",
    ),
    "CloudFront compresses": _set(
        "ChatDistribution.Properties.DistributionConfig.DefaultCacheBehavior.Compress", True
    ),
    "CloudFront forwards Host": _set(
        "ChatDistribution.Properties.DistributionConfig.DefaultCacheBehavior.OriginRequestPolicyId",
        "216adef6-5c7f-47e4-b989-5492eafa07d3",
    ),
    "OAC signs only unsigned requests": _set(
        "ChatOriginAccessControl.Properties.OriginAccessControlConfig.SigningBehavior",
        "no-override",
    ),
    "CloudFront's default 30 s origin timeout": _set(
        "ChatDistribution.Properties.DistributionConfig.Origins.0.CustomOriginConfig.OriginReadTimeout",
        _DELETE,
    ),
    "URL public whatever Auth says": _url_public_always,
    "API-key URL in front of a function checking no key": _set(
        "ChatFunction.Properties.Environment.Variables.CHAT_API_KEY_SECRET_ARN", _DELETE
    ),
    "API-key URL public without a secret": _api_key_without_a_secret,
    "API key read from every secret": _api_key_set(
        0, "Resource", "arn:aws:secretsmanager:*:*:secret:*"
    ),
    "API key read from secrets named alike": _api_key_set(
        0, "Resource", {"Fn::Sub": "${ApiKeySecretArn}*"}
    ),
    "API key read with secretsmanager:*": _api_key_set(0, "Action", "secretsmanager:*"),
    "API key secret may also be listed": _api_key_set(
        0, "Action", ["secretsmanager:GetSecretValue", "secretsmanager:ListSecrets"]
    ),
    "API key from a secret the parameters do not name": _secret_named(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf"
    ),
    "kms:Decrypt without a KMS key given": _kms_always,
    "kms:Decrypt on every key": _api_key_set(1, "Resource", "*"),
    "kms:Decrypt not only through Secrets Manager": _drop_kms_condition("kms:ViaService"),
    "kms:Decrypt for any secret": _drop_kms_condition("kms:EncryptionContext:SecretARN"),
    "kms:* on the key": _api_key_set(1, "Action", "kms:*"),
    "no secret read on Managed Instances": _set(
        "ChatManagedFunction.Properties.Environment.Variables.CHAT_API_KEY_SECRET_ARN", _DELETE
    ),
}


def _managed_instances_weakenings(
    *, function: str, on_demand: str, role: str, operator_role: str, provider: str
) -> dict[str, Callable[[dict[str, Any]], None]]:
    """Lambda Managed Instances (ManagedInstances=true) broken the ways a hurried edit would."""
    operator_policy = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
    }
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    extra_policy = {
        "PolicyName": "more",
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "ec2:TerminateInstances",
                    "Resource": "arn:aws:ec2:*:*:instance/*",
                }
            ],
        },
    }
    return {
        "operator role with a second managed policy": _set(
            f"{operator_role}.Properties.ManagedPolicyArns", [operator_policy, admin]
        ),
        "operator role with an inline policy": _set(
            f"{operator_role}.Properties.Policies", [extra_policy]
        ),
        "operator role trusted by EC2": _set(
            f"{operator_role}.Properties.AssumeRolePolicyDocument.Statement.0.Principal.Service",
            "ec2.amazonaws.com",
        ),
        "operator policy on the function's role": _set(
            f"{role}.Properties.ManagedPolicyArns", [operator_policy]
        ),
        "function runs with the operator role": _set(
            f"{function}.Properties.Role", {"Fn::GetAtt": [operator_role, "Arn"]}
        ),
        "instances on the VPC's default security group": _set(
            f"{provider}.Properties.VpcConfig.SecurityGroupIds", _DELETE
        ),
        "no cap on the fleet": _set(
            f"{provider}.Properties.CapacityProviderScalingConfig", _DELETE
        ),
        "instances of another architecture": _set(
            f"{provider}.Properties.InstanceRequirements.Architectures", ["x86_64"]
        ),
        "Managed Instances on python3.12": _set(f"{function}.Properties.Runtime", "python3.12"),
        "Managed Instances below 2 GB": _set(f"{function}.Properties.MemorySize", 1024),
        "Managed Instances without the exec wrapper": _set(
            f"{function}.Properties.Environment.Variables.AWS_LAMBDA_EXEC_WRAPPER", _DELETE
        ),
        "public URL on Managed Instances without a cost cap": _set(
            f"{function}.Properties.ReservedConcurrentExecutions", _DELETE
        ),
        "URL on the on-demand function whatever ManagedInstances says": _url_on(on_demand),
    }


def _url_on(function: str) -> Callable[[dict[str, Any]], None]:
    """Point every ``Fn::If`` between the two functions' aliases at ``function``'s."""

    def mutate(template: dict[str, Any]) -> None:
        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if "Fn::If" in node and any(
                    isinstance(b, dict) and str(b.get("Ref", "")).endswith(".Alias")
                    for b in node["Fn::If"][1:]
                ):
                    return {"Ref": f"{function}.Alias"}
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        template["Resources"] = walk(template["Resources"])

    return mutate


WEAKENINGS |= {
    f"managed instances: {name}": weaken
    for name, weaken in _managed_instances_weakenings(
        function="ChatManagedFunction",
        on_demand="ChatFunction",
        role="ChatRole",
        operator_role="ChatOperatorRole",
        provider="ChatCapacityProvider",
    ).items()
}


@pytest.mark.parametrize("weakening", WEAKENINGS, ids=str)
def test_each_weakening_is_caught(weakening):
    template = load(CHAT_TEMPLATE)
    WEAKENINGS[weakening](template)
    # The first deployment with a problem will do: the weakening was seen.
    assert any(_checked(template)), f"{weakening}: the checks found nothing wrong"


# -- The FastAPI project's template ------------------------------------------------

FASTAPI_TEMPLATE = INIT_TEMPLATES["fastapi"]


def test_fastapi_checks_each_switch_and_no_model():
    template = load(FASTAPI_TEMPLATE)
    assert set(choice_parameters(template)) == {
        "UrlAuthType",
        "EnableSnapStart",
        "ManagedInstances",
    }
    assert not checks_bedrock(template)
    # 2 auth types x 2 SnapStart x 2 compute types, less SnapStart on
    # Managed Instances (refused); no model.
    assert len(list(_checked(template))) == 8 - 2


@pytest.mark.parametrize(
    "change",
    [{"FunctionMemory": "1024"}, {"FunctionTimeout": "300"}, {"EnableSnapStart": "true"}],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_fastapi_setting_publishes_a_new_version(change):
    # As for the chat: else the `live` alias keeps serving the old version.
    template = load(FASTAPI_TEMPLATE)
    before = _published_version(deployed(template, parameter_values(template, {})))
    after = _published_version(deployed(template, parameter_values(template, change)))
    assert before != after


def _fastapi_sam_made_role(template: dict[str, Any]) -> None:
    # SAM makes the role and attaches AWSLambdaBasicExecutionRole.
    del template["Resources"]["StreamingFunction"]["Properties"]["Role"]
    del template["Resources"]["FunctionRole"]


def _fastapi_public_always(template: dict[str, Any]) -> None:
    del template["Resources"]["PublicInvokeUrl"]["Condition"]
    del template["Resources"]["PublicInvoke"]["Condition"]


_A_MODEL = f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}"


def _grant_on(path: str, action: str, resource: str = "") -> Callable[[dict[str, Any]], None]:
    """Append a statement allowing ``action`` on ``resource`` (a model) to those at ``path``."""

    def mutate(template: dict[str, Any]) -> None:
        node = template["Resources"]
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        node.append({"Effect": "Allow", "Action": action, "Resource": resource or _A_MODEL})

    return mutate


def _policy_resource(
    resource_type: str,
    action: str = "bedrock:InvokeModel",
    resource: str = _A_MODEL,
    **properties: Any,
) -> Callable[[dict[str, Any]], None]:
    """Add a policy allowing ``action`` on ``resource`` (a model)."""

    def mutate(template: dict[str, Any]) -> None:
        template["Resources"]["ModelAccess"] = {
            "Type": resource_type,
            "Properties": {
                **properties,
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
                },
            },
        }

    return mutate


_FASTAPI_LOGS = "FunctionRole.Properties.Policies.0.PolicyDocument.Statement.0"
_FASTAPI_INVOKER_STATEMENTS = "InvokerPolicy.Properties.PolicyDocument.Statement"
_FASTAPI_INVOKER = f"{_FASTAPI_INVOKER_STATEMENTS}.0"

FASTAPI_WEAKENINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "buffered URL": _set("FunctionUrl.Properties.InvokeMode", "BUFFERED"),
    "URL without auth whatever UrlAuthType says": _set("FunctionUrl.Properties.AuthType", "NONE"),
    "URL on the function, not the alias the grants name": _set(
        "FunctionUrl.Properties.TargetFunctionArn", {"Fn::GetAtt": ["StreamingFunction", "Arn"]}
    ),
    "no exec wrapper": _set(
        "StreamingFunction.Properties.Environment.Variables.AWS_LAMBDA_EXEC_WRAPPER", _DELETE
    ),
    "no layer": _set("StreamingFunction.Properties.Layers", _DELETE),
    "no log retention": _set("FunctionLogGroup.Properties.RetentionInDays", _DELETE),
    "logs:*": _set(f"{_FASTAPI_LOGS}.Action", ["logs:*"]),
    "role may create log groups": _set(
        f"{_FASTAPI_LOGS}.Action",
        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup"],
    ),
    "logs on every log group": _set(f"{_FASTAPI_LOGS}.Resource", "*"),
    "SAM-made role": _fastapi_sam_made_role,
    "a role from elsewhere": _set(
        "StreamingFunction.Properties.Role", f"arn:aws:iam::{ACCOUNT}:role/shared"
    ),
    "admin policy on the role": _set(
        "FunctionRole.Properties.ManagedPolicyArns", ["arn:aws:iam::aws:policy/AdministratorAccess"]
    ),
    "public grants without NONE": _fastapi_public_always,
    "public InvokeFunction beyond the URL": _set(
        "PublicInvoke.Properties.InvokedViaFunctionUrl", _DELETE
    ),
    "no cost cap": _set("StreamingFunction.Properties.ReservedConcurrentExecutions", _DELETE),
    "invoker policy without InvokeFunction": _set(
        f"{_FASTAPI_INVOKER}.Action", ["lambda:InvokeFunctionUrl"]
    ),
    "invoker policy on every function": _set(f"{_FASTAPI_INVOKER}.Resource", ["*"]),
    "invoker policy may also read an object": _grant_on(
        _FASTAPI_INVOKER_STATEMENTS, "s3:GetObject", "arn:aws:s3:::bucket/key"
    ),
    "a policy for no function's role and no URL's callers": _policy_resource(
        "AWS::IAM::ManagedPolicy", "s3:GetObject", "arn:aws:s3:::bucket/key"
    ),
    **{
        f"managed instances: {name}": weaken
        for name, weaken in _managed_instances_weakenings(
            function="ManagedStreamingFunction",
            on_demand="StreamingFunction",
            role="FunctionRole",
            operator_role="OperatorRole",
            provider="CapacityProvider",
        ).items()
    },
}


@pytest.mark.parametrize("weakening", FASTAPI_WEAKENINGS, ids=str)
def test_each_fastapi_weakening_is_caught(weakening):
    template = load(FASTAPI_TEMPLATE)
    FASTAPI_WEAKENINGS[weakening](template)
    assert any(_checked(template)), f"{weakening}: the checks found nothing wrong"


_FASTAPI_ROLE = "FunctionRole.Properties.Policies.0.PolicyDocument.Statement"
_ATTACHED = {"PolicyName": "model", "Roles": [{"Ref": "FunctionRole"}]}
# The FastAPI template gets no Bedrock checks: any grant there is unchecked.
# The chat's are checked on its function's role only.
BEDROCK_GRANT_WEAKENINGS: dict[str, tuple[Path, Callable[[dict[str, Any]], None]]] = {
    "fastapi: a model on the role": (
        FASTAPI_TEMPLATE,
        _grant_on(_FASTAPI_ROLE, "bedrock:InvokeModelWithResponseStream"),
    ),
    "fastapi: bedrock:*": (FASTAPI_TEMPLATE, _grant_on(_FASTAPI_ROLE, "bedrock:*")),
    "fastapi: Bedrock in other letters": (
        FASTAPI_TEMPLATE,
        _grant_on(_FASTAPI_ROLE, "Bedrock:invokemodel"),
    ),
    "fastapi: every action": (FASTAPI_TEMPLATE, _grant_on(_FASTAPI_ROLE, "*")),
    "fastapi: a wildcard service": (FASTAPI_TEMPLATE, _grant_on(_FASTAPI_ROLE, "b*:Invoke*")),
    "fastapi: an attached policy": (
        FASTAPI_TEMPLATE,
        _policy_resource("AWS::IAM::Policy", **_ATTACHED),
    ),
    "fastapi: the invoker policy": (
        FASTAPI_TEMPLATE,
        _grant_on(_FASTAPI_INVOKER_STATEMENTS, "bedrock:InvokeModel"),
    ),
    "fastapi: AWS managed Bedrock policy": (
        FASTAPI_TEMPLATE,
        _set(
            "FunctionRole.Properties.ManagedPolicyArns",
            ["arn:aws:iam::aws:policy/AmazonBedrockFullAccess"],
        ),
    ),
    "chat: a managed policy no function's role carries": (
        CHAT_TEMPLATE,
        _policy_resource("AWS::IAM::ManagedPolicy"),
    ),
}


@pytest.mark.parametrize("weakening", BEDROCK_GRANT_WEAKENINGS, ids=str)
def test_an_unchecked_bedrock_grant_is_caught(weakening):
    path, weaken = BEDROCK_GRANT_WEAKENINGS[weakening]
    template = load(path)
    weaken(template)
    assert unchecked_bedrock_grants(template), f"{weakening}: not seen"
