"""The generator: deterministic, the committed client fresh, and the code it writes for every
kind of operation a contract may hold typed (mypy --strict) and working (over MockTransport)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools import gen_client

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "python" / "diandan_client"

OBJ = "#/components/schemas/"
PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": OBJ + "Problem"}}}}
# A small contract with every shape the generator must handle.
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "components": {
        "schemas": {
            "Colour": {"enum": ["red", "green"], "type": "string", "description": "A colour."},
            # values that are also names the modules could import
            "Words": {"enum": ["date", "UUID", "cast", "Iterator", "warnings"], "type": "string"},
            "Thing": {
                "type": "object",
                "title": "Thing",
                "description": 'A "thing" with a back\\slash.',
                "required": ["id", "colour"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "colour": {"$ref": OBJ + "Colour"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                    "next": {"anyOf": [{"$ref": OBJ + "Zed"}, {"type": "null"}]},
                    "kind": {"const": "thing"},
                },
            },
            "Things": {"type": "array", "items": {"$ref": OBJ + "Thing"}},
            "Odd-Name": {
                "type": "object",
                "required": ["@type"],
                "properties": {"@type": {"type": "string"}, "class": {"type": "integer"}},
            },
            "Zed": {"type": "object", "properties": {"z": {"type": ["integer", "null"]}}},
            "Problem": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "status": {"type": "integer"}},
            },
        }
    },
    "paths": {
        "/things/{thing-id}": {
            "parameters": [
                {
                    "name": "thing-id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                },
            ],
            "get": {
                "operationId": "things-read_thing",
                "tags": ["things"],
                "summary": "Read Thing",
                "parameters": [
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "class", "in": "query", "schema": {"type": "integer"}},
                    {"name": "self", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "word", "in": "query", "schema": {"$ref": OBJ + "Words"}},
                    {"name": "plain", "in": "query", "schema": {"enum": ["date", "cast"]}},
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": OBJ + "Thing"}}}},
                    "404": PROBLEM,
                },
            },
        },
        "/things": {
            "get": {
                "operationId": "things-list",
                "tags": ["things"],
                "parameters": [
                    {"name": "colour", "in": "query", "schema": {"$ref": OBJ + "Colour"}},
                    {
                        "name": "since",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "ids",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                    },
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": OBJ + "Things"}}}}
                },
            },
            "post": {
                "operationId": "things-create",
                "tags": ["things"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": OBJ + "Thing"}}},
                },
                "responses": {
                    "201": {"content": {"application/json": {"schema": {"$ref": OBJ + "Odd-Name"}}}}
                },
            },
        },
        "/other/things": {
            "get": {"operationId": "other-list", "tags": ["other"], "responses": {"204": {}}},
        },
        "/api-keys": {
            "get": {
                "operationId": "api-keys-list_api_keys",
                "tags": ["api-keys"],
                "responses": {"200": {"content": {"application/json": {"schema": {}}}}},
            },
        },
        "/report/{id}": {
            "get": {
                "operationId": "getHTTPReport",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": OBJ + "Zed"}},
                            "text/csv": {},
                        }
                    }
                },
            },
        },
        "/events": {
            "get": {
                "operationId": "events-stream",
                "tags": ["events"],
                "responses": {"200": {"content": {"text/event-stream": {}}}},
            },
        },
        "/file": {
            "get": {
                "operationId": "files-download",
                "tags": ["files"],
                "responses": {"200": {"content": {"application/pdf": {}}}},
            },
            "post": {
                "operationId": "files-upload",
                "tags": ["files"],
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {}}},
                },
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"type": "integer"}}}}
                },
            },
        },
        "/login": {
            "post": {
                "operationId": "auth-login",
                "tags": ["auth"],
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": {"$ref": OBJ + "Zed"}}
                    }
                },
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"type": "string"}}}}
                },
            },
        },
        "/old": {
            "delete": {
                "operationId": "old-remove",
                "tags": ["old"],
                "deprecated": True,
                "responses": {"204": {}},
            },
        },
    },
}

# Runs in a subprocess against the generated package, every answer from a MockTransport.
EXERCISE = r"""
import uuid, warnings
from datetime import datetime, timezone
from typing import get_args
import httpx
from diandan_client import Client, ProblemError, models as m

seen = []

def answer(request):
    seen.append(request)
    path = request.url.path
    if path.startswith("/things/"):
        if request.headers.get("X-Trace") == "missing":
            return httpx.Response(404, json={"type": "about:blank", "title": "Not Found",
                "status": 404, "detail": "未找到 / not found", "code": "not_found",
                "instance": path, "errors": [{"loc": ["x"]}], "current_state": "gone"},
                headers={"content-type": "application/problem+json"})
        return httpx.Response(200, json={"id": "x", "colour": "red"})
    if path == "/things" and request.method == "GET":
        return httpx.Response(200, json=[{"id": "1", "colour": "green"}])
    if path == "/report/a b":
        return httpx.Response(200, json={"z": 1})
    if path == "/report/csv":
        return httpx.Response(200, content=b"a,b\n", headers={"content-type": "text/csv"})
    if path == "/events":
        return httpx.Response(200, content=b"retry: 3000\n\nid: 1\ndata: {}\n\n",
                              headers={"content-type": "text/event-stream"})
    if path == "/file" and request.method == "GET":
        return httpx.Response(200, content=b"%PDF-", headers={"content-type": "application/pdf"})
    if path == "/file":
        return httpx.Response(200, json=len(request.content))
    if path == "/login":
        return httpx.Response(200, json=request.content.decode())
    if path in ("/old", "/other/things", "/api-keys"):
        return httpx.Response(204)
    return httpx.Response(502, text="<html>bad gateway</html>")

http = httpx.Client(base_url="http://test", transport=httpx.MockTransport(answer))
client = Client(http=http, token="t0k")
thing_id = uuid.UUID(int=7)
got = client.read_thing(thing_id, x_trace="abc", class_=3, self_=True)
assert got == {"id": "x", "colour": "red"}
sent = seen[-1]
assert sent.url.path == f"/things/{thing_id}", sent.url
assert sent.url.params["class"] == "3" and sent.url.params["self"] == "true", sent.url
assert sent.headers["X-Trace"] == "abc" and sent.headers["Authorization"] == "Bearer t0k"
client.read_thing("a/b")
assert seen[-1].url.raw_path == b"/things/a%2Fb", seen[-1].url.raw_path

when = datetime(2026, 10, 1, tzinfo=timezone.utc)
listed = client.things_list(since=when, colour="green", ids=[thing_id, uuid.UUID(int=8)])
assert listed[0]["colour"] == "green"
assert seen[-1].url.params["since"] == "2026-10-01T00:00:00+00:00"
assert seen[-1].url.params.get_list("ids") == [str(thing_id), str(uuid.UUID(int=8))]
assert "colour" in str(seen[-1].url) and "None" not in str(seen[-1].url)
client.things_list(since="2026-01-01")
assert set(seen[-1].url.params) == {"since"}  # None is left out

assert client.get_http_report("a b") == {"z": 1}
assert seen[-1].url.raw_path == b"/report/a%20b"
assert client.get_http_report("csv") == b"a,b\n"
assert list(client.stream()) == ["retry: 3000", "", "id: 1", "data: {}", ""]
assert client.download() == b"%PDF-"
assert client.upload(files={"file": ("a.csv", b"x,y")}) > 0
assert client.auth_login(body={"z": 5}) == "z=5"
assert client.other_list() is None
assert client.list_api_keys() is None

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert client.remove() is None
assert [w.category for w in caught] == [DeprecationWarning]

try:
    client.read_thing(thing_id, x_trace="missing")
except ProblemError as exc:
    assert (exc.status, exc.code, exc.title) == (404, "not_found", "Not Found")
    assert exc.type == "about:blank"
    assert exc.detail == "未找到 / not found" and exc.instance == f"/things/{thing_id}"
    assert exc.errors == [{"loc": ["x"]}] and exc.problem["current_state"] == "gone"
else:
    raise AssertionError("no ProblemError")
try:
    client.get_http_report("nowhere")
except ProblemError as exc:
    assert exc.status == 502 and exc.code is None and "bad gateway" in (exc.detail or "")
else:
    raise AssertionError("no ProblemError")

assert get_args(m.Colour) == ("red", "green")
assert m.Odd_Name.__required_keys__ == frozenset({"@type"})
assert m.Thing.__required_keys__ == frozenset({"id", "colour"})
print("ok")
"""

# Written for mypy: the types the generated code promises.
TYPED = """
from datetime import datetime
from uuid import UUID

from diandan_client import Client, models as m


def use(client: Client) -> None:
    thing: m.Thing = client.read_thing(UUID(int=1))
    colour: m.Colour = thing["colour"]
    many: m.Things = client.things_list(since=datetime.now(), colour=colour)
    odd: m.Odd_Name = client.create(body=many[0])
    either: m.Zed | bytes = client.get_http_report("x")
    lines: list[str] = list(client.stream())
    print(odd, either, lines)
"""


def _generate(spec: dict[str, Any], into: Path) -> Path:
    package = into / "diandan_client"
    package.mkdir(parents=True)
    for name in ("__init__.py", "_base.py"):
        shutil.copy(PACKAGE / name, package / name)
    (into / "spec.json").write_text(json.dumps(spec))
    assert gen_client.main(["--spec", str(into / "spec.json"), "--out", str(package)]) == 0
    return package


def test_the_committed_client_is_fresh() -> None:
    assert gen_client.main(["--check"]) == 0


def test_the_stale_check_notices_a_changed_or_missing_file(tmp_path: Path) -> None:
    package = _generate(SPEC, tmp_path)
    check = ["--check", "--spec", str(tmp_path / "spec.json"), "--out", str(package)]
    assert gen_client.main(check) == 0
    api = package / "api.py"
    api.write_text(api.read_text() + "# edited\n")
    assert gen_client.main(check) == 1
    api.unlink()
    assert gen_client.main(check) == 1
    changed = json.loads(json.dumps(SPEC))
    changed["paths"]["/other/things"]["get"]["operationId"] = "other-renamed"
    assert gen_client.main(["--spec", str(tmp_path / "spec.json"), "--out", str(package)]) == 0
    (tmp_path / "spec.json").write_text(json.dumps(changed))
    assert gen_client.main(check) == 1  # the contract moved on: the client is stale


def _shuffled(node: Any, rng: random.Random, *, keep: bool = False) -> Any:
    """The same contract with every mapping's keys in another order, except a schema's
    `properties` (their order is the TypedDict's field order, which the contract gives)."""
    if isinstance(node, list):
        return [_shuffled(v, rng) for v in node]
    if not isinstance(node, dict):
        return node
    keys = list(node)
    if not keep:
        rng.shuffle(keys)
    return {k: _shuffled(node[k], rng, keep=k == "properties") for k in keys}


def test_the_output_does_not_depend_on_key_order_or_hash_seed(tmp_path: Path) -> None:
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    first = gen_client.render(spec)
    assert gen_client.render(_shuffled(spec, random.Random(1))) == first
    assert gen_client.render(_shuffled(spec, random.Random(2))) == first
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        out.mkdir()
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tools.gen_client", "--out", str(out)],
            cwd=ROOT, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert outputs[0] == {name: text.encode() for name, text in first.items()}


def test_the_method_names(tmp_path: Path) -> None:
    names = gen_client.Generator(SPEC).method_names()
    assert sorted(names) == [
        "auth_login",  # `login` is BaseClient's
        "create",
        "download",
        "get_http_report",
        "list_api_keys",  # the whole tag `api-keys` is dropped
        "other_list",  # `list` of both tags: each takes its whole operationId
        "read_thing",
        "remove",
        "stream",
        "things_list",
        "upload",
    ]


def test_generated_code_works_over_http(tmp_path: Path) -> None:
    _generate(SPEC, tmp_path)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", EXERCISE], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_generated_code_is_strictly_typed_and_lint_clean(tmp_path: Path) -> None:
    package = _generate(SPEC, tmp_path)
    for name in ("models.py", "api.py"):  # checked as if it were the committed client
        lint = subprocess.run(  # noqa: S603
            [Path(sys.executable).with_name("ruff"), "check", "--stdin-filename",
             str(PACKAGE / name), "-"],
            input=(package / name).read_text(), cwd=ROOT, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        assert lint.returncode == 0, lint.stdout
    (tmp_path / "use.py").write_text(TYPED)
    (tmp_path / "wrong.py").write_text(
        "from diandan_client import Client\n\n\n"
        "def misuse(client: Client) -> None:\n"
        "    client.things_list(since=3)\n"
        '    client.things_list(since="x", colour="blue")\n'
        "    client.read_thing(1)\n"
    )
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version",
            "3.11", "--config-file", str(tmp_path / "none.toml")]  # fmt: skip
    (tmp_path / "none.toml").write_text("")
    env = {**os.environ, "MYPYPATH": str(tmp_path)}
    good = subprocess.run(  # noqa: S603
        [*mypy, str(package), str(tmp_path / "use.py")],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert good.returncode == 0, good.stdout
    bad = subprocess.run(  # noqa: S603
        [*mypy, str(tmp_path / "wrong.py")],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.stdout.count("error:") == 3, bad.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"$ref": "#/components/schemas/Nowhere"}, "unknown schema reference"),
        ({"$ref": "other.json#/x"}, "unknown schema reference"),
    ],
)
def test_a_contract_it_cannot_express_is_refused(change: dict[str, Any], message: str) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["components"]["schemas"]["Zed"]["properties"]["z"] = change
    with pytest.raises(gen_client.SpecError, match=message):
        gen_client.render(spec)


def test_schemas_that_would_share_a_class_are_refused() -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["components"]["schemas"]["Odd_Name"] = {"type": "string"}
    with pytest.raises(gen_client.SpecError, match="both become class"):
        gen_client.render(spec)
