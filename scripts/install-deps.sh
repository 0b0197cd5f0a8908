#!/usr/bin/env bash
# Installs what the k8sops tests need on a Debian machine, skipping what is
# already there: protoc (etcd-client's build), etcd and etcdctl, the tools the
# real API server's start script uses, moto's AWS emulator and the AWS CLI.
set -euo pipefail

missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v xz >/dev/null || missing+=(xz-utils)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time) # GNU time: peak RSS in the capacity bench
command -v ip >/dev/null || missing+=(iproute2)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's system Python refuses a system-wide pip install (PEP 668) unless told;
# this is a test machine's tooling, not an application's environment.
export PIP_BREAK_SYSTEM_PACKAGES=1

# The tests run `python3 -m moto.server`, so no console-script shim is needed.
if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
  echo "installing: moto[server]"
  python3 -m pip install -q 'moto[server]>=5,<6'
fi

# The AWS CLI: the oracle for the EKS configuration backup.
if ! command -v aws >/dev/null; then
  echo "installing: awscli"
  python3 -m pip install -q 'awscli>=1.30'
fi

command -v kubectl >/dev/null || echo "warning: kubectl is not installed; the kubectl oracle tests will fail" >&2
