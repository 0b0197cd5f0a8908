//! Container logs: `kubectl logs [-c] [--previous] [--tail] [--since]
//! [--timestamps] [--limit-bytes] [-f]`. (`kubectl exec` is out of scope:
//! it needs a streaming upgrade the testkit does not serve, and the ops
//! guide only uses it for `df -h`, which node metrics cover.)

use std::time::Duration;

use futures::{AsyncBufReadExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8sops_core::Cluster;
use kube::Api;

use crate::Result;

/// Options for [`logs`] and [`follow_logs`], as `kubectl logs` flags.
///
/// ```
/// use std::time::Duration;
/// // kubectl logs POD -c app --previous --tail=100 --since=10m --timestamps
/// let options = k8sops_diagnose::LogOptions {
///     container: Some("app".into()),
///     previous: true,
///     tail_lines: Some(100),
///     since: Some(Duration::from_secs(600)),
///     timestamps: true,
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `-c`: the container (required for pods with several).
    pub container: Option<String>,
    /// `--previous`: the last terminated instance.
    pub previous: bool,
    /// `--tail`.
    pub tail_lines: Option<i64>,
    /// `--since`.
    pub since: Option<Duration>,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--limit-bytes`.
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    fn params(&self, follow: bool) -> kube::api::LogParams {
        kube::api::LogParams {
            container: self.container.clone(),
            previous: self.previous,
            tail_lines: self.tail_lines,
            since_seconds: self.since.map(|d| d.as_secs() as i64),
            timestamps: self.timestamps,
            limit_bytes: self.limit_bytes,
            follow,
            ..Default::default()
        }
    }
}

/// A container's log, whole. A pod with several containers needs
/// `container`; a missing previous instance is an error that says so.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// server.append_log("legacy", "debug-shell", "shell", false, "started\nready");
/// let text = k8sops_diagnose::logs(&server.cluster(), "legacy", "debug-shell", &Default::default()).await?;
/// assert_eq!(text, "started\nready\n");
/// # Ok(()) }
/// ```
pub async fn logs(cluster: &Cluster, namespace: &str, pod: &str, options: &LogOptions) -> Result<String> {
    let api: Api<Pod> = cluster.api_namespaced(namespace);
    let lp = options.params(false);
    Ok(cluster
        .retry_policy()
        .run(|_| async { api.logs(pod, &lp).await.map_err(|e| cluster.map_err(e, &format!("pod {namespace}/{pod}"))) })
        .await?)
}

/// `kubectl logs -f`: the log's lines as they are written. The stream ends
/// when the server closes it (container gone); drop it to stop. Opening the
/// stream is retried like any request; a broken stream yields an error.
///
/// # Cancel safety
/// Read-only: dropping the stream closes the connection and changes
/// nothing. The stream is read through [`Cluster::stream_client`], which has
/// no read timeout (a quiet container may write nothing for minutes), so a
/// caller that wants a limit drops the stream after it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.load(&k8sops_testkit::DemoCluster::small())?;
/// use futures::StreamExt;
/// server.append_log("legacy", "debug-shell", "shell", false, "started");
/// let cluster = server.cluster();
/// let mut lines = k8sops_diagnose::follow_logs(&cluster, "legacy", "debug-shell", &Default::default()).await?;
/// assert_eq!(lines.next().await.transpose()?.as_deref(), Some("started"));
/// # Ok(()) }
/// ```
pub async fn follow_logs(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    options: &LogOptions,
) -> Result<impl Stream<Item = Result<String>> + use<>> {
    // A quiet container may send nothing for minutes: no read timeout on this stream.
    let api: Api<Pod> = Api::namespaced(cluster.stream_client().clone(), namespace);
    let lp = options.params(true);
    let reader = cluster
        .retry_policy()
        .run(|_| async {
            api.log_stream(pod, &lp).await.map_err(|e| cluster.map_err(e, &format!("pod {namespace}/{pod}")))
        })
        .await?;
    let what = format!("log stream of pod {namespace}/{pod}");
    Ok(reader.lines().map_err(move |e| k8sops_core::Error::Io { path: what.clone(), source: e }.into()).boxed())
}
