#!/usr/bin/env bash
# A real etcd for the tests, on 127.0.0.1 with TLS and client-certificate auth.
#   scripts/etcd.sh start DIR   makes a CA, server and client certificates in DIR,
#                               starts etcd on free ports and writes DIR/env
#                               (K8SOPS_ETCD_ENDPOINT, _CACERT, _CERT, _KEY, _DATA_DIR)
#   scripts/etcd.sh stop DIR    stops it
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cmd=${1:?start or stop}
dir=${2:?directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [[ $cmd == stop ]]; then
  [[ -f $dir/etcd.pid ]] && kill "$(cat "$dir/etcd.pid")" 2>/dev/null || true
  rm -f "$dir/etcd.pid"
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cd "$dir"
if [[ ! -f ca.pem ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 30 -subj "/CN=k8sops-test-etcd-ca" 2>/dev/null
  for who in server client; do
    openssl req -newkey rsa:2048 -nodes -keyout "$who-key.pem" -out "$who.csr" -subj "/CN=k8sops-$who" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$who.ext"
    openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out "$who.pem" -days 30 -extfile "$who.ext" 2>/dev/null
  done
  # A certificate from another CA: the wrong-certificate tests use it.
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other-key.pem -out other.pem -days 30 -subj "/CN=k8sops-other" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
  chmod 600 ./*-key.pem
fi

"$self" stop "$dir"
rm -rf "$dir/data"
client_port=$(free_port)
peer_port=$(free_port)
etcd --name k8sops-test --data-dir "$dir/data" \
  --listen-client-urls "https://127.0.0.1:$client_port" --advertise-client-urls "https://127.0.0.1:$client_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "k8sops-test=http://127.0.0.1:$peer_port" \
  --cert-file "$dir/server.pem" --key-file "$dir/server-key.pem" --trusted-ca-file "$dir/ca.pem" --client-cert-auth \
  --quota-backend-bytes 4294967296 >"$dir/etcd.log" 2>&1 &
echo $! >"$dir/etcd.pid"

endpoint="https://127.0.0.1:$client_port"
for _ in $(seq 1 100); do
  if ETCDCTL_API=3 etcdctl --endpoints "$endpoint" --cacert "$dir/ca.pem" --cert "$dir/client.pem" --key "$dir/client-key.pem" \
    endpoint health >/dev/null 2>&1; then
    cat >"$dir/env" <<EOF
export K8SOPS_ETCD_ENDPOINT=$endpoint
export K8SOPS_ETCD_CACERT=$dir/ca.pem
export K8SOPS_ETCD_CERT=$dir/client.pem
export K8SOPS_ETCD_KEY=$dir/client-key.pem
export K8SOPS_ETCD_OTHER_CERT=$dir/other.pem
export K8SOPS_ETCD_OTHER_KEY=$dir/other-key.pem
export K8SOPS_ETCD_DATA_DIR=$dir/data
EOF
    echo "$endpoint"
    exit 0
  fi
  sleep 0.1
done
echo "etcd did not become healthy; log:" >&2
tail -20 "$dir/etcd.log" >&2
exit 1
