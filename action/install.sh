#!/usr/bin/env bash
# Installs b2ckeys from a checkout of its repository into a virtual environment, with every
# dependency pinned by hash (requirements.lock.txt): no unpinned download at all.
# Used by the GitHub Action (action.yml) and the Azure DevOps example.
#   install.sh CHECKOUT VENV [PYTHON]
# A VENV already installed from the same checkout and lock is kept (the action used twice in a job).
set -euo pipefail
checkout=$(cd "$1" && pwd)
venv=$2
python=${3:-python3}
lock="$checkout/requirements.lock.txt"
stamp="$venv/.b2ckeys-install"
want="$checkout $("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$lock")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/b2ckeys" ]; then
  echo "b2ckeys is already installed in $venv"
  exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input --quiet)
"${pip[@]}" install --require-hashes --no-deps -r "$lock"
"${pip[@]}" install --no-deps --no-build-isolation "$checkout"
"$venv/bin/b2ckeys" --version
printf '%s' "$want" > "$stamp"
