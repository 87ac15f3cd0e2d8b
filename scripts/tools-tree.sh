#!/usr/bin/env bash
# Lay out .tools/src/compensa like the built package (compensa/ plus kb/, facts/, engine/, visualize/
# and app/ as compensa.kb, ...) with links, so mypy and import-linter see the installed names.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .tools/src
mkdir -p .tools/src/compensa
for f in compensa/*; do ln -s "$PWD/$f" ".tools/src/compensa/$(basename "$f")"; done
for d in kb facts engine visualize app; do ln -s "$PWD/$d" ".tools/src/compensa/$d"; done
