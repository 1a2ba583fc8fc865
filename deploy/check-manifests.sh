#!/usr/bin/env bash
# check-manifests.sh: validates docker-compose.yml, ip_list.txt, the Dockerfile and
# deploy/k8s/*.yaml against each other (deploy/check_manifests.py says what it checks).
# Needs a Python 3 with PyYAML: the one on PATH, else Debian's /usr/bin/python3
# (docker-compose v1 depends on python3-yaml, so it is there wherever v1 is).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
        exec "$py" "$here/check_manifests.py" "$@"
    fi
done
echo "check-manifests: FAIL: no python3 with PyYAML (apt-get install python3-yaml)"
echo "0 passed, 1 failed"
exit 1
