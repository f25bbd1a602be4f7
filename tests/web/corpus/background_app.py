"""FastAPI ``BackgroundTasks``: the answer first, then the task.

The task appends a line to a file in ``$CORPUS_STATE_DIR``, so a test can
count how many times it ran.
"""

import os
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def record(key: str) -> None:
    state = Path(os.environ["CORPUS_STATE_DIR"])
    with open(state / f"{key}.log", "a") as log:
        log.write("ran\n")


@app.post("/orders/{key}", status_code=202)
async def order(key: str, tasks: BackgroundTasks) -> dict:
    tasks.add_task(record, key)
    return {"accepted": key}
