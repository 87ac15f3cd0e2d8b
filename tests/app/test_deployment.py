"""Deployment: one Settings object (option > COMPENSA_* variable > default), API keys off loopback,
the ApiKeys middleware, and every command but ``serve`` working without the ``server`` extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from compensa.app import server
from compensa.app.cli import main, serve
from compensa.app.settings import Settings, is_loopback, load_settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _environ_restored():
    """Whatever a test or ``serve`` (Settings.export) puts in os.environ is undone after it. Autouse
    with no dependencies, so it is set up first and torn down last: after monkeypatch's own undo,
    which could otherwise put back a value that serve exported (and leak API keys into later tests)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def clean_env(monkeypatch):
    """No COMPENSA_* setting from the caller's environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv("COMPENSA_" + name.upper(), raising=False)


@pytest.fixture
def served(monkeypatch, clean_env):
    """``compensa serve`` up to the point it would serve: what server.run was called with."""
    calls: list[dict] = []

    def fake_run(host, port, workers=1, log_level="info", *, log_format="text", limits=None):
        calls.append({"host": host, "port": port, "workers": workers, "log_level": log_level,
                      "log_format": log_format, "limits": limits, "environ": dict(os.environ)})
        return 0

    monkeypatch.setattr(server, "run", fake_run)
    monkeypatch.setattr(server, "check_address", lambda host, port: None)
    return calls


# --- settings ------------------------------------------------------------------------------------

def test_every_serve_option_is_a_settings_field_with_the_same_default(clean_env):
    import click

    defaults, ctx = Settings(), click.Context(serve)
    for param in serve.params:
        assert param.name in Settings.model_fields, f"--{param.name} is not a Settings field"
        expected = getattr(defaults, param.name)
        given = param.get_default(ctx)
        given = None if given is getattr(click.core, "UNSET", None) else given  # click >= 8.3: no default
        given = list(given or ()) if param.multiple else given
        assert given == expected or (given is None and expected in (None, [])), param.name


def test_serve_with_no_options_serves_as_before(served, capsys):
    assert main(["serve"]) == 0
    (call,) = served
    assert (call["host"], call["port"], call["workers"], call["log_level"], call["log_format"]) == (
        "127.0.0.1", 8000, 1, "info", "text")
    from compensa.app.protocol import Limits

    limits = call["limits"]
    assert (limits.header_timeout, limits.body_timeout, limits.max_connections, limits.max_in_flight) == (
        10.0, 30.0, 1000, 128)
    assert limits == Limits(header_timeout=10.0, body_timeout=30.0, max_connections=1000, max_in_flight=128)
    # the workers read the same settings from the environment
    assert call["environ"]["COMPENSA_ENGINES"] == "4" and call["environ"]["COMPENSA_FRAME_ANCESTORS"] == "'self'"
    assert "COMPENSA_KB" not in call["environ"] and "COMPENSA_AUDIT" not in call["environ"]
    assert capsys.readouterr().err == ""


def test_an_option_wins_over_its_variable_which_wins_over_the_default(served, monkeypatch, tmp_path):
    monkeypatch.setenv("COMPENSA_PORT", "8123")
    monkeypatch.setenv("COMPENSA_WORKERS", "3")
    monkeypatch.setenv("COMPENSA_LOG_FORMAT", "json")
    monkeypatch.setenv("COMPENSA_ENGINES", "2")
    monkeypatch.setenv("COMPENSA_MAX_CONNECTIONS", "50")
    assert main(["serve", "--workers", "2", "--engines", "5", "--audit", str(tmp_path / "audit.jsonl")]) == 0
    (call,) = served
    assert (call["port"], call["workers"], call["log_format"], call["limits"].max_connections) == (8123, 2, "json", 50)
    environ = call["environ"]
    assert environ["COMPENSA_WORKERS"] == "2" and environ["COMPENSA_ENGINES"] == "5"
    assert environ["COMPENSA_AUDIT"] == str((tmp_path / "audit.jsonl").resolve())
    worker = Settings()  # what a worker process reads back (compensa.app.http.app_factory -> create_app)
    assert worker.engines == 5 and worker.audit == (tmp_path / "audit.jsonl").resolve()


def test_a_relative_kb_folder_reaches_the_workers_as_an_absolute_path(served, monkeypatch):
    kb = ROOT / "kb" / "data"
    monkeypatch.chdir(ROOT)
    assert main(["--kb", "kb/data", "serve"]) == 0
    assert served[0]["environ"]["COMPENSA_KB"] == str(kb)


@pytest.mark.parametrize("variable, value, named", [
    ("COMPENSA_PORT", "eighty", "COMPENSA_PORT"), ("COMPENSA_WORKERS", "0", "COMPENSA_WORKERS"),
    ("COMPENSA_LOG_LEVEL", "loud", "COMPENSA_LOG_LEVEL"), ("COMPENSA_API_KEYS", "short", "COMPENSA_API_KEYS"),
    ("COMPENSA_CDS_TRUSTED_ISSUERS", "{not json", "cds_trusted_issuers")])
def test_a_bad_variable_exits_2_naming_it(served, monkeypatch, capsys, variable, value, named):
    monkeypatch.setenv(variable, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err and not served
    if variable == "COMPENSA_API_KEYS":
        assert value not in err.replace(variable, "")  # a key is never echoed


def test_settings_read_back_from_their_environment_are_the_same(clean_env, tmp_path):
    settings = load_settings(host="0.0.0.0", port=9000, kb=tmp_path, api_keys=[KEY, OTHER_KEY],
                             cds_trusted_issuers={"https://ehr.example.org": "https://ehr.example.org/jwks"},
                             insecure_no_auth=True, header_timeout=2.5)
    environ = settings.to_environ()
    assert all(name.startswith("COMPENSA_") for name in environ)
    os.environ.update(environ)
    assert Settings() == settings
    settings.model_copy(update={"kb": None}).export()
    assert "COMPENSA_KB" not in os.environ and Settings().kb is None


def test_an_empty_variable_counts_as_unset(clean_env, monkeypatch):
    monkeypatch.setenv("COMPENSA_KB", "")
    monkeypatch.setenv("COMPENSA_AUDIT", "")
    settings = Settings()
    assert settings.kb is None and settings.audit is None


def test_keys_are_never_in_the_settings_repr(clean_env):
    settings = load_settings(api_keys=[KEY])
    assert KEY not in repr(settings) and KEY not in str(settings)


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                            ("::", False), ("192.168.1.10", False), ("example.org", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


# --- API keys off loopback -----------------------------------------------------------------------

@pytest.mark.parametrize("args, env", [(["--host", "0.0.0.0"], {}), ([], {"COMPENSA_HOST": "0.0.0.0"}),
                                       (["--host", "192.168.1.10"], {})])
def test_serve_off_loopback_without_keys_refuses_to_start(served, monkeypatch, capsys, args, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert "COMPENSA_API_KEYS" in err and "--api-key" in err and "--insecure-no-auth" in err
    assert not served


def test_serve_off_loopback_with_keys_or_insecure_no_auth_starts(served, monkeypatch, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--api-key", KEY, "--api-key", OTHER_KEY]) == 0
    assert json.loads(served[-1]["environ"]["COMPENSA_API_KEYS"]) == [KEY, OTHER_KEY]
    monkeypatch.setenv("COMPENSA_API_KEYS", KEY)
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    monkeypatch.delenv("COMPENSA_API_KEYS")
    assert main(["serve", "--host", "0.0.0.0", "--insecure-no-auth"]) == 0
    err = capsys.readouterr().err
    assert "without API keys" in err and KEY not in err
    assert len(served) == 3


@pytest.fixture(scope="module")
def keyed():
    from compensa.app.http import create_app

    return TestClient(create_app(api_keys=[KEY, OTHER_KEY]), raise_server_exceptions=False)


CASE = {"pain": ["lateral_knee"]}


def test_with_keys_the_api_needs_one(keyed):
    refused = keyed.post("/v1/consult", json=CASE)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    body = refused.json()
    assert "X-API-Key" in body["detail"] and body["request_id"] == refused.headers["x-request-id"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    for headers in ({"X-API-Key": KEY}, {"X-API-Key": OTHER_KEY}, {"Authorization": f"Bearer {KEY}"},
                    {"authorization": f"bearer {OTHER_KEY}"}):
        assert keyed.post("/v1/consult", json=CASE, headers=headers).status_code == 200, headers
    for path in ("/v1/kb", "/v1/kb/vocabulary", "/v1/schema/case", "/openapi.json"):
        assert keyed.get(path).status_code == 401, path
        assert keyed.get(path, headers={"X-API-Key": KEY}).status_code == 200, path


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY[:-1]}, {"X-API-Key": KEY + "x"}, {"X-API-Key": ""},
                                     {"Authorization": f"Basic {KEY}"}, {"Authorization": KEY},
                                     {"Authorization": "Bearer "}, {"X-Api-Key": KEY.upper()}])
def test_a_wrong_key_is_refused_and_not_echoed(keyed, headers):
    refused = keyed.post("/v1/triage", json=CASE, headers=headers)
    assert refused.status_code == 401 and KEY not in refused.text


def test_probes_pages_assets_and_cds_hooks_need_no_key(keyed):
    for path in ("/healthz", "/readyz", "/", "/quiz", "/kb"):
        answer = keyed.get(path)
        assert answer.status_code != 401, path
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/").status_code == 200
    assets = sorted(p.name for p in (ROOT / "app" / "static").iterdir() if p.suffix in (".js", ".css"))
    assert assets and keyed.get(f"/static/{assets[0]}").status_code == 200
    # CDS Hooks: the EHR's JWT, checked by the CDS routes, not an API key
    assert keyed.get("/cds-services").status_code != 401
    hook = keyed.post("/cds-services/anything", json={})  # a 401 here is the CDS routes' own (no JWT)
    assert hook.status_code != 401 or "API key" not in hook.text


def test_without_keys_nothing_needs_one(clean_env):
    from compensa.app.http import create_app

    client = TestClient(create_app(), raise_server_exceptions=False)
    assert client.post("/v1/triage", json=CASE).status_code == 200


def test_create_app_arguments_override_the_environment(clean_env, monkeypatch):
    from compensa.app.http import create_app

    monkeypatch.setenv("COMPENSA_FRAME_ANCESTORS", "https://ehr.example.org")
    monkeypatch.setenv("COMPENSA_API_KEYS", KEY)
    from_env = TestClient(create_app())
    assert "frame-ancestors https://ehr.example.org" in from_env.get("/").headers["content-security-policy"]
    assert from_env.get("/v1/kb").status_code == 401
    given = TestClient(create_app(frame_ancestors="'none'", settings=Settings(api_keys=[])))
    assert "frame-ancestors 'none'" in given.get("/").headers["content-security-policy"]
    assert given.get("/v1/kb").status_code == 200


def test_the_schema_route_and_command_agree(keyed, capsys):
    assert main(["schema", "report"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert keyed.get("/v1/schema/report", headers={"X-API-Key": KEY}).json() == printed


# --- without the server extra --------------------------------------------------------------------

_BLOCKED = textwrap.dedent("""
    import contextlib, io, json, sys
    BLOCKED = ("fastapi", "uvicorn", "starlette", "pydantic_settings", "fhir", "jwt")

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {name!r} (blocked: no server extra)")
            return None

    sys.meta_path.insert(0, Blocker())
    from compensa.app.cli import main
    results = []
    for args in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        results.append({"args": args, "code": code, "out": out.getvalue(), "err": err.getvalue()})
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
    print(json.dumps({"results": results, "loaded": loaded}))
""")

#: command -> exit status, run where fastapi, uvicorn, starlette, pydantic-settings, fhir.resources
#: and PyJWT cannot be imported (a plain ``pip install compensa``)
WITHOUT_SERVER = [
    (["--help"], 0), (["consult", "--pain", "lateral_knee:right", "--format", "json"], 0),
    (["schema", "case"], 0), (["schema", "report"], 0), (["kb", "lint"], 0), (["kb", "show", "piriformis"], 0),
    (["explain", "--pain", "lateral_knee:right"], 0), (["serve"], 2), (["serve", "--host", "0.0.0.0"], 2)]


def test_commands_work_without_the_server_extra(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPENSA_")}
    env["COMPENSA_CACHE_DIR"] = "off"
    done = subprocess.run([sys.executable, "-c", _BLOCKED, json.dumps([args for args, _ in WITHOUT_SERVER])],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = json.loads(done.stdout.strip().splitlines()[-1])
    assert ran["loaded"] == [], "imported from the server extra: " + ", ".join(ran["loaded"])
    for (args, status), result in zip(WITHOUT_SERVER, ran["results"]):
        assert result["code"] == status, (args, result["err"][-2000:])
        assert "Traceback" not in result["err"], args
        if args[0] == "serve":
            assert "pip install 'compensa[server]'" in result["err"], result["err"]
        elif args[0] == "schema":
            assert json.loads(result["out"])["type"] == "object"


# --- the README's settings table -----------------------------------------------------------------

TABLE_START = "<!-- settings table: generated from compensa.app.settings.Settings (python tests/app/test_deployment.py) -->"
TABLE_END = "<!-- end of settings table -->"


def settings_table() -> str:
    """The README's table of settings: every Settings field, its variable, option, default, meaning."""
    options = {param.name: "--api-key" if param.name == "api_keys" else param.opts[0] for param in serve.params}
    rows = ["| Variable | `serve` option | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default in (None, [], {}):
            shown = "—"
        elif isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        else:
            shown = f"`{default}`"
        option = f"`{options[name]}`" if name in options else "`--kb` (before `serve`)" if name == "kb" else "—"
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `COMPENSA_{name.upper()}` | {option} | {shown} | {meaning} |")
    return "\n".join(rows)


def test_the_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    assert TABLE_START in readme and TABLE_END in readme, "README: the Deployment section's settings table"
    shown = readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert shown == settings_table(), "README's settings table is out of date: python tests/app/test_deployment.py"
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} needs a description (it is the README's text)"


if __name__ == "__main__":  # rewrite the README's table from the Settings model
    readme_path = ROOT / "README.md"
    text = readme_path.read_text()
    head, rest = text.split(TABLE_START, 1)
    readme_path.write_text(head + TABLE_START + "\n" + settings_table() + "\n" + TABLE_END
                           + rest.split(TABLE_END, 1)[1])
    print(settings_table())
