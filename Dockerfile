# compensa's HTTP service: the API, the web page and CDS Hooks, with the bundled knowledge base.
#
#   docker build -t compensa .
#   docker run -p 8000:8000 -e COMPENSA_API_KEYS="$(openssl rand -hex 24)" compensa
#
# Settings are COMPENSA_* variables (README, "Deployment"). Bound to 0.0.0.0, the service refuses
# to start without COMPENSA_API_KEYS (or COMPENSA_INSECURE_NO_AUTH=true behind a proxy that
# authenticates). No image has been built from this file where it was written (no container engine
# runs there): tests/test_dockerfile.py parses it and runs its install steps here.
#
# The base is pinned to an exact patch release. Its digest is not pinned: it could not be resolved
# offline. Pin it where a registry is reachable (`docker buildx imagetools inspect
# python:3.11.15-slim-bookworm`), as `FROM python:3.11.15-slim-bookworm@sha256:...`, in both stages.

# --- build: the wheel, and a virtualenv with it and the locked versions of the server extra -------
FROM python:3.11.15-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy
RUN pip install uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY compensa ./compensa
COPY kb ./kb
COPY facts ./facts
COPY engine ./engine
COPY visualize ./visualize
COPY app ./app
# uv.lock decides every version (pip alone would resolve experta's broken frozendict==1.2 pin), the
# hashes refuse any other file, and the bytecode is compiled now (the root file system is read-only)
RUN uv export --frozen --no-dev --extra server --no-emit-project --format requirements-txt \
        --output-file /dist/requirements.txt \
 && uv build --wheel --out-dir /dist \
 && uv venv /opt/venv \
 && uv pip install --python /opt/venv/bin/python --no-deps --require-hashes --compile-bytecode \
        --requirement /dist/requirements.txt \
 && uv pip install --python /opt/venv/bin/python --no-deps --compile-bytecode /dist/compensa-*.whl

# --- runtime: Python, Graphviz and the virtualenv; no build tools ---------------------------------
FROM python:3.11.15-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Graphviz's dot draws the explanation graphs (SVG); without it the service answers DOT
RUN apt-get update \
 && apt-get install -y --no-install-recommends graphviz \
 && rm -rf /var/lib/apt/lists/*

# a numeric, unprivileged user; /data is where the audit log goes (a volume in compose.yaml)
RUN groupadd --system --gid 10001 compensa \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin compensa \
 && mkdir -p /data \
 && chown 10001:10001 /data

# compensa with its locked dependencies; the KB is package data of the wheel (or mount one: COMPENSA_KB)
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN compensa --version \
 && python -c "import compensa.app.http, compensa.app.settings"

# what `compensa serve` reads when no option is given (every COMPENSA_* setting: README)
ENV COMPENSA_HOST=0.0.0.0 \
    COMPENSA_PORT=8000 \
    COMPENSA_WORKERS=1 \
    COMPENSA_LOG_FORMAT=json \
    XDG_CACHE_HOME=/tmp/cache

USER 10001:10001
WORKDIR /data
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('COMPENSA_PORT', '8000') + '/healthz', timeout=4)"]

CMD ["compensa", "serve"]
