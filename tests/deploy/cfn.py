"""A SAM template as CloudFormation would deploy it, offline: for tests.

``deployed(template, parameters)`` runs the SAM translator (the one
``sam deploy`` and CloudFormation's transform run), then does what
CloudFormation does with the result for those parameter values: evaluates
the Conditions, drops the resources and ``AWS::NoValue`` entries they turn
off, and resolves the intrinsic functions. What only exists once deployed
(a resource's ``Ref`` or ``GetAtt``) becomes a readable placeholder:

    {Ref:ChatLogGroup}                          a Ref to a resource
    {GetAtt:ChatLogGroup.Arn}                   an attribute
    https://ChatUrl.lambda-url.<region>.on.aws/ a Function URL (so that the
                                                origin host can be split off)
    ChatDistribution.cloudfront.net             a distribution's domain

so that tests compare plain strings. ``constraint_violations`` and
``rules_refusing`` say what CloudFormation would refuse before deploying.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "lambdastream-chat"

_NO_VALUE = object()


class TemplateError(Exception):
    """The template uses something this evaluator (or CloudFormation) cannot resolve."""


def load(path: Path) -> dict[str, Any]:
    """Parse a template with SAM's YAML loader (short-form intrinsics included)."""
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse(path.read_text()))


def parameter_values(template: Mapping[str, Any], chosen: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value, ``chosen`` over the defaults, as strings (as CloudFormation has)."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in chosen:
            values[name] = chosen[name]
        elif "Default" in spec:
            values[name] = _as_string(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default and no value")
    unknown = set(chosen) - set(values)
    if unknown:
        raise TemplateError(f"not parameters of the template: {sorted(unknown)}")
    return values


def constraint_violations(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """The parameter values CloudFormation would refuse (AllowedValues, AllowedPattern, bounds)."""
    violations = []
    for name, spec in template.get("Parameters", {}).items():
        value = parameters[name]
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [_as_string(v) for v in allowed]:
            violations.append(f"{name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            violations.append(f"{name}={value!r} does not match {pattern}")
        if "MinValue" in spec and float(value) < float(spec["MinValue"]):
            violations.append(f"{name}={value} is below {spec['MinValue']}")
        if "MaxValue" in spec and float(value) > float(spec["MaxValue"]):
            violations.append(f"{name}={value} is above {spec['MaxValue']}")
    return violations


def translate(
    template: Mapping[str, Any], parameters: Mapping[str, str], region: str = REGION
) -> dict[str, Any]:
    """The SAM translator's CloudFormation, as ``sam deploy`` would submit it (after packaging).

    Local ``CodeUri``/``ContentUri`` paths become S3 locations first, as
    ``sam package`` would make them; AWS managed policies are resolved by an
    empty map, so a template that names one by its short name fails here.
    """
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    packaged = copy.deepcopy(dict(template))
    for name, resource in packaged.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged-artifacts/{name}.zip"
    session = boto3.session.Session(region_name=region)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator({}, Parser(), boto_session=session, metrics=metrics)
    try:
        return translator.translate(packaged, dict(parameters), get_managed_policy_map=lambda: {})
    finally:
        metrics.publish()  # else it warns of unpublished metrics when collected


def deployed(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    region: str = REGION,
    account: str = ACCOUNT,
    stack: str = STACK,
) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation would create: logical id -> resolved resource."""
    cfn = translate(template, parameters, region)
    evaluator = Evaluator(cfn, parameters, region=region, account=account, stack=stack)
    resources = {}
    for logical_id, resource in cfn["Resources"].items():
        condition = resource.get("Condition")
        if condition is not None and not evaluator.condition(condition):
            continue
        resolved = evaluator.value(resource)
        resolved["Type"] = resource["Type"]
        resources[logical_id] = resolved
    return resources


def outputs(
    template: Mapping[str, Any], parameters: Mapping[str, str], *, region: str = REGION
) -> dict[str, Any]:
    """The stack's outputs once deployed: name -> resolved value."""
    cfn = translate(template, parameters, region)
    evaluator = Evaluator(cfn, parameters, region=region)
    return {
        name: evaluator.value(output["Value"])
        for name, output in cfn.get("Outputs", {}).items()
        if "Condition" not in output or evaluator.condition(output["Condition"])
    }


def rules_refusing(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """The names of the template's Rules whose assertions fail for ``parameters``."""
    evaluator = Evaluator(template, parameters)
    refusing = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluator.rule_value(rule["RuleCondition"]):
            continue
        if not all(evaluator.rule_value(a["Assert"]) for a in rule.get("Assertions", [])):
            refusing.append(name)
    return refusing


class Evaluator:
    """CloudFormation's intrinsic functions for one set of parameter values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        *,
        region: str = REGION,
        account: str = ACCOUNT,
        stack: str = STACK,
    ) -> None:
        self.template = template
        self.resources = template.get("Resources", {})
        partition = "aws-us-gov" if region.startswith("us-gov-") else "aws"
        self.refs: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": partition,
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/"
            "0a1b2c3d-0000-4000-8000-000000000000",
            "AWS::URLSuffix": "amazonaws.com",
            **parameters,
        }
        self.region = region
        self._conditions: dict[str, bool] = {}

    # -- Conditions -----------------------------------------------------

    def condition(self, name: str) -> bool:
        """The value of the named condition."""
        if name not in self._conditions:
            try:
                expression = self.template["Conditions"][name]
            except KeyError:
                raise TemplateError(f"no condition {name}") from None
            self._conditions[name] = self._boolean(expression)
        return self._conditions[name]

    def _boolean(self, expression: Any) -> bool:
        (function, args), *rest = expression.items()
        if rest:
            raise TemplateError(f"not one function: {expression}")
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.value(a) for a in args)
            return _as_string(left) == _as_string(right)
        if function == "Fn::Not":
            return not self._boolean(args[0])
        if function == "Fn::And":
            return all(self._boolean(a) for a in args)
        if function == "Fn::Or":
            return any(self._boolean(a) for a in args)
        raise TemplateError(f"{function} is not a condition function")

    def rule_value(self, expression: Any) -> Any:
        """A Rules expression (RuleCondition, Assert) evaluated."""
        if not isinstance(expression, dict) or len(expression) != 1:
            return self.value(expression)
        (function, args), *_ = expression.items()
        rule_functions: dict[str, Callable[[Any], Any]] = {
            "Fn::Equals": lambda a: (
                _as_string(self.rule_value(a[0])) == _as_string(self.rule_value(a[1]))
            ),
            "Fn::Not": lambda a: not self.rule_value(a[0]),
            "Fn::And": lambda a: all(self.rule_value(x) for x in a),
            "Fn::Or": lambda a: any(self.rule_value(x) for x in a),
            "Fn::Contains": lambda a: (
                _as_string(self.rule_value(a[1])) in [_as_string(x) for x in self.rule_value(a[0])]
            ),
            "Fn::EachMemberEquals": lambda a: all(
                _as_string(x) == _as_string(self.rule_value(a[1])) for x in self.rule_value(a[0])
            ),
            "Fn::EachMemberIn": lambda a: (
                set(map(_as_string, self.rule_value(a[0])))
                <= set(map(_as_string, self.rule_value(a[1])))
            ),
        }
        if function in rule_functions:
            return rule_functions[function](args)
        return self.value(expression)

    # -- Values ---------------------------------------------------------

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic function resolved (see the module's docstring)."""
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, args), *_ = node.items()
            if key == "Ref":
                return self._ref(args)
            if key.startswith("Fn::"):
                return self._function(key, args)
        resolved = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.refs:
            return self.refs[name]
        if name in self.resources:
            return f"{{Ref:{name}}}"
        raise TemplateError(f"Ref to nothing: {name}")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self.resources.get(logical_id, {}).get("Type")
        if resource_type is None:
            raise TemplateError(f"GetAtt of nothing: {logical_id}.{attribute}")
        if (resource_type, attribute) == ("AWS::Lambda::Url", "FunctionUrl"):
            return f"https://{logical_id}.lambda-url.{self.region}.on.aws/"
        if (resource_type, attribute) == ("AWS::CloudFront::Distribution", "DomainName"):
            return f"{logical_id}.cloudfront.net"
        return f"{{GetAtt:{logical_id}.{attribute}}}"

    def _function(self, function: str, args: Any) -> Any:
        if function == "Fn::If":
            name, if_true, if_false = args
            return self.value(if_true if self.condition(name) else if_false)
        if function == "Fn::GetAtt":
            logical_id, attribute = args.split(".", 1) if isinstance(args, str) else args
            return self._get_att(logical_id, attribute)
        if function == "Fn::Sub":
            text, variables = (args, {}) if isinstance(args, str) else args
            return self._sub(text, {k: self.value(v) for k, v in variables.items()})
        if function == "Fn::Join":
            separator, items = args
            return separator.join(_as_string(i) for i in self.value(items))
        if function == "Fn::Split":
            separator, text = args
            return _as_string(self.value(text)).split(separator)
        if function == "Fn::Select":
            index, items = args
            items = self.value(items)
            index = int(self.value(index))
            if not 0 <= index < len(items):
                raise TemplateError(f"Fn::Select index {index} out of range of {items}")
            return items[index]
        if function == "Fn::FindInMap":
            mapping, key, subkey = (self.value(a) for a in args)
            return self.template["Mappings"][mapping][key][subkey]
        if function == "Fn::ToJsonString":
            return json.dumps(self.value(args), separators=(",", ":"))
        raise TemplateError(f"{function} is not supported here")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _as_string(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            value = self._ref(name)
            if value is _NO_VALUE:
                raise TemplateError(f"${{{name}}} in Fn::Sub is AWS::NoValue")
            return _as_string(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateError(f"not a string: {value!r}")
