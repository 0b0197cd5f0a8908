//! Export and restore against the real API server (`K8SOPS_E2E_KUBECONFIG`,
//! ../shared/k8s): a namespace holding one of everything the server serves
//! and its controllers act on (Deployments make ReplicaSets make Pods, a
//! StatefulSet makes a claim, Services get IPs, node ports and
//! EndpointSlices, a custom resource of a CRD), exported, and restored into
//! another namespace. kubectl is the oracle: `get all,configmap,secret,pvc
//! -o yaml` for what exists, `get -o yaml` for what each object holds.
//!
//! The server is shared: every test works in namespaces and on a CRD and a
//! volume of its own, and deletes them at the end.

use std::collections::{BTreeMap, BTreeSet};

use k8sops_backup::{
    export::{export, ExportParams, ExportStatus},
    layout::{Location, Manifest},
    restore::{read_manifest, restore, ExistingPolicy, RestoreOutcome, RestoreParams, RestoreStatus, SkipReason},
};
use k8sops_core::DryRun;
use k8sops_testkit::e2e::{eventually, fresh_namespace, real_oracle, unique_name, RealServer};
use serde_json::Value;

/// `(kind, name)` in one namespace.
type Id = (String, String);

/// One of every namespaced kind the controllers act on, a CRD (group
/// unique to `ns`) and one custom resource, and a volume bound to a claim.
fn fixture(ns: &str) -> String {
    r##"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.NS.k8sops.example.com}
spec:
  group: NS.k8sops.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: NS-pv, labels: {k8sops-e2e-run: NS}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: /tmp/NS}
  claimRef: {namespace: NS, name: scratch}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch, namespace: NS}
spec: {accessModes: [ReadWriteOnce], storageClassName: "", resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS, labels: {app: web}}
data: {mode: production, workers: "4"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: NS}
data: {enabled: "on", answer: "yes", ratio: "1:20", version: "1.25.3", script: "#!/bin/sh\necho hi\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: db-password, namespace: NS}
type: Opaque
stringData: {password: s3cr3t}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: NS}
rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects: [{kind: ServiceAccount, name: deployer, namespace: NS}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: objects, namespace: NS}
spec: {hard: {count/configmaps: "50"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: deployer
      containers: [{name: web, image: localhost/busybox:1.35, command: [sleep, "3600"]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: NS}
spec:
  serviceName: db
  replicas: 1
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: localhost/busybox:1.35}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: NS}
spec:
  schedule: "0 3 * * *"
  suspend: true
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: r, image: localhost/busybox:1.35}]}}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: NS}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: localhost/busybox:1.35}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: NS}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: NS}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: NS}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-anywhere, namespace: NS}
spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}]}
"##
    .replace("NS", ns)
}

const WIDGET: &str = r#"
apiVersion: NS.k8sops.example.com/v1
kind: Widget
metadata: {name: gizmo, namespace: NS, labels: {app: web}}
spec: {size: 3, colour: teal}
"#;

async fn kubectl_ok(real: &RealServer, args: &[&str]) -> String {
    real.kubectl_ok(args).await
}

/// Applies YAML with kubectl.
async fn apply(real: &RealServer, yaml: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    kubectl_ok(real, &["apply", "-f", &file.path().display().to_string()]).await;
}

/// Creates the fixture and waits (with kubectl wait) until the controllers
/// have made what they make.
async fn setup(real: &RealServer, ns: &str) {
    apply(real, &fixture(ns)).await;
    kubectl_ok(
        real,
        &["wait", "--for=condition=Established", &format!("crd/widgets.{ns}.k8sops.example.com"), "--timeout=60s"],
    )
    .await;
    apply(real, &WIDGET.replace("NS", ns)).await;
    for (what, path) in [
        ("deployment/web", "{.status.replicas}=2"),
        ("statefulset/db", "{.status.replicas}=1"),
        ("job/migrate", "{.status.active}=1"),
    ] {
        kubectl_ok(real, &["wait", "-n", ns, what, &format!("--for=jsonpath={path}"), "--timeout=60s"]).await;
    }
    kubectl_ok(real, &["wait", "-n", ns, "pvc/scratch", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s"]).await;
}

async fn teardown(real: &RealServer, ns: &[&str], cluster_scoped: &[String]) {
    for n in ns {
        let _ = real.kubectl(&["delete", "namespace", n, "--wait=false", "--ignore-not-found"]).await;
    }
    for c in cluster_scoped {
        let _ = real.kubectl(&["delete", c, "--wait=false", "--ignore-not-found"]).await;
    }
}

/// kubectl's objects of `types` in namespace `ns`.
async fn kubectl_objects(real: &RealServer, ns: &str, types: &str) -> BTreeMap<Id, Value> {
    let out = kubectl_ok(real, &["get", types, "-n", ns, "-o", "yaml"]).await;
    let list: Value = serde_norway::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|o| ((o["kind"].as_str().unwrap().to_string(), o["metadata"]["name"].as_str().unwrap().to_string()), o))
        .collect()
}

fn controlled(o: &Value) -> bool {
    o["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.iter().any(|r| r["controller"] == true))
}

fn subset(sub: &Value, sup: &Value, at: &str) -> Result<(), String> {
    match (sub, sup) {
        (Value::Object(a), Value::Object(b)) => a.iter().try_for_each(|(k, v)| match b.get(k) {
            Some(w) => subset(v, w, &format!("{at}.{k}")),
            None => Err(format!("{at}.{k} missing")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().try_for_each(|(i, (v, w))| subset(v, w, &format!("{at}[{i}]")))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{at}: {a} != {b}")),
    }
}

/// The backup's objects of namespace `ns`, parsed, by id.
fn backup_objects(dir: &std::path::Path, manifest: &Manifest, ns: &str) -> BTreeMap<Id, Value> {
    manifest
        .files
        .iter()
        .filter(|e| e.namespace.as_deref() == Some(ns))
        .map(|e| {
            let text = std::fs::read_to_string(dir.join(&e.path)).unwrap();
            ((e.kind.clone(), e.name.clone()), serde_norway::from_str(&text).unwrap())
        })
        .collect()
}

/// The kinds `kubectl get all,configmap,secret,pvc` covers.
const KUBECTL_ALL: &[&str] = &[
    "Pod",
    "Service",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_a_namespace_holds_what_kubectl_get_all_shows_cleaned() {
    let Some(real) = real_oracle().await else { return };
    let ns = fresh_namespace(&real.cluster, "export").await;
    setup(&real, &ns).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("ns.tar.gz");

    // With managed objects, the export holds exactly what kubectl's `get all,...` lists for the namespace.
    let everything =
        ExportParams::default().include_namespaces([ns.as_str()]).include_secrets(true).include_managed(true);
    let report = export(&real.cluster, &Location::archive(&archive), &everything).await.unwrap();
    assert_eq!(report.status, ExportStatus::Completed, "{report}");
    let manifest = read_manifest(&Location::archive(&archive)).await.unwrap();
    assert!(manifest.cluster.version.starts_with("v1.24"), "{:?}", manifest.cluster);
    let ours: BTreeSet<Id> = manifest
        .files
        .iter()
        .filter(|e| e.namespace.as_deref() == Some(ns.as_str()) && KUBECTL_ALL.contains(&e.kind.as_str()))
        .map(|e| (e.kind.clone(), e.name.clone()))
        .collect();
    let theirs = kubectl_objects(&real, &ns, "all,configmap,secret,pvc").await;
    assert_eq!(ours, theirs.keys().cloned().collect::<BTreeSet<_>>());

    // Without, what the controllers recreate is left out, and nothing else.
    let dir2 = tempfile::tempdir().unwrap();
    let store = k8sops_backup::store::local_dir(dir2.path()).unwrap();
    let at = Location::store(store, "b");
    let report =
        export(&real.cluster, &at, &ExportParams::default().include_namespaces([ns.as_str()]).include_secrets(true))
            .await
            .unwrap();
    assert_eq!(report.status, ExportStatus::Completed, "{report}");
    let manifest = read_manifest(&at).await.unwrap();
    let exported = backup_objects(&dir2.path().join("b"), &manifest, &ns);
    for (id, o) in &theirs {
        let token = o["type"] == "kubernetes.io/service-account-token";
        assert_eq!(exported.contains_key(id), !controlled(o) && !token, "{id:?}");
    }
    for (id, y) in &exported {
        let Some(o) = theirs.get(id) else { continue };
        subset(y, o, "").unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }
    // `kubectl apply -f backup/` works: kubectl reads every file (YAML 1.1: `on` stays a string) and the
    // server validates and accepts every object.
    let tree = dir2.path().join("b").join(&ns).display().to_string();
    let applied = kubectl_ok(&real, &["apply", "-R", "-f", &tree, "--dry-run=server", "-o", "name"]).await;
    assert_eq!(applied.lines().count(), exported.len(), "{applied}");
    let flags = kubectl_ok(
        &real,
        &["apply", "-f", &format!("{tree}/core/ConfigMap/flags.yaml"), "--dry-run=server", "-o", "json"],
    )
    .await;
    let flags: Value = serde_json::from_str(&flags).unwrap();
    assert_eq!(flags["data"], theirs[&("ConfigMap".to_string(), "flags".to_string())]["data"]);
    let web = &exported[&("Service".to_string(), "web".to_string())];
    assert_eq!(web["spec"].get("clusterIP"), None);
    assert!(theirs[&("Service".to_string(), "web".to_string())]["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip != "None"));
    assert_eq!(exported[&("Service".to_string(), "db".to_string())]["spec"]["clusterIP"], "None");
    assert_eq!(
        exported[&("Service".to_string(), "web-nodeport".to_string())]["spec"]["ports"][0].get("nodePort"),
        None
    );
    let scratch = &exported[&("PersistentVolumeClaim".to_string(), "scratch".to_string())];
    assert_eq!(scratch["spec"].get("volumeName"), None, "the binding is the target cluster's");
    assert!(
        exported.contains_key(&("PersistentVolumeClaim".to_string(), "data-db-0".to_string())),
        "a StatefulSet's claim is data"
    );
    assert!(exported.contains_key(&("Widget".to_string(), "gizmo".to_string())));
    // The CRD of the exported custom resource comes along; nothing else cluster-scoped but the namespace.
    let cluster_scoped: BTreeSet<(String, String)> =
        manifest.files.iter().filter(|e| e.namespace.is_none()).map(|e| (e.kind.clone(), e.name.clone())).collect();
    assert_eq!(
        cluster_scoped,
        BTreeSet::from([
            ("CustomResourceDefinition".to_string(), format!("widgets.{ns}.k8sops.example.com")),
            ("Namespace".to_string(), ns.clone())
        ])
    );

    // The volume, asked for by label with the cluster-scoped objects: its claim by name, not UID.
    let (_, pv_at) = (dir2.path(), Location::store(k8sops_backup::store::local_dir(dir2.path()).unwrap(), "pv"));
    let pv_params = ExportParams::default()
        .include_resources(["pv"])
        .include_cluster_resources(true)
        .selector(format!("k8sops-e2e-run={ns}").parse().unwrap());
    export(&real.cluster, &pv_at, &pv_params).await.unwrap();
    let pv_manifest = read_manifest(&pv_at).await.unwrap();
    assert_eq!(pv_manifest.files.len(), 1);
    let pv: Value = serde_norway::from_str(
        &std::fs::read_to_string(dir2.path().join("pv").join(&pv_manifest.files[0].path)).unwrap(),
    )
    .unwrap();
    let claim = &pv["spec"]["claimRef"];
    assert_eq!(
        (claim["namespace"].as_str(), claim["name"].as_str(), claim.get("uid")),
        (Some(ns.as_str()), Some("scratch"), None)
    );

    teardown(&real, &[&ns], &[format!("crd/widgets.{ns}.k8sops.example.com"), format!("pv/{ns}-pv")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_restored_under_another_name_is_reproduced_and_its_crd_recreated() {
    let Some(real) = real_oracle().await else { return };
    let ns = fresh_namespace(&real.cluster, "restore").await;
    setup(&real, &ns).await;
    let copy = unique_name("restored");
    let dry = unique_name("dry");
    let crd = format!("widgets.{ns}.k8sops.example.com");
    let dir = tempfile::tempdir().unwrap();
    let at = Location::archive(dir.path().join("b.tar.gz"));
    // The backup's ServiceAccount names the token the cluster minted for it
    // (the 1.24 server still mints one per account).
    let (r, n) = (&real, ns.as_str());
    let source_token = eventually("a token Secret listed in the ServiceAccount", move || async move {
        let out = kubectl_ok(r, &["get", "sa", "deployer", "-n", n, "-o", "jsonpath={.secrets[*].name}"]).await;
        out.split_whitespace().find(|n| n.starts_with("deployer-token-")).map(str::to_string)
    })
    .await;
    export(&real.cluster, &at, &ExportParams::default().include_namespaces([ns.as_str()]).include_secrets(true))
        .await
        .unwrap();
    let manifest = read_manifest(&at).await.unwrap();

    // A server dry run into a namespace that does not exist changes nothing.
    let params = RestoreParams::default().namespace_mapping([(ns.as_str(), dry.as_str())]).dry_run(DryRun::Server);
    let report = restore(&real.cluster, &at, &params).await.unwrap();
    assert_eq!(report.status, RestoreStatus::Completed, "{report}");
    let ns_line = report.objects.iter().find(|o| o.kind == "Namespace").unwrap();
    assert_eq!((ns_line.name.as_str(), &ns_line.outcome), (dry.as_str(), &RestoreOutcome::WouldCreate));
    assert!(
        report.objects.iter().filter(|o| o.namespace.is_some()).all(|o| o.outcome == RestoreOutcome::WouldCreate),
        "{report}"
    );
    let (exists, _, _) = real.kubectl(&["get", "namespace", &dry]).await;
    assert!(!exists, "a dry run creates nothing");

    // The CRD is gone from the cluster (and its custom resources with it): the restore brings it back first.
    kubectl_ok(&real, &["delete", "crd", &crd, "--wait=true"]).await;
    let params = RestoreParams::default().namespace_mapping([(ns.as_str(), copy.as_str())]);
    let report = restore(&real.cluster, &at, &params).await.unwrap();
    println!("{report}");
    assert_eq!(report.status, RestoreStatus::Completed, "{report}");
    let crd_line = report.objects.iter().find(|o| o.kind == "CustomResourceDefinition").unwrap();
    assert_eq!(crd_line.outcome, RestoreOutcome::Created);
    let widget = report.objects.iter().find(|o| o.kind == "Widget").unwrap();
    assert_eq!((widget.namespace.as_deref(), &widget.outcome), (Some(copy.as_str()), &RestoreOutcome::Created));

    // kubectl: every exported object of the namespace exists in the copy and holds what the backup holds.
    let types: Vec<String> = manifest
        .counts
        .iter()
        .filter(|(r, n)| **n > 0 && !r.starts_with("namespaces") && !r.starts_with("customresourcedefinitions"))
        .map(|(r, _)| r.clone())
        .collect();
    let in_copy = kubectl_objects(&real, &copy, &types.join(",")).await;
    let mut backup = BTreeMap::new();
    {
        let file = std::fs::File::open(dir.path().join("b.tar.gz")).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            if let Some(e) = manifest.files.iter().find(|e| e.path == path && e.namespace.is_some()) {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                backup.insert((e.kind.clone(), e.name.clone()), serde_norway::from_str::<Value>(&text).unwrap());
            }
        }
    }
    for (id, mut y) in backup {
        let t = in_copy.get(&id).unwrap_or_else(|| panic!("{id:?} was not restored"));
        y["metadata"]["namespace"] = Value::String(copy.clone());
        if id.0 == "RoleBinding" {
            y["subjects"][0]["namespace"] = Value::String(copy.clone());
        }
        if id.0 == "ServiceAccount" {
            // The token controller lists the copy's own token Secrets here.
            y.as_object_mut().unwrap().remove("secrets");
        }
        subset(&y, t, "").unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }
    // The copy's ServiceAccount names no Secret of the source's: every
    // Secret it lists exists in the copy (its own token, as Velero leaves it).
    let listed = kubectl_ok(&real, &["get", "sa", "deployer", "-n", &copy, "-o", "jsonpath={.secrets[*].name}"]).await;
    assert!(!listed.contains(&source_token), "{listed}");
    for name in listed.split_whitespace() {
        let (exists, _, err) = real.kubectl(&["get", "secret", name, "-n", &copy]).await;
        assert!(exists, "the restored ServiceAccount names Secret {name}, which the copy lacks: {err}");
    }
    let source_ip = kubectl_ok(&real, &["get", "svc", "web", "-n", &ns, "-o", "jsonpath={.spec.clusterIP}"]).await;
    let copy_ip = kubectl_ok(&real, &["get", "svc", "web", "-n", &copy, "-o", "jsonpath={.spec.clusterIP}"]).await;
    assert!(!copy_ip.is_empty() && copy_ip != source_ip, "the copy got an IP of its own");
    // The controllers take over in the copy: the Deployment makes its ReplicaSet again.
    kubectl_ok(&real, &["wait", "-n", &copy, "deployment/web", "--for=jsonpath={.status.replicas}=2", "--timeout=60s"])
        .await;

    // Again: everything exists, so everything is skipped; with update, a changed value is put back.
    let again = restore(&real.cluster, &at, &params).await.unwrap();
    assert!(again.objects.iter().all(|o| o.outcome == RestoreOutcome::Skipped(SkipReason::AlreadyExists)), "{again}");
    kubectl_ok(
        &real,
        &["patch", "configmap", "settings", "-n", &copy, "--type=merge", "-p", r#"{"data":{"mode":"maintenance"}}"#],
    )
    .await;
    let update = params.clone().existing(ExistingPolicy::Update).include_resources(["configmaps", "deployments"]);
    let updated = restore(&real.cluster, &at, &update).await.unwrap();
    assert_eq!(updated.status, RestoreStatus::Completed, "{updated}");
    assert!(updated.objects.iter().all(|o| o.outcome == RestoreOutcome::Updated), "{updated}");
    let mode = kubectl_ok(&real, &["get", "configmap", "settings", "-n", &copy, "-o", "jsonpath={.data.mode}"]).await;
    assert_eq!(mode, "production");

    teardown(&real, &[&ns, &copy], &[format!("crd/{crd}"), format!("pv/{ns}-pv")]).await;
}
