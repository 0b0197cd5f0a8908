//! The real API server (`../shared/k8s/`) for the benches: connect to the one
//! named by `K8SOPS_E2E_KUBECONFIG`, or start one of our own on spare ports
//! (stopped again on drop), and fill it with nodes and pods through the API.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use kube::{
    api::{ListParams, PostParams},
    Api,
};
use serde_json::json;

/// A real kube-apiserver (+ controller manager) for a bench.
#[derive(Debug)]
pub struct RealServer {
    /// Its admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The run directory of a server this bench started (stopped on drop).
    started: Option<(PathBuf, PathBuf)>,
}

impl RealServer {
    /// The server of `K8SOPS_E2E_KUBECONFIG`, or a new one started from
    /// `../shared/k8s` in `target/k8s-bench`; `None` when neither exists.
    pub fn connect_or_start() -> Option<RealServer> {
        if let Some(k) = std::env::var_os("K8SOPS_E2E_KUBECONFIG") {
            return Some(RealServer { kubeconfig: k.into(), started: None });
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let k8s = root.join("../shared/k8s");
        if !k8s.join("start.sh").exists() {
            return None;
        }
        let dir = root.join("target/k8s-bench");
        let status = Command::new(k8s.join("start.sh"))
            .arg(&dir)
            .env("APISERVER_PORT", "26443")
            .env("ETCD_PORT", "22379")
            .env("ETCD_PEER_PORT", "22380")
            .env("KCM_PORT", "20258")
            .status()
            .expect("run ../shared/k8s/start.sh");
        assert!(status.success(), "../shared/k8s/start.sh failed");
        Some(RealServer { kubeconfig: dir.join("admin.kubeconfig"), started: Some((k8s.join("stop.sh"), dir)) })
    }

    /// A client for it.
    pub async fn client(&self) -> kube::Client {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("read kubeconfig");
        let kc = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
        k8sops::Cluster::from_config(config).expect("client").client().clone()
    }

    /// Makes namespace `ns` hold `pods` pods spread over `nodes` nodes named
    /// `{ns}-node-{i}` (4 CPU, 16Gi), each pod requesting 100m / 128Mi;
    /// creates only what is missing, so a second run reuses the first's objects.
    pub async fn fill(&self, ns: &str, nodes: usize, pods: usize) {
        let client = self.client().await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        if namespaces.get_opt(ns).await.expect("get namespace").is_none() {
            namespaces
                .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap())
                .await
                .expect("create namespace");
        }
        // Pods are admitted only once the namespace's default ServiceAccount exists.
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        for _ in 0..300 {
            if sas.get_opt("default").await.expect("get service account").is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let node_api: Api<Node> = Api::all(client.clone());
        let have_nodes =
            node_api.list_metadata(&ListParams::default().labels(&format!("k8sops-bench={ns}"))).await.expect("nodes");
        let have: std::collections::HashSet<String> =
            have_nodes.items.into_iter().filter_map(|n| n.metadata.name).collect();
        let missing_nodes: Vec<usize> = (0..nodes).filter(|i| !have.contains(&format!("{ns}-node-{i}"))).collect();
        create_all(missing_nodes.into_iter().map(|i| {
            let api = node_api.clone();
            let body: Node = serde_json::from_value(json!({"metadata": {"name": format!("{ns}-node-{i}"), "labels": {"k8sops-bench": ns, "eks.amazonaws.com/nodegroup": format!("group-{}", i % 4)}},
                "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench"}]}}))
            .unwrap();
            async move { api.create(&PostParams::default(), &body).await.map(|_| ()) }
        }))
        .await;
        let pod_api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let have_pods = pod_api.list_metadata(&ListParams::default()).await.expect("pods");
        let have: std::collections::HashSet<String> =
            have_pods.items.into_iter().filter_map(|p| p.metadata.name).collect();
        let missing_pods: Vec<usize> = (0..pods).filter(|i| !have.contains(&format!("pod-{i}"))).collect();
        create_all(missing_pods.into_iter().map(|i| {
            let api = pod_api.clone();
            let body: Pod = serde_json::from_value(json!({"metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("app-{}", i % 50)}},
                "spec": {"nodeName": format!("{ns}-node-{}", i % nodes.max(1)), "automountServiceAccountToken": false,
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]}}))
            .unwrap();
            async move { api.create(&PostParams::default(), &body).await.map(|_| ()) }
        }))
        .await;
    }
}

/// Runs the creates 64 at a time; an AlreadyExists is fine, anything else panics.
async fn create_all<F>(creates: impl Iterator<Item = F>)
where
    F: std::future::Future<Output = Result<(), kube::Error>>,
{
    stream::iter(creates)
        .buffer_unordered(64)
        .map(|r| match r {
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            other => other,
        })
        .try_collect::<Vec<()>>()
        .await
        .expect("create objects on the real API server");
}

impl Drop for RealServer {
    fn drop(&mut self) {
        if let Some((stop, dir)) = &self.started {
            let _ = Command::new(stop).arg(dir).status();
        }
    }
}
