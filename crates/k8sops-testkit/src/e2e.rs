//! Helpers for end-to-end tests against a real API server named by
//! `K8SOPS_E2E_KUBECONFIG` (scripts/test.sh starts one from ../shared/k8s),
//! and for running kubectl as the oracle.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Namespace;
use k8sops_core::Cluster;
use kube::{api::PostParams, Api};

/// The environment variable naming the real server's kubeconfig.
///
/// ```
/// // scripts/test.sh exports it after starting the real API server.
/// let configured = std::env::var_os(k8sops_testkit::e2e::KUBECONFIG_VAR).is_some();
/// ```
pub const KUBECONFIG_VAR: &str = "K8SOPS_E2E_KUBECONFIG";

/// The kubeconfig of the real API server, or `None` with the reason printed
/// (the test then returns: it reports itself skipped).
///
/// ```no_run
/// #[tokio::test]
/// async fn lists_nodes_on_a_real_server() {
///     let Some(path) = k8sops_testkit::e2e::kubeconfig() else { return };
///     let cluster = k8sops_core::Cluster::from_kubeconfig(&path, None).await.unwrap();
///     cluster.server_version().await.unwrap();
/// }
/// ```
pub fn kubeconfig() -> Option<PathBuf> {
    match std::env::var_os(KUBECONFIG_VAR) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "skipped: {KUBECONFIG_VAR} is not set (scripts/test.sh starts a real API server from ../shared/k8s)"
            );
            None
        }
    }
}

/// A cluster handle for the real API server, or `None` (skip).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let Some(cluster) = k8sops_testkit::e2e::real_cluster().await else { return };
/// let ns = k8sops_testkit::e2e::fresh_namespace(&cluster, "demo").await;
/// # }
/// ```
pub async fn real_cluster() -> Option<Cluster> {
    let path = kubeconfig()?;
    Some(
        Cluster::from_kubeconfig(&path, None)
            .await
            .unwrap_or_else(|e| panic!("{KUBECONFIG_VAR} names an unusable kubeconfig: {e}")),
    )
}

/// Creates a namespace with a unique name starting with `e2e-{prefix}-`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let ns = k8sops_testkit::e2e::fresh_namespace(&server.cluster(), "quota").await;
/// assert!(ns.starts_with("e2e-quota-"));
/// # Ok(()) }
/// ```
pub async fn fresh_namespace(cluster: &Cluster, prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        ^ std::process::id();
    let name = format!("e2e-{prefix}-{:x}", n % 0xfffff);
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap_or_default();
    api.create(&PostParams::default(), &ns).await.unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
    name
}

/// Runs `kubectl ARGS` against `kubeconfig` with a private discovery cache,
/// off the async runtime. Returns (success, stdout, stderr).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let (ok, stdout, stderr) = k8sops_testkit::e2e::kubectl(server.kubeconfig_path(), &["get", "ns", "-o", "name"]).await;
/// assert!(ok, "{stderr}");
/// assert!(stdout.contains("namespace/default"));
/// # Ok(()) }
/// ```
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let cache = tempfile::tempdir().expect("temp dir for kubectl's cache");
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(&args)
            .output()
            .expect("kubectl must be installed for the oracle tests");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl task")
}

/// The row of `resource` (e.g. `cpu`) in the "Allocated resources" section
/// of `kubectl describe node` output, split into words:
/// `["cpu", "875m", "(22%)", "0", "(0%)"]`.
///
/// ```
/// let out = "Allocated resources:\n  Resource  Requests  Limits\n  cpu  875m (22%)  0 (0%)\n";
/// assert_eq!(k8sops_testkit::e2e::allocated_row(out, "cpu").unwrap(), ["cpu", "875m", "(22%)", "0", "(0%)"]);
/// ```
pub fn allocated_row<'a>(describe_output: &'a str, resource: &str) -> Option<Vec<&'a str>> {
    let section = describe_output.split("Allocated resources:").nth(1)?;
    let prefix = format!("{resource} ");
    section.lines().find(|l| l.trim_start().starts_with(&prefix)).map(|l| l.split_whitespace().collect())
}
