"""A function that streams a Bedrock model's answer as it is written.

POST ``{"prompt": "..."}`` to its Function URL (or invoke it with that event)
and the answer arrives word by word. Locally, with no AWS account::

    lambdastream dev app.handler --bedrock-local --timeout 60
    lambdastream invoke http://127.0.0.1:9000/ --prompt "Why stream?"
"""

import base64
import json
import os

from lambdastream import StreamingResponse
from lambdastream.bedrock import stream_text

# Set by template.yaml; any Bedrock model or inference profile works.
MODEL_ID = os.environ.get("MODEL_ID", "global.anthropic.claude-haiku-4-5-20251001-v1:0")


def handler(event, context):
    prompt = _request(event).get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return {
            "statusCode": 400,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"error": 'send JSON {"prompt": "..."}'}),
        }
    answer = stream_text(None, MODEL_ID, prompt=prompt, max_tokens=1024)
    return StreamingResponse(answer.text(), media_type="text/plain; charset=utf-8")


def _request(event):
    """The request's JSON: the event itself, or a Function URL request's body."""
    if "requestContext" not in event:
        return event
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    try:
        request = json.loads(body)
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}
