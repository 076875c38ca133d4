#!/usr/bin/env bash
# Everything a fresh machine needs before building: the wasm32-wasip2 target (rustup does
# not install it from rust-toolchain.toml here, RUSTUP_AUTO_INSTALL=0), the PostgreSQL
# binaries check, poppler for the invoice PDF tests, and into target/py the Stripe, Standard
# Webhooks and schemathesis Python libraries and componentize-py (the payments, webhooks,
# api_schemas and Python-module suites). Idempotent; sourced by run-demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup target list --installed --toolchain "$toolchain" | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target to $toolchain" >&2
  rustup target add --toolchain "$toolchain" wasm32-wasip2
fi

if [ -z "${DATABASE_URL:-}" ] && ! command -v initdb >/dev/null 2>&1 \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: no PostgreSQL binaries found; installing postgresql from Debian" >&2
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi

# The invoice-pdf tests read their PDFs back with poppler (pdfinfo, pdftotext) and look at
# page 1 as a picture (pdftoppm); the URW fonts give poppler Helvetica's metric twin to draw.
if ! command -v pdftoppm >/dev/null 2>&1; then
  echo "setup: no pdftoppm found; installing poppler-utils and fonts-urw-base35 from Debian" >&2
  apt-get update -qq && apt-get install -y -qq poppler-utils fonts-urw-base35 >/dev/null
fi

# The official Python libraries of Stripe and Standard Webhooks, for the independent checks
# of our webhook signatures (the payments and webhooks suites fail without them), and
# schemathesis, which fuzzes the API from its OpenAPI document (the api_schemas suite).
for package in stripe standardwebhooks schemathesis; do
  if ! [ -d "target/py/$package" ]; then
    echo "setup: installing the Python package $package into target/py" >&2
    python3 -m pip install --quiet --target target/py "$package"
  fi
done

# componentize-py builds Python domain modules into components (scripts/build-python-module.sh:
# the Python CRM twin and `verofield module new --lang python`). Pinned: its generated
# bindings and its `exports` interface are what the host was checked against.
componentize_py=0.25.1
if ! [ -d "target/py/componentize_py-$componentize_py.dist-info" ]; then
  echo "setup: installing componentize-py $componentize_py into target/py" >&2
  python3 -m pip install --quiet --upgrade --target target/py "componentize-py==$componentize_py"
fi
