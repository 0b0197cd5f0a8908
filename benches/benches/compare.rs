//! k8sops versus kubectl against the same in-process API server, in one run.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench compare
//! K8SOPS_BENCH_NODES=1000 K8SOPS_BENCH_PODS=30000 cargo bench -p k8sops-benches --bench compare
//! ```

use std::pin::pin;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8sops::paging;
use k8sops_benches::{env_usize, kubectl_median, median_async, print, Comparison, DAILY_KUBECTL};
use k8sops_testkit::{DemoCluster, TestServer};

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run small then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let nodes = env_usize("K8SOPS_BENCH_NODES", if quick { 20 } else { 500 });
    let pods = env_usize("K8SOPS_BENCH_PODS", if quick { 200 } else { 15_000 });
    let runs = env_usize("K8SOPS_BENCH_RUNS", if quick { 1 } else { 5 });
    let server = TestServer::start().await.expect("start testkit");
    let summary = server.load(&DemoCluster::scaled(nodes, pods)).expect("load demo cluster");
    println!("cluster: {} nodes, {} pods (k8sops-testkit at {})", summary.nodes, summary.pods, server.url());
    let cache = tempfile::tempdir().expect("temp dir");
    let kc = server.kubeconfig_path().to_path_buf();
    let cluster = server.cluster();
    let mut rows = Vec::new();

    let pods_api: kube::Api<Pod> = kube::Api::all(cluster.client().clone());
    let t = median_async(runs, || async {
        let mut n = 0usize;
        let mut pages = pin!(paging::pages(&cluster, &pods_api, Default::default(), paging::DEFAULT_PAGE_SIZE));
        while let Some(page) = pages.try_next().await.expect("list pods") {
            n += page.len();
        }
        assert_eq!(n, summary.pods);
    })
    .await;
    let args = ["get", "pods", "-A", "-o", "json"];
    let k = tokio::task::block_in_place(|| kubectl_median(runs, &kc, cache.path(), &args));
    rows.push(Comparison {
        name: "list all pods".into(),
        kubectl: format!("kubectl {}", args.join(" ")),
        k8sops: t,
        kubectl_time: k,
    });

    let nodes_api: kube::Api<Node> = kube::Api::all(cluster.client().clone());
    let t = median_async(runs, || async {
        let nodes = paging::list_all(&cluster, &nodes_api, Default::default()).await.expect("list nodes");
        let mut table = k8sops::Table::new(["name", "status", "roles"]);
        for n in &nodes {
            table.row([
                n.metadata.name.clone().unwrap_or_default(),
                k8sops::object_status::node_status(n),
                k8sops::object_status::node_roles(n),
            ]);
        }
        std::hint::black_box(table.to_string());
    })
    .await;
    let args = ["get", "nodes", "-o", "wide"];
    let k = tokio::task::block_in_place(|| kubectl_median(runs, &kc, cache.path(), &args));
    rows.push(Comparison {
        name: "node status table".into(),
        kubectl: format!("kubectl {}", args.join(" ")),
        k8sops: t,
        kubectl_time: k,
    });

    let t = median_async(runs, || async {
        std::hint::black_box(k8sops::checklist::Checklist::daily().run(&cluster).await.to_string());
    })
    .await;
    let k = tokio::task::block_in_place(|| {
        DAILY_KUBECTL.iter().map(|args| kubectl_median(runs, &kc, cache.path(), args)).sum()
    });
    rows.push(Comparison {
        name: "daily checklist".into(),
        kubectl: DAILY_KUBECTL.iter().map(|a| format!("kubectl {}", a.join(" "))).collect::<Vec<_>>().join("; "),
        k8sops: t,
        kubectl_time: k,
    });

    print(&rows);
}
