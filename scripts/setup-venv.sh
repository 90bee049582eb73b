#!/usr/bin/env bash
# Creates .venv with the independent oracles the tests use (pinned in Tests/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python3 ] || ! .venv/bin/python3 -c 'import minidump, pefile, lief, symstore, symbolic, kdmp_parser, cabarchive, moto.server' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r Tests/requirements.txt
fi
.venv/bin/python3 -c 'import minidump, pefile, lief, symstore, symbolic, kdmp_parser, cabarchive, moto.server; print("oracles ready")'
