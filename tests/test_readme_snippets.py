"""Every Python and shell block of the README and of docs/*.md, run as a reader runs it.

The pages are read here, never copied: each ```python, ```sh and ```console
block of README.md and of every page under docs/ is found by a phrase it
holds (wherever it lives: a block moved to another page stays tested) and
run in a *terminal* (one bash session per scenario: its working directory,
its exported variables and the servers it started carry from block to
block), in the order a reader meets them. A ```python block whose first
line is ``# app.py`` is a file the reader saves; any other runs with
``python -``; a ```console block's commands are its ``$`` lines, and its
other lines are what they print: each is checked against the real output,
``…`` standing for what differs from run to run.

What differs from a reader's terminal, and why:

- ports: the README's 9000, 9001 and 8900 become free ports (the tests may
  run next to a demo), by giving ``lambdastream dev``, ``lambdastream
  bedrock-local`` and ``make demo`` their port flags and rewriting the
  addresses the other commands use;
- a server command (``lambdastream dev``, ``lambdastream bedrock-local``,
  ``make demo``, with or without ``&``) runs in the background, and the
  next command waits for its banner, as a reader waits before typing the
  next one; a new server stops the previous one, as a reader presses
  Ctrl-C first;
- AWS credentials are dummies (``--auth AWS_IAM`` and SigV4 need some), and
  no AWS config file is read.

Every command must exit 0 (a failure prints the command, its output and
the servers' logs). Blocks that cannot run here (they need an AWS account,
a Docker engine, or they run this test suite) are listed in ``NOT_RUN`` with
the reason, and a test fails when a block of any page is in neither list.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import REPO, missing

README = REPO / "README.md"
DOCS = REPO / "docs"
VENV_BIN = Path(sys.executable).parent
NODE_RIC = REPO / "tests" / "peers" / "node" / "node_modules" / "aws-lambda-ric"
README_PORTS = {"url": 9000, "api": 9001, "bedrock": 8900}
SERVER = re.compile(r"^(?:\S*/)?(?:lambdastream (?:dev|bedrock-local)\b|make demo\b)")
STEP_TIMEOUT = 180


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # where it starts in its page, for messages
    page: str = "README.md"  # relative to the repository

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


RUNNABLE = ("python", "sh", "console", "js")


def doc_pages() -> list[Path]:
    """README.md and every page under docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of one page, whatever its language."""
    text = path.read_text(encoding="utf-8")
    page = path.relative_to(REPO).as_posix()
    blocks = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(match.group(1), match.group(2), line, page))
    return blocks


def doc_blocks(langs: tuple[str, ...] = RUNNABLE) -> list[Block]:
    """The blocks a reader runs (python, sh and console), of every page."""
    return [b for path in doc_pages() for b in fenced_blocks(path) if b.lang in langs]


def readme_blocks() -> list[Block]:
    """The README's own runnable blocks."""
    return [b for b in doc_blocks() if b.page == "README.md"]


def block(phrase: str, langs: tuple[str, ...] = RUNNABLE) -> Block:
    """The one block (of these languages, on any page) holding ``phrase``."""
    found = [b for b in doc_blocks(langs) if phrase in b.text]
    where = ", ".join(b.where for b in found)
    assert len(found) == 1, f"{len(found)} blocks of README.md and docs/ hold {phrase!r} {where}"
    return found[0]


def transcript_lines(b: Block) -> list[str]:
    """What a block shows its commands printing: a console block's lines that
    are not commands, or every line of an output block ('...' alone: lines left out)."""
    lines: list[str] = []
    current: str | None = None  # a console command, while it goes on
    for raw in b.text.splitlines():
        if current is not None:
            current += "\n" + raw
        elif b.lang == "console" and raw.startswith("$ "):
            current = raw[2:]
        else:
            if raw.strip() not in ("", "...", "…"):
                lines.append(raw)
            continue
        if current.endswith("\\"):
            continue
        try:
            shlex.split(current, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        current = None
    return lines


def shape(line: str) -> re.Pattern[str]:
    """A transcript line as a pattern: ``…`` (or a trailing ``...``) stands for
    anything, a run of spaces for spaces or tabs (Lambda's REPORT has tabs)."""
    parts = re.split(r"…|\.\.\.$", line)
    literal = [r"[ \t]+".join(re.escape(word) for word in re.split(" +", part)) for part in parts]
    return re.compile(".*?".join(literal))


def assert_shown(b: Block, output: str, localize: Callable[[str], str]) -> None:
    """Each line the page shows is printed, as shown (``…`` aside), in the output."""
    printed = output.splitlines()
    missing_lines = [
        line
        for line in transcript_lines(b)
        if not any(shape(localize(line)).fullmatch(p.rstrip()) for p in printed)
    ]
    assert not missing_lines, (
        f"{b.where}: the page shows lines the command did not print:\n"
        + "\n".join(missing_lines)
        + "\n--- printed\n"
        + output[-3000:]
    )


def commands(b: Block) -> list[str]:
    """A block's commands, each a logical line (continuations joined).

    In a console block the commands are the ``$`` lines, and a line that
    leaves a quote open continues on the next one (``python -c '...'``).
    """
    lines = b.text.splitlines()
    out: list[str] = []
    current: str | None = None
    for raw in lines:
        if current is None:
            if b.lang == "console":
                if not raw.startswith("$ "):
                    continue  # output
                raw = raw[2:]
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            current = raw
        elif current.endswith("\\"):  # a continued line
            current = current[:-1] + " " + raw.lstrip()
        else:  # inside an open quote
            current += "\n" + raw
        if current.endswith("\\"):
            continue
        try:
            shlex.split(current, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        out.append(strip_comment(current))
        current = None
    assert current is None, f"{b.where}: a command never ends: {current!r}"
    return out


def strip_comment(command: str) -> str:
    """``command`` without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for i, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip()
    return command.rstrip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Bash helpers every script starts with: servers in sessions of their own
# (so stopping one stops its children), their output in a log, and a wait
# for the banner that says where they listen.
_PRELUDE = r"""
__stop() {
  local pid
  for pid in $(cat "$__dir/servers" 2>/dev/null); do kill -INT -- "-$pid" 2>/dev/null; done
  for pid in $(cat "$__dir/servers" 2>/dev/null); do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  done
  : > "$__dir/servers"
}
__wait() {  # pid log probe
  local url=""
  for _ in $(seq 600); do
    url=$(grep -oE '(Function URL: |REST API: +|listening on )http://[^/ ]+' "$2" | head -n 1)
    url=${url##* }
    [ -n "$url" ] && break
    kill -0 "$1" 2>/dev/null || { echo "README server exited:" >&2; cat "$2" >&2; exit 97; }
    sleep 0.1
  done
  [ -n "$url" ] || { echo "README server printed no address in 60 s:" >&2; cat "$2" >&2; exit 97; }
  if [ "$3" = 1 ]; then
    url=${url/0.0.0.0/127.0.0.1}
    local code
    code=$(curl -s -o /dev/null -m 60 -w '%{http_code}' "$url/")
    echo "$url/ $code" >> "$__dir/probes"
    [ "$code" != 000 ] || { echo "no answer from $url:" >&2; cat "$2" >&2; exit 96; }
  fi
}
__check() {  # rc command
  [ "$1" = 0 ] || { printf 'README command exited %s: %s\n' "$1" "$2" >&2; exit 98; }
}
"""


@dataclass
class Terminal:
    """One reader's shell session: cwd, environment and servers carry over."""

    cwd: Path
    state: Path
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    servers_started: int = 0
    stderr: str = ""  # of the last sh block

    @classmethod
    def open(cls, tmp_path: Path) -> Terminal:
        home = tmp_path / "work"
        state = tmp_path / "state"
        home.mkdir()
        state.mkdir()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LAMBDASTREAM_", "PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(VENV_BIN.parent),
            AWS_ACCESS_KEY_ID="AKIDREADMEREADER",
            AWS_SECRET_ACCESS_KEY="readme-reader-secret",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            NO_COLOR="1",
        )
        ports = {name: free_port() for name in README_PORTS}
        return cls(cwd=home, state=state, env=env, ports=ports)

    # -- what the reader's commands become here

    def localize(self, text: str) -> str:
        """The README's addresses, moved to this terminal's free ports."""
        for name, port in README_PORTS.items():
            text = re.sub(
                rf"\b(127\.0\.0\.1|localhost):{port}\b", rf"\g<1>:{self.ports[name]}", text
            )
        return text

    def _server(self, command: str, probe: bool) -> str:
        command = command.rstrip()
        if command.endswith("&"):
            command = command[:-1].rstrip()
        u, a, b = self.ports["url"], self.ports["api"], self.ports["bedrock"]
        if re.match(r"^(?:\S*/)?make demo\b", command):
            command += f" PORT={u} API_PORT={a}"
        else:
            # Before the reader's own flags: a --port 0 they wrote still wins.
            command = re.sub(r"\blambdastream dev\b", rf"\g<0> --port {u} --api-port {a}", command)
            command = re.sub(r"\blambdastream bedrock-local\b", rf"\g<0> --port {b}", command)
        self.servers_started += 1
        log = self.state / f"server-{self.servers_started}.log"
        return (
            f"__stop\nsetsid {command} > {shlex.quote(str(log))} 2>&1 < /dev/null &\n"
            f'echo $! >> "$__dir/servers"\n__wait $! {shlex.quote(str(log))} {int(probe)}\n'
        )

    def script(self, b: Block, *, skip: dict[str, str], probe: bool) -> str:
        lines = [f"__dir={shlex.quote(str(self.state))}", _PRELUDE]
        unused = set(skip)
        for command in commands(b):
            skipped = {phrase for phrase in skip if phrase in command}
            if skipped:
                unused -= skipped
                self.transcript.append(f"(not run: {command})")
                continue
            command = self.localize(command)
            self.transcript.append(f"$ {command}")
            if SERVER.match(command.strip()) and "--help" not in command.split():
                lines.append(self._server(command, probe))
            else:
                lines.append(f"{command}\n__check $? {shlex.quote(command)}")
        assert not unused, f"{b.where} has no command holding {sorted(unused)}"
        lines.append('pwd > "$__dir/cwd"\nenv -0 > "$__dir/env"')
        return "\n".join(lines)

    def sh(self, b: Block, *, skip: dict[str, str] | None = None, probe: bool = False) -> str:
        """Run a sh or console block's commands; their stdout."""
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", self.script(b, skip=skip or {}, probe=probe)],
            cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=STEP_TIMEOUT,
        )  # fmt: skip
        self.stderr = result.stderr
        self._fail_unless(result, f"{b.where} ({b.lang})")
        self.cwd = Path((self.state / "cwd").read_text().strip())
        raw = (self.state / "env").read_bytes().split(b"\0")
        self.env = dict(
            item.decode().split("=", 1)
            for item in raw
            if b"=" in item and not item.startswith(b"__")
        )
        if b.lang == "console" and not skip:
            self.assert_shown(b, result.stdout + "\n" + result.stderr)
        return result.stdout

    def assert_shown(self, b: Block, output: str = "") -> None:
        """The lines ``b`` shows were printed: in ``output`` or a server's log."""
        logs = [log.read_text(errors="replace") for log in sorted(self.state.glob("server-*.log"))]
        assert_shown(b, "\n".join([output, *logs]), self.localize)

    def save(self, b: Block) -> Path:
        """A ``# name.py`` (or ``// name.mjs``) block: the file the reader saves."""
        first = b.text.partition("\n")[0]
        name = first.removeprefix("# ").removeprefix("// ").strip()
        assert re.fullmatch(r"[\w/]+\.(py|mjs)", name), f"{b.where}: not a file block"
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.localize(b.text))
        self.transcript.append(f"(saved {name} from {b.where})")
        return path

    def python(self, b: Block) -> str:
        """Run a python block as ``python -`` in the session; its stdout."""
        self.transcript.append(f"$ python - < {b.where}")
        result = subprocess.run(
            [shutil.which("python", path=self.env["PATH"]) or "python", "-"],
            input=self.localize(b.text), cwd=self.cwd, env=self.env,
            capture_output=True, text=True, timeout=STEP_TIMEOUT,
        )  # fmt: skip
        self._fail_unless(result, f"{b.where} (python)")
        return result.stdout

    def run(self, command: str, *, probe: bool = False) -> str:
        """A command of the test's own (to look at what the README's did)."""
        return self.sh(Block("sh", command + "\n", 0), probe=probe)

    def probes(self) -> list[tuple[str, str]]:
        path = self.state / "probes"
        lines = path.read_text().splitlines() if path.exists() else []
        return [tuple(line.split(" ", 1)) for line in lines]  # type: ignore[misc]

    def server_logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
            for log in sorted(self.state.glob("server-*.log"))
        )

    def _fail_unless(self, result: subprocess.CompletedProcess[str], where: str) -> None:
        if result.returncode != 0:
            pytest.fail(
                f"{where} failed ({result.returncode})\n"
                + "\n".join(self.transcript)
                + f"\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}\n"
                + self.server_logs(),
                pytrace=False,
            )

    def close(self) -> None:
        path = self.state / "servers"
        pids = [int(p) for p in path.read_text().split()] if path.exists() else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        for pid in pids:
            while time.monotonic() < deadline:
                try:
                    os.killpg(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal.open(tmp_path)
    yield term
    term.close()


def link_repo_dirs(term: Terminal, *names: str) -> None:
    """Paths the README names relative to a clone (tests/peers/...), here too."""
    for name in names:
        (term.cwd / name).symlink_to(REPO / name)


def node_ric_ready() -> None:
    if not NODE_RIC.is_dir():
        missing("the official Node.js runtime client", "make node-ric installs it")


# -- the scenarios, in the order a reader meets them ---------------------------

PLAIN_APP = "def handler(event, context):\n    return 'hi'\n"


def scenario_demo(term: Terminal) -> None:
    """make demo; the invoke it suggests; every invoke example against the chat."""
    term.cwd = REPO
    term.sh(block("$ make demo"))
    timing = block("--prompt 'Why stream?' --timing\nSure.")
    out = term.sh(timing)  # the answer on stdout, timing on stderr: both as shown
    assert out.startswith("Sure. **Stream**"), out[:200]
    assert re.search(r"^timing: status=200 .* bytes=\d+ chunks=\d+$", term.stderr, re.M)
    term.assert_shown(block('"message": "chat request"', ("json",)))  # the chat's log line
    skip = {"abc123.lambda-url": "a deployed Function URL: needs an AWS account"}
    out = term.sh(block("# stream, with figures"), skip=skip)
    assert "## Why it matters" in out
    assert "event: text" in out  # the --sse example
    assert out.rstrip().endswith("exit 3"), out[-300:]  # the failure example


def scenario_install(term: Terminal) -> None:
    skip = {
        "make install": "make test has run it before this test",
        "pip install .": "tests/test_install.py installs the package into a fresh venv",
    }
    out = term.sh(block("lambdastream --version"), skip=skip)
    assert re.match(r"lambdastream \d+\.\d+", out), out[:100]
    assert "--provisioned N" in out and "(default 9000" in out


def scenario_handler(term: Terminal) -> None:
    """The first handler, started as the README says, then under dev as docs/dev.md does."""
    term.save(block("from lambdastream import StreamingResponse, sse"))
    runtime = commands(block("python -m lambdastream.runtime app.handler"))[0]
    term.run(f"lambdastream dev app.handler --bootstrap {shlex.quote(runtime)}")
    url = f"http://127.0.0.1:{term.ports['url']}/"
    out = term.run(f"curl -sSN -D - {url}")
    assert "x-powered-by: lambdastream" in out.lower()
    assert "set-cookie: visited=1; Path=/" in out
    assert out.endswith("Streaming from Python on Lambda\n")
    term.sh(block("lambdastream dev app.handler --root ."))
    assert term.run(f"curl -sSN {url}") == "Streaming from Python on Lambda\n"
    # What docs/dev.md shows dev printing: its banner and one invocation's log.
    term.assert_shown(block("lambdastream dev: function app (app.handler)", ("",)))
    term.run("lambdastream dev app.events")
    assert term.run(f"curl -sSN {url}") == "event: token\ndata: Hel\n\nevent: token\ndata: lo\n\n"


def scenario_fastapi(term: Terminal) -> None:
    """The FastAPI app, saved as main.py, served as main:app and read with curl."""
    term.save(block("handler = asgi(app)  # _HANDLER=main.handler"))
    skip = {"pip install fastapi": "make install puts them in the venv (the dev extra)"}
    out = term.sh(block("lambdastream dev main:app &"), skip=skip)
    assert out.startswith("0\n1\n2\n3\n4\n"), out[:200]
    tokens = re.findall(r"^data: (.*?)\r?$", out, re.M)
    assert tokens == ["Stream", "ing ", "events"], out
    assert out.endswith('{"hello":"lambda"}'), out[-200:]


def scenario_curl_and_boto3(term: Terminal) -> None:
    term.save(block('yield f"tick {i}\\n"'))
    out = term.sh(block("curl -N http://127.0.0.1:9000/      # prints each tick"))
    assert out == "".join(f"tick {i}\n" for i in range(5))
    out = term.python(block('lam.invoke_with_response_stream(FunctionName="app")'))
    assert "tick 4" in out and "None" in out  # no FunctionError
    assert "START RequestId" in out  # the decoded log tail
    assert "{}" in out  # InvokeComplete without an error


def scenario_flags(term: Terminal) -> None:
    """Each dev example starts, says where it listens, and answers."""
    term.save(Block("python", "# app.py\n" + PLAIN_APP, 0))
    term.save(Block("python", "# src/app.py\n" + PLAIN_APP, 0))
    b = block("--env STAGE=dev --env DEBUG=1")
    term.sh(b, probe=True)
    probes = term.probes()
    assert len(probes) == len(commands(b)), probes
    statuses = [status for _, status in probes]
    # --auth AWS_IAM refuses the unsigned probe; --entry rest answers / (outside
    # its stage) with API Gateway's 403
    assert statuses.count("403") == 2 and set(statuses) == {"200", "403"}, probes


def scenario_sigv4(term: Terminal) -> None:
    term.save(Block("python", "# app.py\n" + PLAIN_APP, 0))
    term.run("lambdastream dev app.handler --auth AWS_IAM")
    out = term.python(block("SigV4Auth(boto3.Session().get_credentials()"))
    assert out.strip() == "b'\"hi\"'"


def scenario_bootstrap(term: Terminal) -> None:
    node_ric_ready()
    term.save(Block("python", "# app.py\n" + PLAIN_APP, 0))
    link_repo_dirs(term, "tests")
    term.sh(block('--bootstrap "python -m awslambdaric app.handler"'), probe=True)
    # awslambdaric's buffered "hi"; the Node client's streaming handler answers 201
    assert [status for _, status in term.probes()] == ["200", "201"]


def scenario_bedrock_function(term: Terminal) -> None:
    term.save(block("from lambdastream.bedrock import stream_text\n\ndef handler"))
    out = term.sh(block("lambdastream dev app.handler --bedrock-local &\ncurl"))
    assert out.startswith("Sure. **Stream**"), out[:200]
    # The same function through the Invoke API: the question is the event.
    out = term.run(
        f"lambdastream invoke --function app --endpoint http://127.0.0.1:{term.ports['api']}"
        ' --data \'{"prompt": "How do I reverse a list in Python?"}\''
    )
    assert "list" in out.lower() and "```python" in out


def scenario_bedrock_local(term: Terminal) -> None:
    out = term.sh(block("$ lambdastream bedrock-local\n"))
    assert out.startswith("Hello! I'm the scripted model of `bedrock-local`."), out[:200]
    out = term.python(block("case StreamEnd(stop_reason=r, usage=u)"))
    assert re.search(r"\n end_turn \d+ \d+\n$", out), out[-200:]
    term.sh(block("--backend openai --openai-base-url"), probe=True)
    assert [status for _, status in term.probes()] == ["404"]


def scenario_clients(term: Terminal) -> None:
    """The chat under dev, read by the openai SDK, LangChain and the AI SDK as the README shows."""
    link_repo_dirs(term, "examples")
    ai_sdk = REPO / "tests" / "peers" / "ai-sdk" / "node_modules"
    if not (ai_sdk / "@ai-sdk" / "openai-compatible").is_dir() or shutil.which("node") is None:
        missing("Node.js and the AI SDK", "make ai-sdk installs them")
    (term.cwd / "node_modules").symlink_to(ai_sdk)
    term.sh(block("lambdastream dev examples.chat.app.handler --root . --bedrock-local &"))
    for phrase in ('client = OpenAI(base_url="http://127.0.0.1:9000/v1"',
                   "llm = ChatOpenAI(base_url="):  # fmt: skip
        out = term.python(block(phrase))
        assert out.startswith("Sure. **Stream**"), out[:200]
    term.save(block("// chat.mjs"))
    out = term.sh(block("node chat.mjs"))
    assert out.startswith("Sure. **Stream**"), out[:200]


def scenario_init(term: Terminal) -> None:
    skip = {"sam deploy": "needs an AWS account; tests/deploy/test_init.py runs sam build offline"}
    out = term.sh(block("lambdastream init my-chat"), skip=skip)
    assert term.cwd.name == "my-chat"
    assert "\nSure. **Stream**" in out, out[:400]  # after what init says to run


def scenario_layer(term: Terminal) -> None:
    term.sh(block("lambdastream build layer -o lambdastream-layer.zip"))
    names = zipfile.ZipFile(term.cwd / "lambdastream-layer.zip").namelist()
    assert "lambdastream" in names and "python/lambdastream/runtime/bootstrap.py" in names


def scenario_build_function(term: Terminal) -> None:
    """docs/deploy.md's one command for CDK, Terraform or a zip of your own."""
    if shutil.which("python3.13") is None and not list(
        Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob("versions/3.13*")
    ):
        missing("python3.13 (the function's runtime compiles its bytecode)", "pyenv install 3.13")
    term.save(Block("python", "# app.py\n" + PLAIN_APP, 0))
    term.sh(block("lambdastream build function --runtime python3.13 --arch arm64 -o function.zip"))
    names = zipfile.ZipFile(term.cwd / "function.zip").namelist()
    assert sorted(names) == ["__pycache__/app.cpython-313.pyc", "app.py"], names


def scenario_node_peer(term: Terminal) -> None:
    node_ric_ready()
    link_repo_dirs(term, "tests")
    out = term.sh(block("curl -N 'http://127.0.0.1:9000/?count=5&delay_ms=500'"))
    assert out.count("\n") >= 5, out


SCENARIOS: dict[str, Callable[[Terminal], None]] = {
    f.__name__.removeprefix("scenario_"): f
    for f in (
        scenario_demo,
        scenario_install,
        scenario_handler,
        scenario_fastapi,
        scenario_curl_and_boto3,
        scenario_flags,
        scenario_sigv4,
        scenario_bootstrap,
        scenario_bedrock_function,
        scenario_bedrock_local,
        scenario_clients,
        scenario_init,
        scenario_layer,
        scenario_build_function,
        scenario_node_peer,
    )
}

# Blocks the scenarios run, by a phrase of each (checked against the pages).
RUN = (
    "$ make demo",
    "--prompt 'Why stream?' --timing\nSure.",
    "# stream, with figures",
    "lambdastream --version",
    "from lambdastream import StreamingResponse, sse",
    "python -m lambdastream.runtime app.handler",
    "lambdastream dev app.handler --root .",
    "handler = asgi(app)  # _HANDLER=main.handler",
    "lambdastream dev main:app &",
    'yield f"tick {i}\\n"',
    "curl -N http://127.0.0.1:9000/      # prints each tick",
    'lam.invoke_with_response_stream(FunctionName="app")',
    "--env STAGE=dev --env DEBUG=1",
    "SigV4Auth(boto3.Session().get_credentials()",
    '--bootstrap "python -m awslambdaric app.handler"',
    "from lambdastream.bedrock import stream_text\n\ndef handler",
    "lambdastream dev app.handler --bedrock-local &\ncurl",
    "$ lambdastream bedrock-local\n",
    "case StreamEnd(stop_reason=r, usage=u)",
    "--backend openai --openai-base-url",
    "lambdastream dev examples.chat.app.handler --root . --bedrock-local &",
    'client = OpenAI(base_url="http://127.0.0.1:9000/v1"',
    "llm = ChatOpenAI(base_url=",
    "// chat.mjs",
    "node chat.mjs",
    "lambdastream init my-chat",
    "lambdastream build layer -o lambdastream-layer.zip",
    "lambdastream build function --runtime python3.13 --arch arm64 -o function.zip",
    "curl -N 'http://127.0.0.1:9000/?count=5&delay_ms=500'",
)

# Blocks that cannot run here, by a phrase of each, and why.
NOT_RUN = {
    "make test SYSTEM_DEPS=skip": "the test suite itself, which runs this test",
    ".venv/bin/pytest tests/chat": "tests of this suite; make test runs them",
    "sam deploy --guided        # stack name": (
        "needs an AWS account; tests/deploy/test_sam_build.py runs sam build offline"
    ),
    "aws iam attach-user-policy": "needs an AWS account and the deployed stack",
    "aws secretsmanager create-secret --name chat-api-key": (
        "needs an AWS account; tests/chat/test_chat_api_key.py reads a secret at the wire"
    ),
    "class ChatStack(Stack)": "synthesized by CDK in tests/test_readme_deploy_snippets.py",
    "docker build -f examples/chat/Dockerfile": (
        "no Docker engine here; tests/deploy/test_dockerfile.py runs its steps"
    ),
    "tools/install-node-ric.sh": "make test runs it (make node-ric) before the tests",
    "pip install /path/to/lambdastream": (
        "a clone's path of your own; tests/test_install.py installs from this clone"
    ),
}


def test_commands_are_read_as_bash_reads_them():
    assert strip_comment("curl -N 'http://x/#a'   # prints it") == "curl -N 'http://x/#a'"
    assert strip_comment("echo a#b") == "echo a#b"
    console = Block("console", "$ a \\\n    --b\nout\n$ python -c 'x\ny'\nout\n", 1)
    assert [shlex.split(c) for c in commands(console)] == [["a", "--b"], ["python", "-c", "x\ny"]]
    assert transcript_lines(console) == ["out", "out"]


def test_a_transcript_line_stands_for_what_differs_with_an_ellipsis():
    assert shape("timing: ttfb_ms=… bytes=12").fullmatch("timing: ttfb_ms=3.5 bytes=12")
    assert not shape("timing: ttfb_ms=… bytes=12").fullmatch("timing: ttfb_ms=3.5 bytes=13")
    assert shape("Hello! I write ...").fullmatch("Hello! I write an answer")
    assert not shape("a (b)").fullmatch("a b")  # the rest is literal
    assert shape("  REPORT  Duration: … ms").fullmatch("  REPORT\tDuration: 1.5 ms")


def test_every_runnable_block_is_run_or_says_why_not():
    blocks = doc_blocks()
    claimed: dict[str, str] = {}
    for phrase in (*RUN, *NOT_RUN):
        b = block(phrase)
        assert b.where not in claimed, f"{b.where} is claimed by {claimed[b.where]!r} too"
        claimed[b.where] = phrase
    unclaimed = [f"{b.where} ({b.lang}): {b.text[:60]!r}" for b in blocks if b.where not in claimed]
    assert not unclaimed, (
        "blocks of README.md and docs/ neither run nor excused (add each to RUN with a"
        " scenario, or to NOT_RUN with the reason):\n" + "\n".join(unclaimed)
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_readme_scenario(name, terminal):
    SCENARIOS[name](terminal)
