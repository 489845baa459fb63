#!/usr/bin/env bash
# Checks the deploy files as far as a machine without Docker or Kubernetes can: HAProxy's own
# config check, docker-compose's parse of compose.yaml, and every resource that
# deploy/k8s/kustomization.yaml lists against the Kubernetes API's schemas (strict: unknown
# fields fail). Not checked here: the Dockerfile's build (no Docker engine) and kustomize's own
# rendering (no kubectl in the registries we can reach). Monitoring: promtool checks the alert
# rules and the scrape config, and the Grafana dashboard must be JSON (that each metric it names
# exists is a test of the server: server/tests/api/analytics.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${KINO_TOOLS_DIR:-$HOME/.cache/kino/tools}"

haproxy -c -q -f deploy/haproxy.cfg
docker-compose -f compose.yaml config -q
promtool check rules deploy/prometheus/alerts.yml >/dev/null
promtool check config deploy/prometheus/prometheus.yml >/dev/null
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["panels"], "no panels"' \
  deploy/grafana/kino.json

resources=()
in_resources=0
while IFS= read -r line; do
  case "$line" in
    resources:*) in_resources=1 ;;
    "  - "*) if [ "$in_resources" = 1 ]; then resources+=("deploy/k8s/${line#  - }"); fi ;;
    [a-z]*) in_resources=0 ;;
  esac
done < deploy/k8s/kustomization.yaml
if [ "${#resources[@]}" -lt 7 ]; then
  echo "deploy/k8s/kustomization.yaml lists ${#resources[@]} resources; expected at least 7" >&2
  exit 1
fi
for file in "${resources[@]}"; do
  [ -f "$file" ] || { echo "kustomization.yaml lists $file, which is missing" >&2; exit 1; }
done
"$tools/kubernetes-validate/bin/kubernetes-validate" --strict --quiet "${resources[@]}"
echo "deploy files: HAProxy, compose, Prometheus rules, Grafana and ${#resources[@]} Kubernetes resources are valid"
