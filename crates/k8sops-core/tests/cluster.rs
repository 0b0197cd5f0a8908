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

#[tokio::test]
async fn unreachable_server_keeps_the_io_error_as_its_source() {
    let (_d, path) = write(GOOD).await;
    let cluster = Cluster::from_kubeconfig(&path, None).await.unwrap();
    let cluster = cluster.to_builder().retry(k8sops_core::RetryPolicy::none()).build();
    let err = cluster.server_version().await.unwrap_err();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    let mut refused = false;
    while let Some(e) = cur {
        refused |=
            e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        cur = e.source();
    }
    assert!(refused, "the connection-refused io::Error is in the source chain: {err:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_naming_the_read_timeout() {
    // Accepts connections and never writes a byte.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    let read = std::time::Duration::from_millis(300);
    let timeouts = k8sops_core::Timeouts { connect: Some(std::time::Duration::from_secs(2)), read: Some(read) };
    let cluster = Cluster::from_config_with(config, timeouts).unwrap();
    let cluster = cluster.to_builder().retry(k8sops_core::RetryPolicy::none()).build();
    let started = std::time::Instant::now();
    let err = cluster.server_version().await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "bounded by the read timeout");
    match &err {
        Error::Timeout { after, .. } => assert_eq!(*after, read, "{err}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("300ms"), "{err}");
    hold.abort();
}

#[tokio::test]
async fn default_clients_have_connect_and_read_timeouts() {
    let config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
    let cluster = Cluster::from_config(config).unwrap();
    assert!(cluster.timeouts().connect.is_some() && cluster.timeouts().read.is_some());
}
