//! API behaviours k8sops relies on, asserted against the testkit and (when
//! `K8SOPS_E2E_KUBECONFIG` is set) a real kube-apiserver, so the fake cannot
//! drift from the real thing.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    authorization::v1::{SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview},
    core::v1::{ConfigMap, Pod},
    policy::v1::PodDisruptionBudget,
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    core::Status,
};
use serde_json::json;

use common::Target;

both_servers!(
    label_selectors_filter_lists,
    field_selectors_filter_pods_and_reject_unknown_fields,
    pagination_returns_every_item_once_in_order,
    merge_json_and_strategic_patches_apply,
    stale_resource_version_conflicts_and_duplicates_already_exist,
    server_side_dry_run_changes_nothing,
    eviction_honours_pod_disruption_budgets,
    watch_reports_add_modify_delete_in_order,
    access_reviews_follow_rbac,
);

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})).unwrap()
}

fn names<K: kube::Resource>(items: &[K]) -> Vec<String> {
    items.iter().map(|i| i.meta().name.clone().unwrap_or_default()).collect()
}

fn api_status(err: kube::Error) -> Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn label_selectors_filter_lists(t: &Target) {
    let ns = t.namespace("labels").await;
    let api: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    for (name, labels) in
        [("a1", json!({"app": "a", "tier": "web"})), ("a2", json!({"app": "a"})), ("b1", json!({"app": "b"}))]
    {
        api.create(&PostParams::default(), &cm(name, labels)).await.unwrap();
    }
    let list = |sel: &'static str| {
        let api = api.clone();
        async move {
            let mut n = names(&api.list(&ListParams::default().labels(sel)).await.unwrap().items);
            n.retain(|x| x != "kube-root-ca.crt");
            n
        }
    };
    assert_eq!(list("app=a").await, ["a1", "a2"], "{}", t.name);
    assert_eq!(list("app in (a,b),!tier").await, ["a2", "b1"], "{}", t.name);
    assert_eq!(list("app!=a").await, ["b1"], "{}", t.name);
    assert_eq!(list("tier").await, ["a1"], "{}", t.name);
    let err = api.list(&ListParams::default().labels("app in x")).await.unwrap_err();
    assert_eq!(api_status(err).code, 400, "{}: an invalid selector is a 400", t.name);
}

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}))
    .unwrap()
}

async fn running(api: &Api<Pod>, name: &str) {
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "registry.k8s.io/pause:3.9", "imageID": "", "state": {"running": {}}}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
}

async fn field_selectors_filter_pods_and_reject_unknown_fields(t: &Target) {
    let ns = t.namespace("fields").await;
    let api: Api<Pod> = Api::namespaced(t.client(), &ns);
    api.create(&PostParams::default(), &pod("p1", "node-a")).await.unwrap();
    api.create(&PostParams::default(), &pod("p2", "node-b")).await.unwrap();
    api.create(&PostParams::default(), &pod("p3", "node-a")).await.unwrap();
    running(&api, "p3").await;
    let list = |sel: &'static str| {
        let api = api.clone();
        async move { names(&api.list(&ListParams::default().fields(sel)).await.unwrap().items) }
    };
    assert_eq!(list("spec.nodeName=node-a").await, ["p1", "p3"], "{}", t.name);
    assert_eq!(list("spec.nodeName=node-a,status.phase!=Running").await, ["p1"], "{}", t.name);
    assert_eq!(list("metadata.name=p2").await, ["p2"], "{}", t.name);
    let err = api.list(&ListParams::default().fields("spec.image=x")).await.unwrap_err();
    let status = api_status(err);
    assert_eq!(status.code, 400, "{}", t.name);
    assert!(status.message.contains("field label not supported"), "{}: {}", t.name, status.message);
}

async fn pagination_returns_every_item_once_in_order(t: &Target) {
    let ns = t.namespace("pages").await;
    let api: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    let want: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    for n in &want {
        api.create(&PostParams::default(), &cm(n, json!({"page": "yes"}))).await.unwrap();
    }
    let mut got = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().labels("page=yes").limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        assert!(page.items.len() <= 3, "{}: a page holds at most `limit` items", t.name);
        got.extend(names(&page.items));
        pages += 1;
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => token = Some(c),
            _ => break,
        }
    }
    assert_eq!(got, want, "{}", t.name);
    assert_eq!(pages, 3, "{}", t.name);
    // Without a selector the server also says how many items remain.
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let total = api.list(&ListParams::default()).await.unwrap().items.len() as i64;
    assert_eq!(first.metadata.remaining_item_count, Some(total - 2), "{}", t.name);
}

async fn merge_json_and_strategic_patches_apply(t: &Target) {
    let ns = t.namespace("patch").await;
    let api: Api<Deployment> = Api::namespaced(t.client(), &ns);
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}}}))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    let pp = PatchParams::default();
    let d = api.patch("web", &pp, &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}))).await.unwrap();
    assert_eq!(d.metadata.labels.unwrap()["team"], "a", "{}", t.name);
    let jp: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}]))
            .unwrap();
    let d = api.patch("web", &pp, &Patch::<()>::Json(jp)).await.unwrap();
    assert_eq!(d.metadata.annotations.unwrap()["note"], "x", "{}", t.name);
    let d = api
        .patch(
            "web",
            &pp,
            &Patch::Strategic(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}}),
            ),
        )
        .await
        .unwrap();
    let containers: Vec<String> = d.spec.template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    // The real server puts a new item before the next existing one.
    assert_eq!(containers, ["sidecar", "app"], "{}: strategic merge merges containers by name", t.name);
    let d = api
        .patch(
            "web",
            &pp,
            &Patch::Merge(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:1.36"}]}}}}),
            ),
        )
        .await
        .unwrap();
    let containers: Vec<String> = d.spec.template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    assert_eq!(containers, ["only"], "{}: a merge patch replaces lists", t.name);
}

async fn stale_resource_version_conflicts_and_duplicates_already_exist(t: &Target) {
    let ns = t.namespace("conflict").await;
    let api: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    let created = api.create(&PostParams::default(), &cm("c", json!({}))).await.unwrap();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "v2".to_string())].into());
    api.replace("c", &PostParams::default(), &fresh).await.unwrap();
    let mut stale = created;
    stale.data = Some([("k".to_string(), "v3".to_string())].into());
    let status = api_status(api.replace("c", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{}", t.name);
    let status = api_status(api.create(&PostParams::default(), &cm("c", json!({}))).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (409, "AlreadyExists"), "{}", t.name);
    let status = api_status(api.get("missing").await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"), "{}", t.name);
}

async fn server_side_dry_run_changes_nothing(t: &Target) {
    let ns = t.namespace("dryrun").await;
    let api: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    let dry = PostParams { dry_run: true, ..Default::default() };
    let out = api.create(&dry, &cm("ghost", json!({}))).await.unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("ghost"), "{}", t.name);
    assert!(api.get_opt("ghost").await.unwrap().is_none(), "{}: dry-run create stores nothing", t.name);
    api.create(&PostParams::default(), &cm("real", json!({}))).await.unwrap();
    api.delete("real", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert!(api.get_opt("real").await.unwrap().is_some(), "{}: dry-run delete deletes nothing", t.name);
}

async fn wait_for_budget(api: &Api<PodDisruptionBudget>, name: &str, healthy: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pdb = api.get(name).await.unwrap();
        let gen = pdb.metadata.generation.unwrap_or(0);
        if let Some(s) = pdb.status {
            if s.observed_generation.unwrap_or(0) >= gen && s.current_healthy == Some(healthy) {
                return;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "budget {name} never saw {healthy} healthy pods");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn eviction_honours_pod_disruption_budgets(t: &Target) {
    let ns = t.namespace("evict").await;
    let pods: Api<Pod> = Api::namespaced(t.client(), &ns);
    for name in ["w1", "w2"] {
        pods.create(&PostParams::default(), &pod(name, "node-evict")).await.unwrap();
        running(&pods, name).await;
    }
    let mut pending = pod("pending", "");
    pending.spec.as_mut().unwrap().node_name = None;
    pods.create(&PostParams::default(), &pending).await.unwrap();
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(t.client(), &ns);
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "web-pdb"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}}))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    wait_for_budget(&pdbs, "web-pdb", 2).await;

    let status = api_status(pods.evict("w1", &EvictParams::default()).await.unwrap_err());
    assert_eq!(status.code, 429, "{}", t.name);
    let err = pods.evict("w1", &EvictParams::default()).await.unwrap_err();
    let kube::Error::Api(full) = err else { panic!("api error") };
    let cause = full.details.and_then(|d| d.causes.into_iter().next()).map(|c| c.message).unwrap_or_default();
    assert_eq!(cause, "The disruption budget web-pdb needs 3 healthy pods and has 2 currently", "{}", t.name);

    // A Pending pod is not protected.
    pods.evict("pending", &EvictParams::default()).await.unwrap();

    pdbs.patch("web-pdb", &PatchParams::default(), &Patch::Merge(json!({"spec": {"minAvailable": 1}}))).await.unwrap();
    wait_for_budget(&pdbs, "web-pdb", 2).await;
    pods.evict("w1", &EvictParams::default()).await.unwrap();
    let w1 = pods.get_opt("w1").await.unwrap();
    assert!(
        w1.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
        "{}: an evicted bound pod is terminating or gone",
        t.name
    );
}

async fn watch_reports_add_modify_delete_in_order(t: &Target) {
    let ns = t.namespace("watch").await;
    let api: Api<ConfigMap> = Api::namespaced(t.client(), &ns);
    let rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let stream = api.watch(&WatchParams::default().labels("watched=yes").timeout(30), &rv).await.unwrap();
    let mut stream = stream.boxed();
    api.create(&PostParams::default(), &cm("w", json!({"watched": "yes"}))).await.unwrap();
    api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "changed"}}))).await.unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .expect("watch event in time")
            .unwrap()
        {
            Some(WatchEvent::Added(o)) => seen.push(format!("ADDED {}", o.metadata.name.unwrap())),
            Some(WatchEvent::Modified(o)) => seen.push(format!("MODIFIED {}", o.data.unwrap()["k"])),
            Some(WatchEvent::Deleted(o)) => seen.push(format!("DELETED {}", o.metadata.name.unwrap())),
            Some(WatchEvent::Bookmark(_)) => {}
            Some(WatchEvent::Error(e)) => panic!("{}: watch error {e:?}", t.name),
            None => break,
        }
    }
    assert_eq!(seen, ["ADDED w", "MODIFIED changed", "DELETED w"], "{}", t.name);
}

async fn access_reviews_follow_rbac(t: &Target) {
    let ns = t.namespace("rbac").await;
    let roles: Api<Role> = Api::namespaced(t.client(), &ns);
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}))
    .unwrap();
    roles.create(&PostParams::default(), &role).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(t.client(), &ns);
    let rb: RoleBinding = serde_json::from_value(json!({"metadata": {"name": "read-pods"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "test-group"}]}))
    .unwrap();
    bindings.create(&PostParams::default(), &rb).await.unwrap();

    // SubjectAccessReview, asked by the admin about the user.
    let sar_api: Api<SubjectAccessReview> = Api::all(t.client());
    let ask = |verb: &str, ns: &str| -> SubjectAccessReview {
        serde_json::from_value(json!({"spec": {"user": "test-user", "groups": ["test-group", "system:authenticated"],
            "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": ns}}}))
        .unwrap()
    };
    let allowed = |r: SubjectAccessReview| r.status.map(|s| s.allowed).unwrap_or(false);
    // A real server's RBAC authorizer sees new bindings through an informer: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !allowed(sar_api.create(&PostParams::default(), &ask("list", &ns)).await.unwrap()) {
        assert!(tokio::time::Instant::now() < deadline, "{}: the binding never took effect", t.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!allowed(sar_api.create(&PostParams::default(), &ask("delete", &ns)).await.unwrap()), "{}", t.name);
    assert!(!allowed(sar_api.create(&PostParams::default(), &ask("list", "default")).await.unwrap()), "{}", t.name);

    // The user itself: allowed where bound, 403 elsewhere, and the reviews agree.
    let user = k8sops_core::Cluster::from_kubeconfig(&t.user_kubeconfig, None).await.unwrap();
    let mine: Api<Pod> = Api::namespaced(user.client().clone(), &ns);
    mine.list(&ListParams::default()).await.unwrap();
    let other: Api<Pod> = Api::namespaced(user.client().clone(), "default");
    let status = api_status(other.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 403, "{}", t.name);
    assert!(status.message.contains("test-user"), "{}: {}", t.name, status.message);
    let ssar: Api<SelfSubjectAccessReview> = Api::all(user.client().clone());
    let review: SelfSubjectAccessReview = serde_json::from_value(
        json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": ns}}}),
    )
    .unwrap();
    assert!(ssar.create(&PostParams::default(), &review).await.unwrap().status.unwrap().allowed, "{}", t.name);
    let ssrr: Api<SelfSubjectRulesReview> = Api::all(user.client().clone());
    let review: SelfSubjectRulesReview = serde_json::from_value(json!({"spec": {"namespace": ns}})).unwrap();
    let rules = ssrr.create(&PostParams::default(), &review).await.unwrap().status.unwrap().resource_rules;
    assert!(
        rules.iter().any(|r| r.resources.as_ref().is_some_and(|rs| rs.contains(&"pods".to_string()))
            && r.verbs.contains(&"list".to_string())),
        "{}: rules review lists the bound role: {rules:?}",
        t.name
    );
}
