#!/usr/bin/env bash
# The whole k8sops test suite, from a fresh Debian machine:
#   1. installs what is missing (scripts/install-deps.sh),
#   2. starts the real kube-apiserver + controller manager from ../shared/k8s
#      (when present), the real single node (../shared/k8s/node: scheduler,
#      kubelet, containerd), moto's AWS emulator and etcd (TLS) on 127.0.0.1,
#   3. runs every test of every crate with all features,
#   4. stops what it started.
# When it starts the real API server it also sets K8SOPS_REQUIRE_E2E=1: an
# end-to-end test whose real server, moto or kubectl is missing then fails
# instead of reporting itself skipped (docs/testing.md).
# Extra arguments go to `cargo test` (e.g. `./scripts/test.sh -p k8sops-core`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/install-deps.sh

# Build every test first. The servers below then run only while the tests do,
# not through a long compile that loads the machine and fills its disk (the
# kubelet taints a node short of disk, and its pods then stay Pending).
cargo test --workspace --all-features --no-run "$@"
df -h "$ROOT/target" | tail -1 | awk '{print "disk after the build: " $4 " free of " $2}'

NODE_RUN=$ROOT/target/k8s-node
kn() { kubectl --kubeconfig "$NODE_RUN/admin.kubeconfig" "$@"; }

# Runs one busybox pod to completion on the real node: true when pods really
# run there (scheduled, image present, container started and ended).
node_runs_pods() {
  kn delete pod k8sops-smoke -n default --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1 || true
  # A pod needs its namespace's default ServiceAccount, which a controller makes.
  for _ in $(seq 1 60); do
    kn get serviceaccount default -n default >/dev/null 2>&1 && break
    sleep 0.5
  done
  kn run k8sops-smoke -n default --image=localhost/busybox:1.35 --image-pull-policy=Never \
    --restart=Never --command -- true >/dev/null 2>&1 || return 1
  local ok=1
  kn wait -n default pod/k8sops-smoke --for=jsonpath='{.status.phase}'=Succeeded --timeout=90s >/dev/null 2>&1 && ok=0
  [[ $ok == 0 ]] || node_diagnostics
  kn delete pod k8sops-smoke -n default --ignore-not-found --wait=false >/dev/null 2>&1 || true
  return $ok
}

# What the real node looks like, for a failure's log: disk, memory, the node's
# conditions and taints, pods, recent events, images and the kubelet's last errors and warnings.
node_diagnostics() {
  echo "== real node diagnostics"
  df -h "$ROOT/target" / 2>&1 | sed 's/^/  /'
  free -m 2>&1 | sed 's/^/  /'
  kn get nodes -o wide 2>&1 | sed 's/^/  /'
  kn get nodes -o jsonpath='{range .items[*]}{.metadata.name} taints={.spec.taints}{"\n"}{range .status.conditions[*]}  {.type}={.status} {.reason}: {.message}{"\n"}{end}{end}' 2>&1 | sed 's/^/  /'
  kn get pods -A -o wide 2>&1 | tail -20 | sed 's/^/  /'
  kn get events -A --sort-by=.lastTimestamp 2>&1 | tail -20 | sed 's/^/  /'
  ctr --address "$NODE_RUN/node/containerd.sock" -n k8s.io images ls -q 2>&1 | grep -v '^sha256:' | sed 's/^/  image: /'
  grep -E '^[EW][0-9]{4} ' "$NODE_RUN/node/logs/kubelet.log" 2>&1 | tail -20 | sed 's/^/  kubelet: /'
}

cleanup() {
  [[ -n ${MOTO_PID:-} ]] && kill "$MOTO_PID" 2>/dev/null || true
  [[ -n ${ETCD_STARTED:-} ]] && "$ROOT/scripts/etcd.sh" stop "$ROOT/target/etcd" >/dev/null 2>&1 || true
  [[ -n ${K8S_STARTED:-} ]] && "$K8S_DIR/stop.sh" "$ROOT/target/k8s-e2e" >/dev/null 2>&1 || true
  [[ -n ${NODE_STARTED:-} ]] && "$K8S_DIR/node/stop-node.sh" "$NODE_RUN" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# A real API server for the end-to-end tests.
K8S_DIR=$(cd "$ROOT/.." && pwd)/shared/k8s
if [[ -x $K8S_DIR/start.sh ]]; then
  "$K8S_DIR/stop.sh" "$ROOT/target/k8s-e2e" >/dev/null 2>&1 || true
  "$K8S_DIR/start.sh" "$ROOT/target/k8s-e2e" >/dev/null
  K8S_STARTED=1
  export K8SOPS_E2E_KUBECONFIG=$ROOT/target/k8s-e2e/admin.kubeconfig
  export K8SOPS_E2E_USER_KUBECONFIG=$ROOT/target/k8s-e2e/user.kubeconfig
  # Servers are up (moto is always started below): no end-to-end test may skip.
  export K8SOPS_REQUIRE_E2E=1
  echo "real API server: $K8SOPS_E2E_KUBECONFIG (K8SOPS_REQUIRE_E2E=1)"
  # A real single-node cluster (scheduler, kubelet, containerd) where pods run,
  # crash and log; its own control plane on other ports. Stopped on exit, also on failure.
  if [[ -x $K8S_DIR/node/start-node.sh ]]; then
    "$K8S_DIR/node/stop-node.sh" "$NODE_RUN" >/dev/null 2>&1 || true
    NODE_STARTED=1
    unset K8SOPS_NODE_KUBECONFIG
    # Its fixed ports (36xxx) lie in Linux's ephemeral range: a client
    # connection of another process can hold one for a moment ("bind: address
    # already in use"). Three attempts before giving up.
    # A node that started must also run a pod before the tests rely on it.
    for attempt in 1 2 3; do
      if "$K8S_DIR/node/start-node.sh" "$NODE_RUN" >"$ROOT/target/k8s-node.log" 2>&1; then
        if node_runs_pods; then
          export K8SOPS_NODE_KUBECONFIG=$NODE_RUN/admin.kubeconfig
          echo "real node: $K8SOPS_NODE_KUBECONFIG (a smoke pod ran to completion)"
          break
        fi
        echo "the real node started but did not run a pod (attempt $attempt)" >&2
      else
        echo "the real node did not start (attempt $attempt, see target/k8s-node.log):" >&2
        tail -5 "$ROOT/target/k8s-node.log" >&2
      fi
      "$K8S_DIR/node/stop-node.sh" "$NODE_RUN" >/dev/null 2>&1 || true
      # A port held by another process's connection is released within seconds.
      [[ $attempt == 3 ]] || sleep 5
    done
    [[ -n ${K8SOPS_NODE_KUBECONFIG:-} ]] || echo "the real node did not start: its tests will fail" >&2
  fi
else
  echo "no ../shared/k8s: end-to-end tests against a real API server will report themselves skipped"
fi

# moto's AWS emulator on a free port.
mkdir -p "$ROOT/target"
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$ROOT/target/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done
export K8SOPS_MOTO_ENDPOINT=http://127.0.0.1:$MOTO_PORT
echo "moto: $K8SOPS_MOTO_ENDPOINT"

# A real etcd with TLS and client-certificate auth (snapshot save and status).
ETCD_STARTED=1
"$ROOT/scripts/etcd.sh" start "$ROOT/target/etcd" >/dev/null
# shellcheck disable=SC1091
. "$ROOT/target/etcd/env"
echo "etcd: $K8SOPS_ETCD_ENDPOINT"

status=0
cargo test --workspace --all-features --no-fail-fast "$@" || status=$?
if [[ $status != 0 && -n ${K8SOPS_NODE_KUBECONFIG:-} ]]; then
  node_diagnostics
fi
exit "$status"
