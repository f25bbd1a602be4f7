"""``bench.deployed``'s projects as written from the templates: no benchmark runs here.

The bench builds the FastAPI template and its peers from the files ``init``
writes today: these fail when the template changes under it.
"""

from __future__ import annotations

import ast
import doctest
import re

from cfn import load

from bench import deployed


def test_the_docstring_examples_hold():
    assert doctest.testmod(deployed).failed == 0


def test_the_projects_build_the_same_app_for_this_machine(tmp_path):
    arch = deployed.lambda_architecture()
    projects = deployed.write_projects(tmp_path, arch)
    ours = projects[deployed.OURS]
    # Ours: the init project, its template and Makefile moved to this machine together.
    function = load(ours / "template.yaml")["Resources"]["StreamingFunction"]["Properties"]
    assert function["Architectures"] == [arch]
    assert re.search(rf"^ARCHITECTURE = {arch}$", (ours / "Makefile").read_text(), re.MULTILINE)
    # The peers: the same app without lambdastream (they have no layer), as each one's docs say.
    mangum = (projects[deployed.MANGUM] / "app.py").read_text()
    lwa = (projects[deployed.LWA] / "app" / "main.py").read_text()
    for source in (mangum, lwa):
        tree = ast.parse(source)
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert not {name for name in imported if name and name.startswith("lambdastream")}
        assert '@app.get("/")' in source and "app = FastAPI(" in source
    assert 'handler = Mangum(app, lifespan="off")' in mangum
    run_sh = projects[deployed.LWA] / "app" / "run.sh"
    assert "exec python -m uvicorn --port=$PORT main:app" in run_sh.read_text()
    assert run_sh.stat().st_mode & 0o111
    lwa_function = load(projects[deployed.LWA] / "template.yaml")["Resources"]["FastAPIFunction"]
    variables = lwa_function["Properties"]["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
