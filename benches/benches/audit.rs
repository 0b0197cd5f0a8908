//! The security audit at scale: 10,000 roles and bindings and 50,000 pods
//! evaluated in memory (risk findings, Pod Security of every pod, `who_can`
//! queries), then `kubectl auth can-i --list` for 100 subjects against
//! k8sops on the same real API server.
//!
//! ```text
//! cargo bench -p k8sops-benches --bench audit
//! K8SOPS_BENCH_SUBJECTS=100 cargo bench -p k8sops-benches --bench audit
//! ```
//!
//! The real-server part uses the server of `K8SOPS_E2E_KUBECONFIG` or starts
//! `../shared/k8s` itself; without one it is skipped.

use std::time::{Duration, Instant};

use k8s_openapi::api::{
    core::v1::Pod,
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use k8sops::audit::{
    inventory::{fetch_rbac, RbacInventory},
    pss::{evaluate_pod, highest_level_allowed, Level, PolicyVersion},
    rbac::{render_can_i_list, Attributes, RbacSnapshot, UserInfo},
    risk::risk_findings,
};
use k8sops_benches::{env_usize, print, real_server::RealServer, Comparison};
use serde_json::json;

const VERBS: [&str; 4] = ["get", "list", "create", "delete"];
const RESOURCES: [(&str, &str); 6] =
    [("", "pods"), ("", "secrets"), ("", "configmaps"), ("apps", "deployments"), ("batch", "jobs"), ("", "services")];

fn rule(i: usize) -> serde_json::Value {
    let (g, r) = RESOURCES[i % RESOURCES.len()];
    json!({"apiGroups": [g], "resources": [r, format!("{r}/status")], "verbs": [VERBS[i % 4], VERBS[(i + 1) % 4]]})
}

/// 2,500 each of Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
/// over 100 namespaces and 1,000 users in 50 groups.
fn rbac_objects(per_kind: usize) -> RbacInventory {
    let ns = |i: usize| format!("ns-{}", i % 100);
    let roles: Vec<Role> = (0..per_kind)
        .map(|i| {
            serde_json::from_value(
                json!({"metadata": {"name": format!("role-{i}"), "namespace": ns(i)}, "rules": [rule(i), rule(i + 1)]}),
            )
            .unwrap()
        })
        .collect();
    let cluster_roles: Vec<ClusterRole> = (0..per_kind)
        .map(|i| {
            serde_json::from_value(
                json!({"metadata": {"name": format!("cr-{i}")}, "rules": [rule(i + 2), rule(i + 3)]}),
            )
            .unwrap()
        })
        .collect();
    let subject = |i: usize| {
        if i.is_multiple_of(3) {
            json!({"kind": "Group", "name": format!("group-{}", i % 50)})
        } else {
            json!({"kind": "User", "name": format!("user-{}", i % 1000)})
        }
    };
    let role_bindings: Vec<RoleBinding> = (0..per_kind)
        .map(|i| {
            let role_ref = if i.is_multiple_of(2) {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{i}")})
            } else {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{i}")})
            };
            serde_json::from_value(
                json!({"metadata": {"name": format!("rb-{i}"), "namespace": ns(i)}, "roleRef": role_ref,
                "subjects": [subject(i), subject(i + 7)]}),
            )
            .unwrap()
        })
        .collect();
    let cluster_role_bindings: Vec<ClusterRoleBinding> = (0..per_kind)
        .map(|i| {
            serde_json::from_value(json!({"metadata": {"name": format!("crb-{i}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{}", (i * 7) % per_kind)},
                "subjects": [subject(i + 3)]}))
            .unwrap()
        })
        .collect();
    RbacInventory {
        snapshot: RbacSnapshot::new(roles, cluster_roles, role_bindings, cluster_role_bindings),
        ..Default::default()
    }
}

fn pods(n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            let sc = match i % 4 {
                0 => json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}),
                1 => json!({"runAsUser": 0}),
                _ => json!({}),
            };
            let csc = match i % 5 {
                0 => json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}),
                1 => json!({"privileged": true}),
                2 => json!({"capabilities": {"add": ["NET_ADMIN"]}}),
                _ => json!({}),
            };
            serde_json::from_value(json!({"metadata": {"name": format!("pod-{i}"), "namespace": format!("ns-{}", i % 100)},
                "spec": {"securityContext": sc, "hostNetwork": i.is_multiple_of(97), "serviceAccountName": "default",
                    "volumes": [{"name": "v", "emptyDir": {}}],
                    "containers": [{"name": "app", "image": "x", "securityContext": csc}, {"name": "sidecar", "image": "y", "securityContext": csc}]}}))
            .unwrap()
        })
        .collect()
}

fn in_memory() {
    let per_kind = env_usize("K8SOPS_BENCH_RBAC_PER_KIND", 2_500);
    let pod_count = env_usize("K8SOPS_BENCH_PODS", 50_000);
    let start = Instant::now();
    let inv = rbac_objects(per_kind);
    let pods = pods(pod_count);
    println!("built {} roles/bindings and {} pods in {:?}", per_kind * 4, pods.len(), start.elapsed());

    let start = Instant::now();
    let inv = RbacInventory {
        snapshot: RbacSnapshot::new(
            inv.snapshot.roles().to_vec(),
            inv.snapshot.cluster_roles().to_vec(),
            inv.snapshot.role_bindings().to_vec(),
            inv.snapshot.cluster_role_bindings().to_vec(),
        ),
        ..inv
    };
    let index = start.elapsed();
    let start = Instant::now();
    let findings = risk_findings(&inv, &pods, &[]);
    let risk = start.elapsed();
    let start = Instant::now();
    let mut failing = 0usize;
    for p in &pods {
        let spec = p.spec.as_ref().expect("spec");
        if !evaluate_pod(&p.metadata, spec, Level::Restricted, PolicyVersion::Latest).allowed() {
            failing += 1;
        }
        std::hint::black_box(highest_level_allowed(&p.metadata, spec, PolicyVersion::Latest));
    }
    let pss = start.elapsed();
    println!(
        "evaluation after fetch: index {index:?} + risk findings {risk:?} ({} findings) + Pod Security of {} pods {pss:?} ({failing} fail restricted) = {:?}",
        findings.len(),
        pods.len(),
        index + risk + pss
    );

    let queries: Vec<Attributes> = (0..1000)
        .map(|i| {
            let (g, r) = RESOURCES[i % RESOURCES.len()];
            Attributes::resource(VERBS[i % 4], g, r, format!("ns-{}", i % 100))
        })
        .collect();
    let mut times: Vec<Duration> = queries
        .iter()
        .map(|q| {
            let start = Instant::now();
            std::hint::black_box(inv.snapshot.who_can(q));
            start.elapsed()
        })
        .collect();
    times.sort();
    let total: Duration = times.iter().sum();
    println!(
        "who_can over {} roles/bindings: mean {:?}, p50 {:?}, p99 {:?}, max {:?} ({} queries)",
        per_kind * 4,
        total / times.len() as u32,
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1],
        times.len()
    );
}

/// `kubectl auth can-i --list --as user-i -n NS` for each subject, against
/// one RBAC fetch and offline `rules_for` + rendering for all of them.
async fn can_i_list_real(subjects: usize) {
    let Some(real) = RealServer::connect_or_start() else {
        println!("real API server: skipped (no K8SOPS_E2E_KUBECONFIG and no ../shared/k8s)");
        return;
    };
    let cluster = k8sops::Cluster::from_kubeconfig(&real.kubeconfig, None).await.expect("connect");
    let client = cluster.client().clone();
    let ns = "audit-bench";
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let _ = namespaces
        .create(&Default::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap())
        .await;
    let bindings: kube::Api<RoleBinding> = kube::Api::namespaced(client.clone(), ns);
    for i in 0..subjects {
        let role = ["view", "edit", "admin"][i % 3];
        let rb: RoleBinding = serde_json::from_value(json!({"metadata": {"name": format!("bench-user-{i}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": format!("bench-user-{i}")}]}))
        .unwrap();
        let _ = bindings.create(&Default::default(), &rb).await;
    }
    let users: Vec<String> = (0..subjects).map(|i| format!("bench-user-{i}")).collect();

    let start = Instant::now();
    let inv = fetch_rbac(&cluster).await.expect("fetch");
    let mut bytes = 0;
    for u in &users {
        bytes += render_can_i_list(&inv.snapshot.rules_for(&UserInfo::impersonated(u, &[] as &[&str]), ns)).len();
    }
    let ours = start.elapsed();

    let cache = tempfile::tempdir().expect("temp dir");
    let (kc, dir, list) = (real.kubeconfig.clone(), cache.path().to_path_buf(), users.clone());
    let theirs = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        for u in &list {
            let out = std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kc)
                .arg("--cache-dir")
                .arg(&dir)
                .args(["auth", "can-i", "--list", "--as", u, "-n", ns])
                .output()
                .expect("kubectl must be installed");
            assert!(out.status.success(), "kubectl auth can-i --list failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        start.elapsed()
    })
    .await
    .expect("kubectl");
    println!("real kube-apiserver: can-i --list for {subjects} subjects ({bytes} bytes of tables from k8sops)");
    print(&[Comparison {
        name: format!("can-i --list x{subjects} (real API server)"),
        kubectl: format!("kubectl auth can-i --list --as bench-user-N -n {ns} (x{subjects})"),
        k8sops: ours,
        kubectl_time: theirs,
    }]);
}

#[tokio::main]
async fn main() {
    in_memory();
    can_i_list_real(env_usize("K8SOPS_BENCH_SUBJECTS", 100)).await;
}
