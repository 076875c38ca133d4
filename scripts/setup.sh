#!/usr/bin/env bash
# Everything a fresh machine needs before building: the wasm32-wasip2 target (rustup does
# not install it from rust-toolchain.toml here, RUSTUP_AUTO_INSTALL=0), the PostgreSQL
# binaries check, poppler for the invoice PDF tests and Stripe's Python library into target/py
# (the payments suite). Idempotent; sourced by run-demo.sh and test.sh.
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

# Stripe's official Python library, for the payments suite's independent check of Stripe's
# webhook signature scheme (tests/tests/testsuite/payments.rs fails without it).
if ! [ -d target/py/stripe ]; then
  echo "setup: installing Stripe's Python library into target/py" >&2
  python3 -m pip install --quiet --target target/py stripe
fi
