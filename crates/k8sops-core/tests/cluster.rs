//! Cluster construction errors are typed and name what to fix.

use k8sops_core::{Cluster, Error};

async fn write(contents: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    tokio::fs::write(&path, contents).await.unwrap();
    (dir, path)
}

const GOOD: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "http://127.0.0.1:1"}
users:
- name: u
  user: {token: abc}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
"#;

#[tokio::test]
async fn missing_kubeconfig_is_a_read_error() {
    let err = Cluster::from_kubeconfig("/definitely/not/here", None).await.unwrap_err();
    assert!(matches!(err, Error::KubeconfigRead { .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_kubeconfig_is_invalid() {
    let (_d, path) = write("clusters: [this is: not: valid").await;
    let err = Cluster::from_kubeconfig(&path, None).await.unwrap_err();
    assert!(matches!(err, Error::KubeconfigInvalid { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_context_lists_the_available_ones() {
    let (_d, path) = write(GOOD).await;
    let err = Cluster::from_kubeconfig(&path, Some("prod")).await.unwrap_err();
    match err {
        Error::UnknownContext { context, available } => {
            assert_eq!(context, "prod");
            assert_eq!(available, ["ctx"]);
        }
        other => panic!("expected UnknownContext, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_server_names_the_url() {
    let (_d, path) = write(GOOD).await;
    let cluster = Cluster::from_kubeconfig(&path, None).await.unwrap();
    let cluster = cluster.to_builder().retry(k8sops_core::RetryPolicy::none()).build();
    let err = cluster.server_version().await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn missing_backends_say_how_to_attach_them() {
    let (_d, path) = write(GOOD).await;
    let cluster = Cluster::from_kubeconfig(&path, None).await.unwrap();
    let err = cluster.node_groups().unwrap_err();
    assert!(err.to_string().contains("Cluster::builder().node_groups"), "{err}");
}
