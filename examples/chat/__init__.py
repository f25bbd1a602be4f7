"""The chat example: a Bedrock model's answer, streamed to a person (see ``app.py``)."""
