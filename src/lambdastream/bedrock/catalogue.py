"""bedrock-local's control plane: the models and inference profiles it lists, and the answers.

Apps read the Bedrock catalogue at init (``boto3.client("bedrock")``:
ListFoundationModels, GetFoundationModel, ListInferenceProfiles,
GetInferenceProfile). bedrock-local answers those reads on the port that
serves bedrock-runtime, in the ``bedrock`` service's REST-JSON wire format as
botocore's service model ``bedrock`` (2023-04-20) gives it, so
``AWS_ENDPOINT_URL_BEDROCK`` and ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` can
name the same URL.

Everything here is pure: :func:`answer` maps a request (method, target,
region) to a status and a JSON body, or raises :class:`CatalogueError`. The
region is the one the request was signed for (:func:`region_of`).

The catalogue holds text models of every family bedrock-local serves (each id
speaks a family of :mod:`lambdastream.bedrock.families.registry`), with the
names, modalities, inference types and customizations Bedrock lists for them
in us-east-1, every one ``ACTIVE``. The same models are listed in every
region. Cross-region inference profiles are listed in the regions of their
geography (``us.`` in ``us-*``, ``eu.`` in ``eu-*``, ``apac.`` in ``ap-*``),
``global.`` ones everywhere.

>>> status, body = answer("GET", "/foundation-models?byProvider=deepseek", "us-west-2")
>>> status, [m["modelArn"] for m in body["modelSummaries"]]
(200, ['arn:aws:bedrock:us-west-2::foundation-model/deepseek.r1-v1:0'])
>>> answer("GET", "/inference-profiles/us.deepseek.r1-v1:0", "us-east-1")[1]["models"][1]
{'modelArn': 'arn:aws:bedrock:us-east-2::foundation-model/deepseek.r1-v1:0'}
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

__all__ = [
    "DEFAULT_REGION",
    "GEOGRAPHIES",
    "MODELS",
    "CatalogueError",
    "Model",
    "answer",
    "geography_of",
    "profiles_in",
    "region_of",
    "serves",
]

DEFAULT_REGION = "us-east-1"
# The local account, as lambdastream.local.iam names it (the one AWS's documentation uses).
ACCOUNT_ID = "123456789012"
# The enums of botocore's service model (ModelModality, InferenceType, ...).
MODALITIES = ("TEXT", "IMAGE", "EMBEDDING")
INFERENCE_TYPES = ("ON_DEMAND", "PROVISIONED")
CUSTOMIZATIONS = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")
PROFILE_TYPES = ("SYSTEM_DEFINED", "APPLICATION")
# MaxResults: min 1, max 1000.
MAX_RESULTS = 1000
# The Provider shape's pattern.
_PROVIDER = re.compile(r"[A-Za-z0-9- ]{1,63}")
# GetFoundationModelIdentifier's pattern: a model id or a foundation-model ARN.
_MODEL_IDENTIFIER = re.compile(
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}"
    r"([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})"
    r"|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})"
)
# InferenceProfileIdentifier's pattern: a profile id or its ARN.
_PROFILE_IDENTIFIER = re.compile(
    r"(arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]{0,20}):(|[0-9]{12}):"
    r"(inference-profile|application-inference-profile)/)?[a-zA-Z0-9-:.]+"
)
# System-defined profiles carry these timestamps; fixed, so every answer is the same.
_PROFILE_TIME = "2024-08-27T00:00:00Z"
_TOKEN_PREFIX = "lambdastream-bedrock-local:"


class CatalogueError(Exception):
    """An answer the ``bedrock`` service gives as an error: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Model:
    """One foundation model as ListFoundationModels describes it, and its profiles."""

    model_id: str
    provider: str
    name: str
    inputs: tuple[str, ...] = ("TEXT",)
    customizations: tuple[str, ...] = ()
    on_demand: bool = True  # else offered only through inference profiles
    geographies: tuple[str, ...] = ()  # its cross-region inference profiles

    def summary(self, region: str) -> dict[str, Any]:
        """FoundationModelSummary (and FoundationModelDetails: the same members)."""
        return {
            "modelArn": _model_arn(region, self.model_id),
            "modelId": self.model_id,
            "modelName": self.name,
            "providerName": self.provider,
            "inputModalities": list(self.inputs),
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": list(self.customizations),
            "inferenceTypesSupported": ["ON_DEMAND" if self.on_demand else "INFERENCE_PROFILE"],
            "modelLifecycle": {"status": "ACTIVE"},
        }


_TEXT_IMAGE = ("TEXT", "IMAGE")
_TUNE = ("FINE_TUNING",)
_TITAN_TUNE = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
_NOVA_TUNE = ("FINE_TUNING", "DISTILLATION")
_ALL_GEOS = ("us", "eu", "apac")

MODELS: tuple[Model, ...] = (
    # Anthropic: Claude 2 text completions, then Claude 3+ messages.
    Model("anthropic.claude-instant-v1", "Anthropic", "Claude Instant"),
    Model("anthropic.claude-v2:1", "Anthropic", "Claude"),
    Model(
        "anthropic.claude-3-haiku-20240307-v1:0", "Anthropic", "Claude 3 Haiku", _TEXT_IMAGE,
        geographies=_ALL_GEOS,
    ),
    Model(
        "anthropic.claude-3-5-sonnet-20240620-v1:0", "Anthropic", "Claude 3.5 Sonnet",
        _TEXT_IMAGE, geographies=_ALL_GEOS,
    ),
    Model(
        "anthropic.claude-3-5-sonnet-20241022-v2:0", "Anthropic", "Claude 3.5 Sonnet v2",
        _TEXT_IMAGE, on_demand=False, geographies=("us", "apac"),
    ),
    Model(
        "anthropic.claude-3-5-haiku-20241022-v1:0", "Anthropic", "Claude 3.5 Haiku",
        on_demand=False, geographies=("us",),
    ),
    Model(
        "anthropic.claude-3-7-sonnet-20250219-v1:0", "Anthropic", "Claude 3.7 Sonnet",
        _TEXT_IMAGE, on_demand=False, geographies=_ALL_GEOS,
    ),
    Model(
        "anthropic.claude-sonnet-4-20250514-v1:0", "Anthropic", "Claude Sonnet 4", _TEXT_IMAGE,
        on_demand=False, geographies=(*_ALL_GEOS, "global"),
    ),
    Model(
        "anthropic.claude-opus-4-20250514-v1:0", "Anthropic", "Claude Opus 4", _TEXT_IMAGE,
        on_demand=False, geographies=("us",),
    ),
    Model(
        "anthropic.claude-opus-4-1-20250805-v1:0", "Anthropic", "Claude Opus 4.1", _TEXT_IMAGE,
        on_demand=False, geographies=("us",),
    ),
    Model(
        "anthropic.claude-sonnet-4-5-20250929-v1:0", "Anthropic", "Claude Sonnet 4.5",
        _TEXT_IMAGE, on_demand=False, geographies=("us", "eu", "global"),
    ),
    Model(
        "anthropic.claude-haiku-4-5-20251001-v1:0", "Anthropic", "Claude Haiku 4.5",
        _TEXT_IMAGE, on_demand=False, geographies=("us", "eu", "global"),
    ),
    # Cohere: Command text, Command R / R+.
    Model("cohere.command-text-v14", "Cohere", "Command", customizations=_TUNE),
    Model("cohere.command-light-text-v14", "Cohere", "Command Light", customizations=_TUNE),
    Model("cohere.command-r-v1:0", "Cohere", "Command R"),
    Model("cohere.command-r-plus-v1:0", "Cohere", "Command R+"),
    # Meta Llama 3 / 3.1 / 3.2 / 3.3 / 4.
    Model("meta.llama3-8b-instruct-v1:0", "Meta", "Llama 3 8B Instruct"),
    Model("meta.llama3-70b-instruct-v1:0", "Meta", "Llama 3 70B Instruct"),
    Model(
        "meta.llama3-1-8b-instruct-v1:0", "Meta", "Llama 3.1 8B Instruct", customizations=_TUNE,
        on_demand=False, geographies=("us",),
    ),
    Model(
        "meta.llama3-1-70b-instruct-v1:0", "Meta", "Llama 3.1 70B Instruct",
        customizations=_TUNE, on_demand=False, geographies=("us",),
    ),
    Model(
        "meta.llama3-2-1b-instruct-v1:0", "Meta", "Llama 3.2 1B Instruct", on_demand=False,
        geographies=("us", "eu"),
    ),
    Model(
        "meta.llama3-2-3b-instruct-v1:0", "Meta", "Llama 3.2 3B Instruct", on_demand=False,
        geographies=("us", "eu"),
    ),
    Model(
        "meta.llama3-2-11b-instruct-v1:0", "Meta", "Llama 3.2 11B Instruct", _TEXT_IMAGE,
        on_demand=False, geographies=("us",),
    ),
    Model(
        "meta.llama3-2-90b-instruct-v1:0", "Meta", "Llama 3.2 90B Instruct", _TEXT_IMAGE,
        on_demand=False, geographies=("us",),
    ),
    Model(
        "meta.llama3-3-70b-instruct-v1:0", "Meta", "Llama 3.3 70B Instruct", on_demand=False,
        geographies=("us",),
    ),
    Model(
        "meta.llama4-scout-17b-instruct-v1:0", "Meta", "Llama 4 Scout 17B Instruct",
        _TEXT_IMAGE, on_demand=False, geographies=("us",),
    ),
    Model(
        "meta.llama4-maverick-17b-instruct-v1:0", "Meta", "Llama 4 Maverick 17B Instruct",
        _TEXT_IMAGE, on_demand=False, geographies=("us",),
    ),
    # Amazon: Titan Text, Nova.
    Model("amazon.titan-tg1-large", "Amazon", "Titan Text Large"),
    Model(
        "amazon.titan-text-lite-v1", "Amazon", "Titan Text G1 - Lite",
        customizations=_TITAN_TUNE,
    ),
    Model(
        "amazon.titan-text-express-v1", "Amazon", "Titan Text G1 - Express",
        customizations=_TITAN_TUNE,
    ),
    Model("amazon.titan-text-premier-v1:0", "Amazon", "Titan Text G1 - Premier"),
    Model(
        "amazon.nova-micro-v1:0", "Amazon", "Nova Micro", customizations=_NOVA_TUNE,
        geographies=_ALL_GEOS,
    ),
    Model(
        "amazon.nova-lite-v1:0", "Amazon", "Nova Lite", _TEXT_IMAGE, _NOVA_TUNE,
        geographies=_ALL_GEOS,
    ),
    Model(
        "amazon.nova-pro-v1:0", "Amazon", "Nova Pro", _TEXT_IMAGE, _NOVA_TUNE,
        geographies=_ALL_GEOS,
    ),
    Model(
        "amazon.nova-premier-v1:0", "Amazon", "Nova Premier", _TEXT_IMAGE, ("DISTILLATION",),
        on_demand=False, geographies=("us",),
    ),
    # Mistral AI text completions.
    Model("mistral.mistral-7b-instruct-v0:2", "Mistral AI", "Mistral 7B Instruct"),
    Model("mistral.mixtral-8x7b-instruct-v0:1", "Mistral AI", "Mixtral 8x7B Instruct"),
    Model("mistral.mistral-small-2402-v1:0", "Mistral AI", "Mistral Small (24.02)"),
    Model("mistral.mistral-large-2402-v1:0", "Mistral AI", "Mistral Large (24.02)"),
    # AI21 Jamba, DeepSeek R1, OpenAI gpt-oss.
    Model("ai21.jamba-1-5-mini-v1:0", "AI21 Labs", "Jamba 1.5 Mini"),
    Model("ai21.jamba-1-5-large-v1:0", "AI21 Labs", "Jamba 1.5 Large"),
    Model("deepseek.r1-v1:0", "DeepSeek", "DeepSeek-R1", on_demand=False, geographies=("us",)),
    Model("openai.gpt-oss-20b-1:0", "OpenAI", "gpt-oss-20b"),
    Model("openai.gpt-oss-120b-1:0", "OpenAI", "gpt-oss-120b"),
)  # fmt: skip

_BY_ID = {model.model_id: model for model in MODELS}

# The regions a geography's profiles route to (InferenceProfileModels: at most 5),
# its name's label, and which source regions offer it.
GEOGRAPHIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "us": ("US", ("us-east-1", "us-east-2", "us-west-2")),
    "eu": ("EU", ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1")),
    "apac": (
        "APAC",
        ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    ),
    # global: the source region, and any commercial region (a region-less ARN).
    "global": ("Global", ()),
}


def geography_of(region: str) -> str | None:
    """The cross-region geography whose profiles ``region`` offers (besides ``global``).

    >>> geography_of("eu-west-1"), geography_of("ap-south-1"), geography_of("sa-east-1")
    ('eu', 'apac', None)
    """
    if region.startswith("us-") and not region.startswith("us-gov-"):
        return "us"
    if region.startswith("eu-"):
        return "eu"
    if region.startswith("ap-"):
        return "apac"
    return None


def region_of(authorization: str) -> str:
    """The region of a SigV4 ``Authorization`` header's credential scope; else us-east-1.

    >>> from lambdastream.wire.sigv4 import ALGORITHM
    >>> region_of(ALGORITHM + " Credential=AKID/20250101/eu-west-1/bedrock/aws4_request,"
    ...           " SignedHeaders=host, Signature=abc")
    'eu-west-1'
    """
    found = re.search(r"Credential=([^,\s]*)", authorization)
    scope = found.group(1).split("/") if found else []
    if len(scope) >= 3 and re.fullmatch(r"[a-z0-9-]{1,30}", scope[2]):
        return scope[2]
    return DEFAULT_REGION


def profiles_in(region: str) -> list[dict[str, Any]]:
    """Every InferenceProfileSummary ListInferenceProfiles gives in ``region``, in order."""
    local = geography_of(region)
    return [
        _profile(region, geography, model)
        for geography in ("us", "eu", "apac", "global")
        if geography in (local, "global")
        for model in MODELS
        if geography in model.geographies
    ]


def serves(path: str) -> bool:
    """Whether ``path`` (no query) is the control plane's: ``/foundation-models...``,
    ``/inference-profiles...``."""
    first = path.split("/")[1] if path.startswith("/") else ""
    return first in ("foundation-models", "inference-profiles")


def answer(method: str, target: str, region: str = DEFAULT_REGION) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of one control-plane request; raises :class:`CatalogueError`.

    ``target`` is the request target as sent (path and query); ``region`` the
    one it was signed for.
    """
    path, _, query_string = target.partition("?")
    query = {
        name: values[-1] for name, values in parse_qs(query_string, keep_blank_values=True).items()
    }
    pieces = path.split("/")
    if method == "GET" and pieces[1:] == ["foundation-models"]:
        return 200, _list_models(query, region)
    if method == "GET" and len(pieces) == 3 and pieces[1] == "foundation-models" and pieces[2]:
        return 200, {"modelDetails": _get_model(unquote(pieces[2]), region)}
    if method == "GET" and pieces[1:] == ["inference-profiles"]:
        return 200, _list_profiles(query, region)
    if method == "GET" and len(pieces) == 3 and pieces[1] == "inference-profiles" and pieces[2]:
        return 200, _get_profile(unquote(pieces[2]), region)
    raise CatalogueError("UnknownOperationException", f"{method} {path}", 404)


# ----------------------------------------------------------------- the operations


def _list_models(query: dict[str, str], region: str) -> dict[str, Any]:
    provider = query.get("byProvider")
    if provider is not None and not _PROVIDER.fullmatch(provider):
        raise _invalid(
            provider,
            "byProvider",
            r"Member must satisfy regular expression pattern: [A-Za-z0-9- ]{1,63}",
        )
    customization = _enum(query, "byCustomizationType", CUSTOMIZATIONS)
    modality = _enum(query, "byOutputModality", MODALITIES)
    inference = _enum(query, "byInferenceType", INFERENCE_TYPES)
    summaries = [model.summary(region) for model in MODELS]
    if provider is not None:
        wanted = provider.lower()
        summaries = [
            s
            for s in summaries
            if wanted in (s["providerName"].lower(), s["modelId"].split(".", 1)[0])
        ]
    if customization is not None:
        summaries = [s for s in summaries if customization in s["customizationsSupported"]]
    if modality is not None:
        summaries = [s for s in summaries if modality in s["outputModalities"]]
    if inference is not None:
        summaries = [s for s in summaries if inference in s["inferenceTypesSupported"]]
    return {"modelSummaries": summaries}


def _get_model(identifier: str, region: str) -> dict[str, Any]:
    if not _MODEL_IDENTIFIER.fullmatch(identifier):
        raise _invalid(
            identifier, "modelIdentifier", "Member must satisfy regular expression pattern"
        )
    model = _BY_ID.get(
        identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
    )
    if model is None:
        raise CatalogueError(
            "ResourceNotFoundException",
            f"Could not resolve the foundation model from the model identifier {identifier}."
            " (bedrock-local lists its models with ListFoundationModels.)",
            404,
        )
    return model.summary(region)


def _list_profiles(query: dict[str, str], region: str) -> dict[str, Any]:
    kind = _enum(query, "type", PROFILE_TYPES, "typeEquals")
    size = MAX_RESULTS
    if "maxResults" in query:
        raw = query["maxResults"]
        try:
            size = int(raw)
        except ValueError:
            raise _invalid(raw, "maxResults", "Member must be a number") from None
        if size < 1:
            raise _invalid(raw, "maxResults", "Member must have value greater than or equal to 1")
        if size > MAX_RESULTS:
            raise _invalid(
                raw, "maxResults", f"Member must have value less than or equal to {MAX_RESULTS}"
            )
    start = _offset(query["nextToken"]) if "nextToken" in query else 0
    profiles = profiles_in(region) if kind in (None, "SYSTEM_DEFINED") else []
    if start > len(profiles):
        raise CatalogueError("ValidationException", "The pagination token is invalid.", 400)
    body: dict[str, Any] = {"inferenceProfileSummaries": profiles[start : start + size]}
    if start + size < len(profiles):
        body["nextToken"] = _token(start + size)
    return body


def _get_profile(identifier: str, region: str) -> dict[str, Any]:
    if not _PROFILE_IDENTIFIER.fullmatch(identifier):
        raise _invalid(
            identifier,
            "inferenceProfileIdentifier",
            "Member must satisfy regular expression pattern",
        )
    wanted = identifier.rsplit("/", 1)[-1]
    for profile in profiles_in(region):
        if wanted == profile["inferenceProfileId"] and (
            wanted == identifier or identifier == profile["inferenceProfileArn"]
        ):
            return profile
    raise CatalogueError(
        "ResourceNotFoundException",
        f"Inference profile {identifier} not found in {region}."
        " (bedrock-local lists its profiles with ListInferenceProfiles.)",
        404,
    )


# ----------------------------------------------------------------- helpers


def _model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _profile(region: str, geography: str, model: Model) -> dict[str, Any]:
    label, regions = GEOGRAPHIES[geography]
    profile_id = f"{geography}.{model.model_id}"
    if geography == "global":
        arns = [_model_arn(region, model.model_id), _model_arn("", model.model_id)]
        where = "all commercial AWS Regions"
    else:
        arns = [_model_arn(r, model.model_id) for r in regions]
        where = ", ".join(regions)
    maker = f"{model.provider} " if model.provider in ("Anthropic", "Meta") else ""
    return {
        "inferenceProfileName": f"{label} {maker}{model.name}",
        "description": f"Routes requests to {maker}{model.name} in {where}.",
        "createdAt": _PROFILE_TIME,
        "updatedAt": _PROFILE_TIME,
        "inferenceProfileArn": (
            f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile_id}"
        ),
        "models": [{"modelArn": arn} for arn in arns],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def _enum(
    query: dict[str, str], name: str, allowed: tuple[str, ...], member: str | None = None
) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise _invalid(
            value,
            member or name,
            f"Member must satisfy enum value set: [{', '.join(allowed)}]",
        )
    return value


def _invalid(value: str, member: str, constraint: str) -> CatalogueError:
    """A ValidationException worded as the service words a failed constraint."""
    return CatalogueError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy"
        f" constraint: {constraint}",
        400,
    )


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode("ascii")


def _offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    digits = text.removeprefix(_TOKEN_PREFIX)
    if not text.startswith(_TOKEN_PREFIX) or not digits.isdigit():
        raise CatalogueError("ValidationException", "The pagination token is invalid.", 400)
    return int(digits)
