//! Targets for the API conformance suite: the testkit always, a real API
//! server when `K8SOPS_E2E_KUBECONFIG` names one.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Namespace;
use k8sops_core::Cluster;
use k8sops_testkit::TestServer;
use kube::api::{Api, PostParams};

/// A server to run a behaviour against.
pub struct Target {
    pub name: &'static str,
    pub cluster: Cluster,
    /// A kubeconfig for user `test-user` in group `test-group` with no RBAC grants.
    pub user_kubeconfig: PathBuf,
    pub admin_kubeconfig: PathBuf,
    pub server: Option<TestServer>,
}

impl Target {
    pub fn client(&self) -> kube::Client {
        self.cluster.client().clone()
    }

    /// A fresh namespace for one test.
    pub async fn namespace(&self, test: &str) -> String {
        let suffix: u32 = std::process::id()
            ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
        let name = format!("conf-{}-{:x}", test.replace('_', "-"), suffix % 0xfffff);
        let api: Api<Namespace> = Api::all(self.client());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.expect("create test namespace");
        name
    }
}

pub async fn testkit() -> Target {
    let server = TestServer::start().await.expect("start testkit");
    let user_kubeconfig = server.add_user("test-user", &["test-group"]).expect("add user");
    Target {
        name: "testkit",
        cluster: server.cluster(),
        user_kubeconfig,
        admin_kubeconfig: server.kubeconfig_path().to_path_buf(),
        server: Some(server),
    }
}

/// The real API server, or `None` (with the reason printed) when not configured;
/// a failure instead when `K8SOPS_REQUIRE_E2E=1` (see `k8sops_testkit::e2e::skip_or_fail`).
pub async fn real() -> Option<Target> {
    let path = k8sops_testkit::e2e::kubeconfig()?;
    let cluster =
        Cluster::from_kubeconfig(&path, None).await.expect("K8SOPS_E2E_KUBECONFIG must name a valid kubeconfig");
    let user_kubeconfig = std::env::var_os("K8SOPS_E2E_USER_KUBECONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| path.with_file_name("user.kubeconfig"));
    Some(Target { name: "real", cluster, user_kubeconfig, admin_kubeconfig: path, server: None })
}

/// Declares each behaviour twice: against the testkit and against the real server.
#[macro_export]
macro_rules! both_servers {
    ($($name:ident),* $(,)?) => {
        mod testkit_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = $crate::common::testkit().await;
                    super::$name(&t).await;
                }
            )*
        }
        mod real_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(t) = $crate::common::real().await {
                        super::$name(&t).await;
                    }
                }
            )*
        }
    };
}
