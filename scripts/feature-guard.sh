#!/usr/bin/env bash
# A build without the `aws`/`etcd` features must not compile the AWS SDK or
# tonic; with them it must. The facade also builds with each area alone.
set -euo pipefail
cd "$(dirname "$0")/.."
heavy='aws-sdk-|aws-config|aws-smithy|tonic|etcd-client|prost'
for crate in k8sops k8sops-core k8sops-nodes k8sops-metrics k8sops-diagnose k8sops-backup k8sops-upgrade k8sops-audit k8sops-testkit; do
  if cargo tree -p "$crate" -e normal --prefix none | grep -E "^($heavy)" >/dev/null; then
    echo "FAIL: $crate pulls the AWS SDK or gRPC without its features:" >&2
    cargo tree -p "$crate" -e normal -i tonic 2>/dev/null | head -5 >&2 || true
    exit 1
  fi
done
cargo tree -p k8sops -e normal --features aws --prefix none | grep -q '^aws-sdk-eks' || { echo "FAIL: feature aws does not bring aws-sdk-eks" >&2; exit 1; }
cargo tree -p k8sops -e normal --features etcd --prefix none | grep -q '^etcd-client' || { echo "FAIL: feature etcd does not bring etcd-client" >&2; exit 1; }
# The facade builds warning-free with no area at all and with each area alone.
for f in "" nodes metrics diagnose backup upgrade audit; do
  echo "k8sops with default-features = false, features = [${f}]"
  cargo clippy -p k8sops --no-default-features --features "$f k8s-openapi/latest" --quiet -- -D warnings
done
echo "feature guard ok"
