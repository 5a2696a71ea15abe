#!/usr/bin/env bash
# Gradescope runs this once, as root on its Ubuntu image, when it builds the autograder.
# The autograder zip holds: setup.sh, run_autograder, cases/ (your case files) and
# gradcheck_lab/ (a copy of this project: its pyproject.toml and its gradcheck_lab package).
set -euo pipefail
source_dir="${AUTOGRADER_ROOT:-/autograder}/source"

apt-get update
apt-get install -y python3 python3-pip util-linux   # util-linux: unshare, for the no-network layer
python3 -m pip install --upgrade pip
python3 -m pip install "$source_dir/gradcheck_lab"

# Compute the answer keys once, now, so that no submission waits for SymPy.
python3 -m gradcheck_lab check "$source_dir/cases" --cache-dir "$source_dir/answer_keys" \
    --report-dir /tmp/gradcheck-warm-up --quiet
