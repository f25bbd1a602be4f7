"""bedrock-local's control plane: the ``bedrock`` service's model catalogue, through real boto3.

Apps list models or inference profiles at init (``boto3.client("bedrock")``);
bedrock-local answers those reads on the same port as bedrock-runtime, in the
``bedrock`` service's REST-JSON wire format (botocore's service model
``bedrock``), and every id it lists can be streamed from it.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from bedrock_models import MODEL_IDS
from botocore.config import Config
from botocore.exceptions import ClientError
from support import bedrock_client

from lambdastream.bedrock import catalogue
from lambdastream.bedrock.families import FAMILIES, base_model_id, family_for

pytestmark = pytest.mark.timeout(60)

ARN = "arn:aws:bedrock:{region}::foundation-model/{id}"
SUMMARY_KEYS = {
    "modelArn", "modelId", "modelName", "providerName", "inputModalities", "outputModalities",
    "responseStreamingSupported", "customizationsSupported", "inferenceTypesSupported",
    "modelLifecycle",
}  # fmt: skip


def control_client(url: str | None, region: str = "us-east-1", **config: Any) -> Any:
    """A real boto3 ``bedrock`` (control plane) client; ``url`` None: from the environment."""
    return boto3.client(
        "bedrock",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10, **config),
    )


@pytest.fixture(scope="module")
def control(server) -> Any:
    return control_client(server.url)


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


# ------------------------------------------------------------------ ListFoundationModels


def test_list_foundation_models_lists_every_family_with_its_arn(control):
    answer = control.list_foundation_models()
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert answer["ResponseMetadata"]["RequestId"]
    models = answer["modelSummaries"]
    ids = [model["modelId"] for model in models]
    assert len(ids) == len(set(ids)) >= len(FAMILIES)
    for model in models:
        assert set(model) == SUMMARY_KEYS, model
        assert model["modelArn"] == ARN.format(region="us-east-1", id=model["modelId"])
        assert model["responseStreamingSupported"] is True
        assert model["modelLifecycle"] == {"status": "ACTIVE"}
        assert model["outputModalities"] == ["TEXT"]
        assert "TEXT" in model["inputModalities"]
        assert model["inferenceTypesSupported"] in (["ON_DEMAND"], ["INFERENCE_PROFILE"])
        assert set(model["customizationsSupported"]) <= {
            "FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"
        }  # fmt: skip
        assert not model["modelId"].startswith(("us.", "eu.", "apac.", "global."))
    # Every family bedrock-local serves has models, and the ids the other tests use are listed.
    assert {family_for(i).name for i in ids} == {family.name for family in FAMILIES}
    assert {base_model_id(i) for i in MODEL_IDS.values()} <= set(ids)
    haiku = next(m for m in models if m["modelId"] == "anthropic.claude-3-haiku-20240307-v1:0")
    assert haiku["providerName"] == "Anthropic"
    assert haiku["modelName"] == "Claude 3 Haiku"
    assert haiku["inputModalities"] == ["TEXT", "IMAGE"]
    assert haiku["inferenceTypesSupported"] == ["ON_DEMAND"]


def test_list_foundation_models_filters(control):
    everything = control.list_foundation_models()["modelSummaries"]

    def ids(**filters: str) -> list[str]:
        return [m["modelId"] for m in control.list_foundation_models(**filters)["modelSummaries"]]

    anthropic = ids(byProvider="Anthropic")
    assert anthropic and all(i.startswith("anthropic.") for i in anthropic)
    assert ids(byProvider="anthropic") == anthropic  # the provider is matched in any case
    assert ids(byProvider="Mistral AI") == ids(byProvider="mistral") != []
    assert ids(byProvider="nobody") == []

    assert ids(byOutputModality="TEXT") == [m["modelId"] for m in everything]
    assert ids(byOutputModality="IMAGE") == ids(byOutputModality="EMBEDDING") == []

    on_demand = ids(byInferenceType="ON_DEMAND")
    assert 0 < len(on_demand) < len(everything)
    assert all(
        "ON_DEMAND" in m["inferenceTypesSupported"] for m in everything if m["modelId"] in on_demand
    )
    assert "anthropic.claude-3-haiku-20240307-v1:0" in on_demand
    assert "anthropic.claude-sonnet-4-20250514-v1:0" not in on_demand  # inference profiles only
    assert ids(byInferenceType="PROVISIONED") == []

    tunable = ids(byCustomizationType="FINE_TUNING")
    assert "amazon.titan-text-express-v1" in tunable
    assert all(
        "FINE_TUNING" in m["customizationsSupported"] for m in everything if m["modelId"] in tunable
    )
    assert ids(byCustomizationType="CONTINUED_PRE_TRAINING") == [
        i for i in tunable if i.startswith("amazon.titan")
    ]
    # Filters combine: every one must hold.
    both = ids(byProvider="amazon", byInferenceType="ON_DEMAND", byCustomizationType="DISTILLATION")
    assert both and all(i.startswith("amazon.nova") for i in both)


def test_list_foundation_models_refuses_values_outside_the_model(control):
    for filters, field in [
        ({"byOutputModality": "AUDIO"}, "byOutputModality"),
        ({"byInferenceType": "SOMETIMES"}, "byInferenceType"),
        ({"byCustomizationType": "PAINTING"}, "byCustomizationType"),
        ({"byProvider": "anthropic!"}, "byProvider"),
    ]:
        error = _error(control.list_foundation_models, **filters)
        assert error["Error"]["Code"] == "ValidationException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert f"at '{field}'" in error["Error"]["Message"]


# ------------------------------------------------------------------ GetFoundationModel


def test_get_foundation_model_by_id_and_by_arn(control):
    listed = {m["modelId"]: m for m in control.list_foundation_models()["modelSummaries"]}
    model_id = "anthropic.claude-3-5-haiku-20241022-v1:0"
    details = control.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    assert details == listed[model_id]
    assert details["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    arn = ARN.format(region="us-east-1", id=model_id)
    assert control.get_foundation_model(modelIdentifier=arn)["modelDetails"] == details


def test_get_an_unknown_model_is_resource_not_found(control):
    for identifier in ("anthropic.claude-9-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"):
        with pytest.raises(control.exceptions.ResourceNotFoundException) as caught:
            control.get_foundation_model(modelIdentifier=identifier)
        error = caught.value.response
        assert error["Error"]["Code"] == "ResourceNotFoundException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Error"]["Message"]
        headers = error["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"].startswith("ResourceNotFoundException")
    error = _error(control.get_foundation_model, modelIdentifier="not a model id")
    assert error["Error"]["Code"] == "ValidationException"


def test_the_region_comes_from_the_signature(server):
    frankfurt = control_client(server.url, "eu-central-1")
    model = frankfurt.get_foundation_model(modelIdentifier="amazon.nova-micro-v1:0")
    assert model["modelDetails"]["modelArn"] == ARN.format(
        region="eu-central-1", id="amazon.nova-micro-v1:0"
    )
    profiles = frankfurt.list_inference_profiles()["inferenceProfileSummaries"]
    assert {p["inferenceProfileId"].split(".")[0] for p in profiles} == {"eu", "global"}
    assert all(
        p["inferenceProfileArn"].startswith("arn:aws:bedrock:eu-central-1:") for p in profiles
    )


# ------------------------------------------------------------------ inference profiles


def _all_profiles(control: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return control.list_inference_profiles(maxResults=1000, **kwargs)["inferenceProfileSummaries"]


def test_list_inference_profiles_through_the_paginator(control):
    everything = _all_profiles(control)
    assert len(everything) > 7
    pages = list(
        control.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 3})
    )
    assert len(pages) == -(-len(everything) // 3)
    assert all(len(page["inferenceProfileSummaries"]) <= 3 for page in pages)
    assert "nextToken" not in pages[-1]
    collected = [p for page in pages for p in page["inferenceProfileSummaries"]]
    ids = [p["inferenceProfileId"] for p in collected]
    assert len(ids) == len(set(ids))  # no duplicates
    assert collected == everything
    # build_full_result follows the tokens too.
    full = control.get_paginator("list_inference_profiles").paginate(
        PaginationConfig={"PageSize": 2}
    )
    assert full.build_full_result()["inferenceProfileSummaries"] == everything


def test_inference_profiles_are_system_defined_cross_region(control):
    models = {m["modelId"] for m in control.list_foundation_models()["modelSummaries"]}
    profiles = _all_profiles(control)
    assert {p["inferenceProfileId"].split(".")[0] for p in profiles} == {"us", "global"}
    for profile in profiles:
        geography, _, model_id = profile["inferenceProfileId"].partition(".")
        assert model_id in models
        assert profile["type"] == "SYSTEM_DEFINED"
        assert profile["status"] == "ACTIVE"
        assert profile["inferenceProfileArn"] == (
            f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            f"{profile['inferenceProfileId']}"
        )
        assert profile["inferenceProfileName"] and profile["description"]
        assert profile["createdAt"] and profile["updatedAt"]  # timestamps, parsed by botocore
        arns = [m["modelArn"] for m in profile["models"]]
        assert 1 <= len(arns) <= 5
        assert all(arn.endswith(f"::foundation-model/{model_id}") for arn in arns)
        if geography == "us":
            assert arns == [
                ARN.format(region=r, id=model_id) for r in ("us-east-1", "us-east-2", "us-west-2")
            ]
        else:  # global: the source region, and any commercial region
            assert arns == [
                ARN.format(region="us-east-1", id=model_id),
                f"arn:aws:bedrock:::foundation-model/{model_id}",
            ]
    ids = {p["inferenceProfileId"] for p in profiles}
    assert "us.anthropic.claude-3-5-haiku-20241022-v1:0" in ids
    assert "global.anthropic.claude-sonnet-4-20250514-v1:0" in ids
    # Models offered only through inference profiles all have one here.
    profile_only = control.list_foundation_models()["modelSummaries"]
    for model in profile_only:
        if model["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]:
            assert any(i.endswith("." + model["modelId"]) for i in ids), model["modelId"]
    assert _all_profiles(control, typeEquals="SYSTEM_DEFINED") == profiles
    assert _all_profiles(control, typeEquals="APPLICATION") == []


def test_get_inference_profile_by_id_and_by_arn(control):
    listed = {p["inferenceProfileId"]: p for p in _all_profiles(control)}
    profile_id = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    answer = control.get_inference_profile(inferenceProfileIdentifier=profile_id)
    got = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    assert got == listed[profile_id]
    by_arn = control.get_inference_profile(
        inferenceProfileIdentifier=listed[profile_id]["inferenceProfileArn"]
    )
    assert {k: v for k, v in by_arn.items() if k != "ResponseMetadata"} == got
    # A profile of another geography is not offered in this region; nor is a made-up one.
    for unknown in ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "us.nobody.model-v1:0"):
        with pytest.raises(control.exceptions.ResourceNotFoundException) as caught:
            control.get_inference_profile(inferenceProfileIdentifier=unknown)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_inference_profiles_refuses_bad_paging(control):
    # maxResults above the model's 1000 (botocore checks only the minimum itself).
    error = _error(control.list_inference_profiles, maxResults=1001)
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "ValidationException"
    )
    assert "maxResults" in error["Error"]["Message"]
    unchecked = control_client(control.meta.endpoint_url, parameter_validation=False)
    for bad in (0, -1):
        error = _error(unchecked.list_inference_profiles, maxResults=bad)
        assert error["Error"]["Code"] == "ValidationException"
    error = _error(control.list_inference_profiles, nextToken="not-a-token")
    assert error["Error"]["Code"] == "ValidationException"
    error = _error(control.list_inference_profiles, typeEquals="SOMEONE_ELSES")
    assert error["Error"]["Code"] == "ValidationException"


# ------------------------------------------------------------------ the wire, the routes


def test_control_plane_needs_a_signature_and_a_known_route(server):
    conn = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=5)
    conn.request("GET", "/foundation-models")
    response = conn.getresponse()
    assert response.status == 403
    assert response.getheader("x-amzn-ErrorType").startswith("MissingAuthenticationTokenException")
    assert json.loads(response.read()) == {"message": "Missing Authentication Token"}
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-west-2/bedrock/aws4"}
    conn.request("GET", "/foundation-models?byProvider=meta", headers=signed)
    response = conn.getresponse()
    assert response.status == 200
    body = json.loads(response.read())
    assert body["modelSummaries"][0]["modelArn"].startswith("arn:aws:bedrock:us-west-2::")
    conn.request("POST", "/foundation-models", body=b"{}", headers=signed)
    response = conn.getresponse()
    assert response.status == 404
    assert response.getheader("x-amzn-ErrorType").startswith("UnknownOperationException")
    response.read()
    conn.request("GET", "/custom-models", headers=signed)
    assert conn.getresponse().status == 404


def test_one_port_serves_both_services_from_the_environment(server, monkeypatch):
    """What ``dev --bedrock-local`` sets: each service's endpoint variable, the same URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    control = control_client(None)
    runtime = boto3.client(
        "bedrock-runtime", region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
    )  # fmt: skip
    assert control.meta.endpoint_url == runtime.meta.endpoint_url == server.url
    model_id = control.list_foundation_models(byProvider="amazon")["modelSummaries"][0]["modelId"]
    answer = runtime.converse(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": "from env"}]}]
    )
    assert answer["output"]["message"]["content"] == [{"text": "You said: from env"}]


# ------------------------------------------------------------------ consistency


def _stream(runtime: Any, model_id: str, text: str) -> str:
    answer = runtime.converse_stream(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": text}]}]
    )
    return "".join(
        event["contentBlockDelta"]["delta"].get("text", "")
        for event in answer["stream"]
        if "contentBlockDelta" in event
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_every_listed_id_streams_on_the_same_server(server, region):
    control = control_client(server.url, region)
    runtime = bedrock_client(server.url)
    models = [m["modelId"] for m in control.list_foundation_models()["modelSummaries"]]
    pages = control.get_paginator("list_inference_profiles").paginate(
        PaginationConfig={"PageSize": 10}
    )
    profiles = [
        p["inferenceProfileId"] for page in pages for p in page["inferenceProfileSummaries"]
    ]
    assert models and profiles
    for model_id in models + profiles:
        assert _stream(runtime, model_id, f"hi {model_id}") == f"You said: hi {model_id}"
    # The ARN form too, as GetFoundationModel gives it.
    arn = control.get_foundation_model(modelIdentifier=models[0])["modelDetails"]["modelArn"]
    assert _stream(runtime, arn, "by arn") == "You said: by arn"


def test_every_catalogued_model_has_an_invoke_family():
    """The catalogue is pure: the same answer for the same request, every id servable."""
    for region in ("us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"):
        listed = catalogue.answer("GET", "/foundation-models", region)
        assert listed == catalogue.answer("GET", "/foundation-models", region)
        assert listed[0] == 200
        for model in listed[1]["modelSummaries"]:
            family_for(model["modelId"])  # raises if bedrock-local could not serve it
        profiles = catalogue.answer("GET", "/inference-profiles", region)[1]
        for profile in profiles["inferenceProfileSummaries"]:
            family_for(profile["inferenceProfileId"])
    # Outside the geographies: only the global profiles.
    sao_paulo = catalogue.answer("GET", "/inference-profiles", "sa-east-1")[1]
    geographies = {
        p["inferenceProfileId"].split(".")[0] for p in sao_paulo["inferenceProfileSummaries"]
    }
    assert geographies == {"global"}
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-west-3/bedrock/aws4_request,"
        " SignedHeaders=host, Signature=x"
    )
    assert catalogue.region_of(authorization) == "eu-west-3"
    assert catalogue.region_of("") == catalogue.region_of("AWS4-HMAC-SHA256 x") == "us-east-1"


# ------------------------------------------------------------------ the command's hint


@pytest.fixture
def command_lines() -> Iterator[list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdastream", "bedrock-local", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or "export AWS_ENDPOINT_URL_BEDROCK=" not in lines[-1]:  # the last one
        line = process.stdout.readline()
        assert line, f"bedrock-local ended: {lines}"
        lines.append(line)
    try:
        yield lines
    finally:
        process.terminate()
        process.wait(10)


def test_bedrock_local_prints_both_endpoint_variables(command_lines):
    url = next(line for line in command_lines if "listening on" in line).split()[-1]
    # One export a line, each as a shell takes it: both services, the same server.
    assert command_lines[-2:] == [
        f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url}\n",
        f"  export AWS_ENDPOINT_URL_BEDROCK={url}\n",
    ]
    control = control_client(url)
    assert control.list_foundation_models(byProvider="meta")["modelSummaries"]


# ------------------------------------------------------------------ beyond loopback

KEYS = {"AWS_ACCESS_KEY_ID": "AKIDBEDROCKLOCAL", "AWS_SECRET_ACCESS_KEY": "bedrock-local-secret"}


@pytest.fixture
def exposed() -> Iterator[str]:
    """bedrock-local on 0.0.0.0 (signatures checked), reached as another host: 127.0.0.2."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdastream", "bedrock-local", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **KEYS, "AWS_REGION": "eu-west-1", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or "export AWS_ENDPOINT_URL_BEDROCK=" not in lines[-1]:
        line = process.stdout.readline()
        assert line, f"bedrock-local ended: {lines}"
        lines.append(line)
    port = next(line for line in lines if "listening on" in line).rsplit(":", 1)[1].strip()
    try:
        yield f"http://127.0.0.2:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _signed_client(url: str, secret: str, region: str = "eu-west-1") -> Any:
    return boto3.client(
        "bedrock", endpoint_url=url, region_name=region,
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def test_beyond_loopback_the_control_plane_checks_signatures(exposed):
    good = _signed_client(exposed, KEYS["AWS_SECRET_ACCESS_KEY"])
    # Query strings and an escaped path label are signed as botocore signs them.
    listed = good.list_foundation_models(byProvider="Mistral AI", byInferenceType="ON_DEMAND")
    assert listed["modelSummaries"][0]["modelArn"].startswith("arn:aws:bedrock:eu-west-1::")
    assert good.get_foundation_model(modelIdentifier="amazon.nova-pro-v1:0")["modelDetails"]
    pages = good.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 4})
    assert sum(len(page["inferenceProfileSummaries"]) for page in pages) > 4
    for client, code in [
        (_signed_client(exposed, "not-the-secret"), "InvalidSignatureException"),
        (
            _signed_client(exposed, KEYS["AWS_SECRET_ACCESS_KEY"], "us-east-1"),
            "InvalidSignatureException",
        ),
    ]:
        error = _error(client.list_foundation_models)
        assert error["Error"]["Code"] == code
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
