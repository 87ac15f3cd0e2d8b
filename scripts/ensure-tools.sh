#!/usr/bin/env bash
# Install what compensa needs and is missing: uv, the locked Python dependencies, Graphviz's `dot`,
# (with --browser) Chromium for the browser tests and (with --wrk) the wrk load generator for
# `make bench-http`. Safe to run again: it only adds what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_wrk=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --wrk) want_wrk=1 ;;
  esac
done

say() { printf '[compensa setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$apt_updated" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. uv
UV=$(command -v uv || true)
if [ -z "$UV" ] && [ -x "$HOME/.local/bin/uv" ]; then UV="$HOME/.local/bin/uv"; fi
if [ -z "$UV" ]; then
  say "installing uv with pip"
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
  UV=$(command -v uv || true)
  [ -z "$UV" ] && [ -x "$HOME/.local/bin/uv" ] && UV="$HOME/.local/bin/uv"
  [ -z "$UV" ] && UV="python3 -m uv"
fi

# 2. the locked Python environment (.venv)
$UV sync --locked --quiet

# 3. Graphviz's dot (optional: without it compensa writes DOT instead of SVG/PNG)
if ! command -v dot >/dev/null 2>&1; then
  say "Graphviz 'dot' not found: installing the graphviz package"
  if ! apt_install graphviz; then
    say "could not install Graphviz (needs root and apt-get). compensa still works and writes DOT files;"
    say "install Graphviz (e.g. 'sudo apt-get install graphviz') to get SVG and PNG."
  fi
fi

# 3b. the libraries WeasyPrint draws PDFs with (handouts and clinician reports; HTML works without them)
# (read into variables first: `grep -q` closing a pipe early would fail the pipeline under pipefail)
libraries=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
fonts=$(fc-list 2>/dev/null || true)
if [[ $libraries != *libpangoft2-1.0.so.0* || $libraries != *libharfbuzz-subset.so.0* || -z $fonts ]]; then
  say "Pango, HarfBuzz or fonts not found: installing them for PDF handouts and reports"
  apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig fonts-dejavu-core \
    || say "could not install them (needs root and apt-get); handouts and reports can still be written as HTML."
fi

# 4. Chromium for the browser tests (only with --browser)
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  say "Chromium not found: installing chromium for the browser tests"
  apt_install chromium chromium-driver || say "could not install Chromium; browser tests will be skipped."
fi

# 4b. axe-core, the accessibility checker the browser tests run in the page (only with --browser)
AXE_VERSION=4.14.1
if [ "$want_browser" = 1 ] && [ ! -f .tools/node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null 2>&1; then
    say "installing axe-core $AXE_VERSION (npm) for the accessibility checks of the browser tests"
    mkdir -p .tools
    npm install --silent --no-audit --no-fund --prefix .tools "axe-core@$AXE_VERSION" >/dev/null 2>&1 \
      || say "could not install axe-core; the accessibility checks will be skipped."
  else
    say "npm not found: the accessibility checks of the browser tests will be skipped (install Node.js and npm)."
  fi
fi

# 5. wrk, the HTTP load generator of `make bench-http` (only with --wrk)
if [ "$want_wrk" = 1 ] && ! command -v wrk >/dev/null 2>&1; then
  say "wrk not found: installing the wrk package for the HTTP benchmark"
  if ! apt_install wrk; then
    say "could not install wrk (needs root, or sudo without a password, and apt-get)."
    say "install it with 'sudo apt-get install wrk', then run 'make bench-http' again."
    exit 1
  fi
fi
exit 0
