# compensa — `make demo` and `make test` install whatever is missing first.
PY := .venv/bin/python
OUT ?= out

.PHONY: install install-test demo test check lint bench bench-http bench-instructions bench-batch test-ray serve clean

install:
	@bash scripts/ensure-tools.sh

install-test:
	@bash scripts/ensure-tools.sh --browser

demo: install
	@mkdir -p $(OUT)
	@$(PY) -m compensa demo --graph $(OUT)/demo-explanation.svg

# the suite runs on every core (pytest-xdist), one test file per worker so module fixtures (a live
# server, a browser) are built once per file: on 2 cores this takes the suite from ~11 to ~7 minutes
test: install-test
	@$(PY) -m pytest -q -n auto --dist loadfile
	@$(PY) -m compensa eval

# Static checks on the code as it is installed (compensa.kb, compensa.engine, ...): ruff, mypy and the
# import-linter layer contracts (facts/kb <- engine <- visualize <- app; experta in one module).
check: install
	@bash scripts/tools-tree.sh
	@$(PY) -m ruff check .
	@cd .tools/src && ../../$(PY) -m mypy --config-file ../../pyproject.toml -p compensa
	@cd .tools/src && PYTHONPATH=$$PWD ../../.venv/bin/lint-imports ../../pyproject.toml --no-cache --no-logo

lint: install
	@$(PY) -m compensa kb lint

# bench adds the `bench` extra (clipspy, for the CLIPS anchor) to the locked environment; a later
# `make install`/`make test` syncs the default set again and removes it (the bench then skips CLIPS).
bench: install
	@PATH="$$HOME/.local/bin:$$PATH"; if command -v uv >/dev/null 2>&1; then uv sync --locked --quiet --extra bench; \
	  else python3 -m uv sync --locked --quiet --extra bench; fi
	@$(PY) bench/run.py

# HTTP load with wrk: `install` plus wrk (installed when root or passwordless sudo allows; else it says how)
bench-http:
	@bash scripts/ensure-tools.sh --wrk
	@$(PY) bench/http_load.py

# instructions per typical consultation by stage (valgrind's cachegrind): a measure the machine's speed
# does not move; BASE=<checkout> (e.g. a git worktree of an older commit) counts it too, side by side
bench-instructions: install
	@$(PY) bench/instructions.py $(if $(BASE),--base $(BASE))

# compensa batch throughput: local --jobs 1 and 2 and Dask with 2 workers, in one run (about a minute)
bench-batch: install
	@$(PY) bench/batch_throughput.py

# compensa batch --engine ray: Ray is a heavy optional extra (about 550 MB), so it gets an environment of
# its own (.venv-ray) and this target, outside `make test`.
test-ray: install
	@PATH="$$HOME/.local/bin:$$PATH"; UV_PROJECT_ENVIRONMENT=.venv-ray uv sync --locked --quiet --extra ray
	@RAY_USAGE_STATS_ENABLED=0 .venv-ray/bin/python -m pytest -q tests/engine/test_batch.py tests/app/test_batch_cli.py

serve: install
	@$(PY) -m compensa serve

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis .tools
