"""One model id per family, shared by the bedrock tests."""

MODEL_IDS = {
    "anthropic": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic-text": "anthropic.claude-v2:1",
    "cohere-command": "cohere.command-text-v14",
    "cohere-command-r": "cohere.command-r-plus-v1:0",
    "meta": "meta.llama3-8b-instruct-v1:0",
    "titan-text": "amazon.titan-text-express-v1",
    "nova": "eu.amazon.nova-micro-v1:0",
    "mistral": "mistral.mistral-7b-instruct-v0:2",
    "ai21-jamba": "ai21.jamba-1-5-mini-v1:0",
    "deepseek": "us.deepseek.r1-v1:0",
    "openai-gpt-oss": "openai.gpt-oss-20b-1:0",
}
