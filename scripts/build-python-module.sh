#!/usr/bin/env bash
# Builds a Python domain module into a component with componentize-py (pinned and installed
# into target/py by scripts/setup.sh): `scripts/build-python-module.sh DIR OUT.wasm` takes
# the module's folder (its entry point is DIR/app.py, which binds `Module`) and writes the
# component. A third argument names another world of wit/platform.wit: `extension` builds an
# extension (plugins/extensions/*-python, whose app.py binds `Hook`). `--stub-wasi` replaces
# every WASI import with a trapping stub, so the component
# imports only our world (the host refuses uploads that import wasi:filesystem or sockets);
# the SDK (plugins/sdk-python) is on the module path. About 15 s and 18 MB.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir=$1
out=$2
world=${3:-domain-module}
if ! [ -d "$root/target/py/componentize_py" ]; then
  echo "componentize-py is not installed in target/py: run scripts/setup.sh" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
PYTHONPATH="$root/target/py" python3 -c 'import sys, componentize_py; sys.argv[0] = "componentize-py"; componentize_py.script()' \
  --quiet -d "$root/wit" -w "$world" componentize --stub-wasi \
  -p "$dir" -p "$root/plugins/sdk-python" app -o "$out"
