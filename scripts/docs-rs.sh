#!/usr/bin/env bash
# Builds each library crate's docs alone, as docs.rs does: `DOCS_RS=1`,
# `--no-deps`, and the features its [package.metadata.docs.rs] names
# (all features plus a Kubernetes version of k8s-openapi, which library
# crates do not pick themselves). A crate whose metadata lacks the
# k8s-openapi version feature fails here, as it would on docs.rs.
# (`--cfg docsrs` needs a nightly rustdoc; docs.rs adds it, we cannot.)
set -euo pipefail
cd "$(dirname "$0")/.."
for manifest in crates/*/Cargo.toml; do
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
  meta=$(sed -n '/^\[package.metadata.docs.rs\]/,/^\[/p' "$manifest")
  grep -q 'all-features = true' <<<"$meta" || { echo "FAIL: $crate: docs.rs metadata lacks all-features = true" >&2; exit 1; }
  features=$(sed -n 's/^features = \[\(.*\)\]/\1/p' <<<"$meta" | tr -d '" ' )
  [[ $features == *k8s-openapi/latest* ]] || { echo "FAIL: $crate: docs.rs metadata lacks features = [\"k8s-openapi/latest\"]" >&2; exit 1; }
  echo "docs.rs build: $crate (features: $features)"
  DOCS_RS=1 RUSTDOCFLAGS="-D warnings" cargo doc -p "$crate" --no-deps --all-features --features "$features" --quiet
done
echo "docs.rs builds ok"
