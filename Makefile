# compensa — `make demo` and `make test` install whatever is missing first.
PY := .venv/bin/python
OUT ?= out

.PHONY: install install-test demo test lint bench bench-http serve clean

install:
	@bash scripts/ensure-tools.sh

install-test:
	@bash scripts/ensure-tools.sh --browser

demo: install
	@mkdir -p $(OUT)
	@$(PY) -m compensa demo --graph $(OUT)/demo-explanation.svg

test: install-test
	@$(PY) -m pytest -q

lint: install
	@$(PY) -m compensa kb lint

bench: install
	@$(PY) bench/run.py

bench-http: install
	@$(PY) bench/http_load.py

serve: install
	@$(PY) -m compensa serve

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
