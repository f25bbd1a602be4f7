"""A streaming handler: each yield reaches the caller the moment it is made.

Run it locally with ``lambdastream dev examples.hello.handler`` and
``curl -N http://127.0.0.1:9000/``.
"""

import time

from lambdastream import StreamingResponse


def handler(event, context):
    def body():
        for i in range(1, 6):
            yield f"chunk {i} of 5 at {time.strftime('%H:%M:%S')}\n"
            time.sleep(0.5)

    return StreamingResponse(body(), headers={"X-Demo": "hello"}, media_type="text/plain")
