"""LangChain over Bedrock, streamed as Server-Sent Events.

``ChatBedrockConverse.astream`` token by token, each as an SSE ``data:``
line, as a chat backend writes it. The Bedrock endpoint is whatever boto3
is given (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``).
"""

import json

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from langchain_aws import ChatBedrockConverse

app = FastAPI()
model = ChatBedrockConverse(
    model="anthropic.claude-3-5-haiku-20241022-v1:0", region_name="us-east-1"
)


@app.post("/chat")
async def chat(request: Request) -> StreamingResponse:
    question = (await request.json())["question"]

    async def events():
        async for chunk in model.astream(question):
            if await request.is_disconnected():
                break
            if chunk.text:
                yield f"data: {json.dumps({'text': chunk.text})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
