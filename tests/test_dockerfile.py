"""The Dockerfile and compose.yaml, checked without a container engine (none runs here).

The file is parsed (dockerfile-parse): pinned base images, a numeric non-root USER, a HEALTHCHECK on
/healthz, EXPOSE = the default port, CMD ``compensa serve``, COPY sources that exist and are not
ignored. Then its install steps run here, as the file has them, with the image's paths mapped into
tmp_path: the build stage's commands (the locked requirements, the wheel, a fresh virtualenv with
both) in a copy of what its COPY lines bring, the runtime stage's checks, and ``compensa serve``
from that virtualenv with the runtime stage's ENV, polled with the HEALTHCHECK's own command. What
cannot run here is named where it is skipped: apt-get and useradd (the OS's), and
``pip install uv`` (uv is already here; its version may differ from the pinned one).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
KEY = "dockerfile-test-key-0123456789"
#: Absolute paths of the image that the commands use, and where they are here (under tmp_path).
IMAGE_ROOTS = ("/dist", "/src", "/opt", "/data", "/tmp")
#: How this machine reaches the package index (its certificates, a proxy): passed on to pip and uv.
NETWORK = {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "HTTP_PROXY",
           "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
#: Runtime commands that belong to the OS image and are not run here.
OS_COMMANDS = ("apt-get", "groupadd", "useradd")


def _stages() -> list[list[tuple[dict, object]]]:
    """The Dockerfile's instructions, stage by stage, each with its context (the ENV in force)."""
    parser = DockerfileParser(path=str(DOCKERFILE))
    stages: list[list[tuple[dict, object]]] = []
    for item, context in zip(parser.structure, parser.context_structure):
        if item["instruction"] == "FROM":
            stages.append([])
        if stages and item["instruction"] != "COMMENT":
            stages[-1].append((item, context))
    return stages


def _all(stage, instruction: str) -> list[str]:
    return [item["value"] for item, _ in stage if item["instruction"] == instruction]


def _one(stage, instruction: str) -> str:
    values = _all(stage, instruction)
    assert len(values) == 1, f"the runtime stage should have one {instruction}: {values}"
    return values[0]


def _env(context) -> dict[str, str]:
    return dict(context.envs)


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(name, p.removeprefix("**/")) for p in patterns)


def _exec_form(value: str) -> list[str]:
    """The JSON array of a CMD (or of a HEALTHCHECK's CMD)."""
    array = json.loads(value[value.index("["):])
    assert isinstance(array, list) and all(isinstance(a, str) for a in array), value
    return array


# --- the file ------------------------------------------------------------------------------------

def test_base_images_are_pinned_to_an_exact_release():
    stages = _stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    aliases = set()
    for stage in stages:
        words = _all(stage, "FROM")[0].split()
        image = words[0]
        if image in aliases:
            continue
        assert not image.endswith(":latest") and ":" in image.split("/")[-1], f"unpinned base image {image}"
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?", image), image
        if len(words) == 3 and words[1].upper() == "AS":
            aliases.add(words[2])


def test_the_runtime_runs_as_a_numeric_user_that_is_not_root():
    runtime = _stages()[-1]
    user = _all(runtime, "USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: a numeric, non-root uid"
    order = [item["instruction"] for item, _ in runtime]
    assert order.index("USER") < order.index("CMD")
    assert any(f"--uid {uid}" in run for run in _all(runtime, "RUN")), "the user is created with that uid"


def test_healthcheck_expose_and_cmd():
    from compensa.app.settings import Settings

    runtime = _stages()[-1]
    health = _one(runtime, "HEALTHCHECK")
    assert "/healthz" in health and "urllib" in health, "the probe (no curl in a slim image)"
    assert _exec_form(_one(runtime, "CMD")) == ["compensa", "serve"]
    env = _env(runtime[-1][1])
    default_port = str(Settings.model_fields["port"].default)
    assert _one(runtime, "EXPOSE") == env["COMPENSA_PORT"] == default_port
    assert env["COMPENSA_HOST"] == "0.0.0.0"  # so the image refuses to start without API keys


def test_apt_installs_no_recommends_and_cleans_its_lists():
    for run in _all(_stages()[-1], "RUN"):
        if "apt-get install" in run:
            assert "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run, run
            assert "graphviz" in run


def test_copy_sources_exist_and_are_not_ignored():
    patterns = _dockerignore()
    copied = 0
    for stage in _stages():
        for value in _all(stage, "COPY"):
            words = value.split()
            if any(w.startswith("--from") for w in words):
                continue
            for source in [w for w in words if not w.startswith("--")][:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
                copied += 1
    assert copied


def test_dockerignore_keeps_local_state_and_secrets_out():
    patterns = _dockerignore()
    for name in (".venv", ".git", "out", ".tools", "node_modules", "compensa.env", "__pycache__"):
        assert _ignored(name, patterns), f".dockerignore should exclude {name}"


def test_compose_file_matches_the_image():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    (service,) = compose["services"].values()
    port = _one(_stages()[-1], "EXPOSE")
    assert any(str(p).endswith(f":{port}") for p in service["ports"])
    env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
    for env_file in env_files:
        name = env_file if isinstance(env_file, str) else env_file["path"]
        example = ROOT / f"{name}.example"
        assert example.exists() and "COMPENSA_API_KEYS=" in example.read_text()
    assert service["read_only"] is True and "/tmp" in service["tmpfs"]
    assert _env(_stages()[-1][-1][1])["XDG_CACHE_HOME"].startswith("/tmp/"), "the cache goes to the tmpfs"
    audit_dir = str(Path(service["environment"]["COMPENSA_AUDIT"]).parent)
    assert any(v.split(":")[1] == audit_dir for v in service["volumes"]), "the audit log is on a volume"
    assert any(f"chown 10001:10001 {audit_dir}" in r for r in _all(_stages()[-1], "RUN")), "writable by the user"
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert service["restart"] in ("always", "unless-stopped", "on-failure")


# --- its install steps, run here -----------------------------------------------------------------

def _mapper(tmp_path: Path):
    roots = {root: tmp_path / root.strip("/") for root in IMAGE_ROOTS}
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, IMAGE_ROOTS)) + r")(?=/|\s|$|\")")

    def mapped(text: str) -> str:
        return pattern.sub(lambda m: str(roots[m.group(1)]), text)

    return mapped


def _copy(value: str, workdir: Path, mapped) -> None:
    words = [w for w in value.split() if not w.startswith("--")]
    sources, dest = words[:-1], words[-1]
    target = Path(mapped(dest)) if dest.startswith("/") else workdir / dest
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for source in sources:
        origin = ROOT / source
        to = target / origin.name if dest.endswith("/") or len(sources) > 1 else target
        to.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, to, ignore=ignore)
        else:
            shutil.copy2(origin, to)


def _run(command: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> None:
    done = subprocess.run(["bash", "-ec", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def _runtime_env(context, mapped, extra: dict[str, str]) -> dict[str, str]:
    """The ENV in force at an instruction, paths mapped; PATH ends with the OS's own folders."""
    env = {k: mapped(v) for k, v in _env(context).items()}
    env["PATH"] = env.get("PATH", "").rstrip(":") + ":/usr/bin:/bin"
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("uv") is None and not (Path.home() / ".local/bin/uv").exists(),
                    reason="uv is needed to run the build stage")
def test_the_install_steps_give_a_service_that_needs_its_api_key(tmp_path):
    mapped = _mapper(tmp_path)
    uv_dir = str(Path(shutil.which("uv") or Path.home() / ".local/bin/uv").parent)
    build, *_, runtime = _stages()
    base_env = {"HOME": str(Path.home()), "LANG": "C.UTF-8"}  # HOME: pip's and uv's download caches
    base_env.update({k: v for k, v in os.environ.items() if k in NETWORK})

    # build stage: COPY what it copies into a folder of its own, run its commands there
    workdir = tmp_path
    for item, context in build:
        kind, value = item["instruction"], item["value"]
        if kind == "WORKDIR":
            workdir = Path(mapped(value))
            workdir.mkdir(parents=True, exist_ok=True)
        elif kind == "COPY":
            _copy(value, workdir, mapped)
        elif kind == "RUN":
            if re.fullmatch(r"pip install uv==[\d.]+", value.strip()):
                continue  # uv is already here
            env = {**_env(context), **base_env, "PATH": f"{uv_dir}:/usr/bin:/bin", "UV_PYTHON": sys.executable}
            _run(mapped(value), workdir, env)
    wheels = list((tmp_path / "dist").glob("compensa-*.whl"))
    assert len(wheels) == 1 and (tmp_path / "dist" / "requirements.txt").exists()

    # runtime stage: what it copies from the build stage is where the build stage left it; its checks
    venv = None
    for item, context in runtime:
        kind, value = item["instruction"], item["value"]
        if kind == "COPY":
            words = value.split()
            assert words[0] == "--from=build" and words[-2] == words[-1], "COPY --from=build: the same folder"
            venv = Path(mapped(words[-1]))
        elif kind == "RUN" and not value.strip().startswith(OS_COMMANDS):
            _run(mapped(value), tmp_path, _runtime_env(context, mapped, base_env))
    assert venv is not None and (venv / "bin" / "compensa").exists()

    # compensa serve with the image's ENV (paths mapped under tmp_path, a free port instead of 8000)
    env = _runtime_env(runtime[-1][1], mapped, {"LANG": "C.UTF-8"})
    env.update(HOME=str(tmp_path / "nonexistent"), COMPENSA_PORT=str(_free_port()))
    workdir = Path(mapped(_all(runtime, "WORKDIR")[-1]))
    workdir.mkdir(parents=True, exist_ok=True)
    where = subprocess.run(["python", "-c", "import compensa; print(compensa.__file__)"], cwd=workdir, env=env,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(venv)), f"compensa should come from the wheel: {where.stdout}{where.stderr}"

    command = _exec_form(_one(runtime, "CMD"))
    refused = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "COMPENSA_API_KEYS" in refused.stderr, refused.stderr

    env["COMPENSA_API_KEYS"] = KEY
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    try:
        probe = _exec_form(_one(runtime, "HEALTHCHECK").split("CMD", 1)[1])
        started, healthy = time.monotonic(), False
        while time.monotonic() - started < 90:
            assert process.poll() is None, log_path.read_text()[-3000:]
            if subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode == 0:
                healthy = True
                break
            time.sleep(0.5)
        assert healthy, "the HEALTHCHECK never passed:\n" + log_path.read_text()[-3000:]
        print(f"serve healthy after {time.monotonic() - started:.1f} s")
        url = f"http://127.0.0.1:{env['COMPENSA_PORT']}"
        case = {"pain": ["lateral_knee:right"], "tests": ["ober_test:positive:right"]}
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            answered = client.post("/v1/consult", json=case, headers={"X-API-Key": KEY})
            assert answered.status_code == 200 and answered.json()["triage"]["level"], answered.text
            refused = client.post("/v1/consult", json=case)
            assert refused.status_code == 401 and "www-authenticate" in refused.headers
            assert client.post("/v1/consult", json=case, headers={"X-API-Key": KEY + "x"}).status_code == 401
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert process.returncode == 0
    log = log_path.read_text()
    assert KEY not in log
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert records and any("serving on http://0.0.0.0:" in r["message"] for r in records), log[-2000:]
