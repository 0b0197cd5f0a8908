//! Realistic, deterministic demo clusters: EKS-style node groups, workloads
//! and their pods, budgets, services, storage, quotas, events, RBAC (with
//! some risky bindings), Pod Security labels, deprecated API versions in
//! last-applied annotations, and metrics — from a handful of nodes up to
//! 5,000 nodes and 150,000 pods.

use serde::Serialize;
use serde_json::{json, Value};

use crate::{faults::SplitMix, insert_into, kubelet::running_status, store::Store, Result, TestServer};

/// A node group of the demo cluster.
///
/// ```
/// let demo = k8sops_testkit::DemoCluster::small();
/// let system = demo.node_groups.iter().find(|g| g.name == "system").unwrap();
/// assert_eq!(system.taints, ["CriticalAddonsOnly=true:NoSchedule"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoNodeGroup {
    /// Group name (`eks.amazonaws.com/nodegroup` label).
    pub name: String,
    /// Number of nodes.
    pub nodes: usize,
    /// EC2 instance type.
    pub instance_type: String,
    /// Allocatable CPU, e.g. `3920m`.
    pub cpu: String,
    /// Allocatable memory, e.g. `15256Mi`.
    pub memory: String,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// Taints as `key=value:Effect`.
    pub taints: Vec<String>,
}

/// What a demo cluster contains.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let summary = server.load(&k8sops_testkit::DemoCluster::small())?;
/// println!("{} nodes, {} pods in {} namespaces ({} objects)", summary.nodes, summary.pods, summary.namespaces, summary.objects);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    /// Nodes created.
    pub nodes: usize,
    /// Pods created.
    pub pods: usize,
    /// Namespaces created (besides the built-in ones).
    pub namespaces: usize,
    /// Deployments created.
    pub deployments: usize,
    /// Objects created in total.
    pub objects: usize,
}

/// A recipe for a demo cluster. The same seed gives the same cluster.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// let summary = server.load(&k8sops_testkit::DemoCluster::small())?;
/// assert!(summary.nodes >= 6 && summary.pods >= 40);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCluster {
    /// Seed for names, placement and usage.
    pub seed: u64,
    /// Node groups.
    pub node_groups: Vec<DemoNodeGroup>,
    /// Extra generated pods (in generated namespaces) beyond the fixed scenario.
    pub bulk_pods: usize,
    /// Kubelet version of the nodes.
    pub kubelet_version: String,
    /// Add the problem scenarios (crash-looping, pending, failed pods,
    /// NotReady and cordoned nodes, a quota at 90%, risky RBAC).
    pub problems: bool,
}

fn group(
    name: &str,
    nodes: usize,
    instance_type: &str,
    cpu: &str,
    memory: &str,
    capacity: &str,
    taints: &[&str],
) -> DemoNodeGroup {
    DemoNodeGroup {
        name: name.into(),
        nodes,
        instance_type: instance_type.into(),
        cpu: cpu.into(),
        memory: memory.into(),
        capacity_type: capacity.into(),
        taints: taints.iter().map(|t| t.to_string()).collect(),
    }
}

impl DemoCluster {
    /// Seven nodes in three groups and about sixty pods, with every problem scenario.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let summary = server.load(&DemoCluster::small())?;
    /// assert_eq!(summary.nodes, 7);
    /// assert!(summary.pods >= 40);
    /// # Ok(()) }
    /// ```
    pub fn small() -> Self {
        DemoCluster {
            seed: 42,
            node_groups: vec![
                group("system", 2, "m5.large", "1930m", "7220Mi", "ON_DEMAND", &["CriticalAddonsOnly=true:NoSchedule"]),
                group("general", 4, "m5.xlarge", "3920m", "15256Mi", "ON_DEMAND", &[]),
                group("spot", 1, "c5.2xlarge", "7910m", "14600Mi", "SPOT", &["spot=true:PreferNoSchedule"]),
            ],
            bulk_pods: 0,
            kubelet_version: "v1.29.3-eks-ae9a62a".into(),
            problems: true,
        }
    }

    /// A large cluster: `nodes` nodes (mostly in a `general` group) and about
    /// `pods` pods in total, for scale tests and benches.
    ///
    /// ```
    /// let big = k8sops_testkit::DemoCluster::scaled(1000, 30_000);
    /// assert_eq!(big.node_groups.iter().map(|g| g.nodes).sum::<usize>(), 1000);
    /// ```
    pub fn scaled(nodes: usize, pods: usize) -> Self {
        let mut d = Self::small();
        let fixed: usize = d.node_groups.iter().map(|g| g.nodes).sum();
        if nodes > fixed {
            d.node_groups[1].nodes += nodes - fixed;
        }
        d.bulk_pods = pods.saturating_sub(60);
        d
    }

    /// Changes the seed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// // Same seed, same generated names and usage figures.
    /// let (a, b) = (TestServer::start().await?, TestServer::start().await?);
    /// a.load(&DemoCluster::small().seed(7))?;
    /// b.load(&DemoCluster::small().seed(7))?;
    /// async fn pod_names(s: &TestServer) -> kube::Result<Vec<String>> {
    ///     let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(s.client());
    ///     Ok(pods.list(&Default::default()).await?.items.into_iter().filter_map(|p| p.metadata.name).collect())
    /// }
    /// assert_eq!(pod_names(&a).await?, pod_names(&b).await?);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Turns the problem scenarios on or off.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{DemoCluster, Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let calm = server.load(&DemoCluster::small().problems(false))?;
    /// assert_eq!(calm.nodes, 7);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn problems(mut self, on: bool) -> Self {
        self.problems = on;
        self
    }

    pub(crate) fn load_into(&self, server: &TestServer) -> Result<DemoSummary> {
        let mut store = server.shared.store();
        let mut b = Builder {
            store: &mut store,
            rng: SplitMix::new(self.seed),
            summary: DemoSummary::default(),
            now: k8s_openapi::jiff::Timestamp::now().as_second(),
            generated: Default::default(),
        };
        let nodes = b.nodes(self)?;
        b.scenario(self, &nodes)?;
        b.bulk(self, &nodes)?;
        b.metrics();
        Ok(b.summary.clone())
    }
}

struct Node {
    name: String,
    group: String,
    schedulable: bool,
    tainted: bool,
    ip: String,
}

struct Builder<'a> {
    store: &'a mut Store,
    rng: SplitMix,
    summary: DemoSummary,
    now: i64,
    generated: std::collections::HashSet<String>,
}

/// A Warning event for a troubled pod.
struct Warning {
    reason: &'static str,
    message: &'static str,
    ago: i64,
}

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

impl Builder<'_> {
    fn ts(&self, secs_ago: i64) -> String {
        k8s_openapi::jiff::Timestamp::from_second(self.now - secs_ago).map(|t| t.to_string()).unwrap_or_default()
    }

    fn put(&mut self, obj: Value) -> Result<Value> {
        self.summary.objects += 1;
        insert_into(self.store, obj)
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| format!("{:x}", self.rng.below(16))).collect()
    }

    fn suffix(&mut self) -> String {
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5).map(|_| CHARS[self.rng.below(CHARS.len() as u64) as usize] as char).collect()
    }

    /// `prefix-xxxxx` with a random suffix, drawn again on a collision as
    /// the API server does for `generateName` (at 5,000 DaemonSet pods a
    /// repeat is more likely than not).
    fn generate_name(&mut self, prefix: &str) -> String {
        loop {
            let name = format!("{prefix}-{}", self.suffix());
            if self.generated.insert(name.clone()) {
                return name;
            }
        }
    }

    fn namespace(&mut self, name: &str, labels: Value) -> Result<()> {
        let mut l = json!({"kubernetes.io/metadata.name": name});
        if let (Some(m), Some(extra)) = (l.as_object_mut(), labels.as_object()) {
            m.extend(extra.clone());
        }
        let created = self.ts(86_400 * 90);
        self.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": l, "creationTimestamp": created},
                        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
        self.summary.namespaces += 1;
        Ok(())
    }

    fn nodes(&mut self, d: &DemoCluster) -> Result<Vec<Node>> {
        let mut out = Vec::new();
        let mut idx = 0usize;
        for g in &d.node_groups {
            for _ in 0..g.nodes {
                idx += 1;
                let ip = format!("10.0.{}.{}", (idx / 250) % 250, idx % 250 + 2);
                let name = format!("ip-{}.ec2.internal", ip.replace('.', "-"));
                let zone = ZONES[idx % 3];
                let instance = format!("i-0{}", self.hex(16));
                let not_ready = d.problems
                    && g.name == "general"
                    && out.iter().filter(|n: &&Node| n.group == "general").count() == 3;
                let cordoned = d.problems
                    && g.name == "general"
                    && out.iter().filter(|n: &&Node| n.group == "general").count() == 2;
                let taints: Vec<Value> = g
                    .taints
                    .iter()
                    .filter_map(|t| {
                        let (kv, effect) = t.split_once(':')?;
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        Some(json!({"key": k, "value": v, "effect": effect}))
                    })
                    .chain(cordoned.then(|| json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": self.ts(3600)})))
                    .chain(not_ready.then(|| json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": self.ts(1800)})))
                    .collect();
                let hb = self.ts(20);
                let cond = |t: &str, ok: bool, reason: &str, msg: &str, s: &Builder<'_>| {
                    json!({"type": t, "status": if ok == (t == "Ready") { "True" } else { "False" }, "reason": reason, "message": msg,
                           "lastHeartbeatTime": hb, "lastTransitionTime": s.ts(86_400 * 20)})
                };
                let conditions = vec![
                    cond(
                        "MemoryPressure",
                        true,
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                        self,
                    ),
                    cond("DiskPressure", true, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", self),
                    cond("PIDPressure", true, "KubeletHasSufficientPID", "kubelet has sufficient PID available", self),
                    if not_ready {
                        json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                               "lastHeartbeatTime": hb, "lastTransitionTime": self.ts(1800)})
                    } else {
                        cond("Ready", true, "KubeletReady", "kubelet is posting ready status", self)
                    },
                ];
                let age_days = 10 + self.rng.below(80) as i64;
                let created = self.ts(86_400 * age_days);
                let (machine_id, system_uuid, boot_id) = (self.hex(32), format!("ec2{}", self.hex(29)), self.hex(32));
                let cpu_capacity = match g.instance_type.as_str() {
                    "m5.large" => "2",
                    "m5.xlarge" => "4",
                    _ => "8",
                };
                let mut spec = json!({"providerID": format!("aws:///{zone}/{instance}"), "taints": taints});
                if cordoned {
                    spec["unschedulable"] = json!(true);
                }
                self.put(json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "creationTimestamp": created, "labels": {
                        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                        "node.kubernetes.io/instance-type": g.instance_type, "topology.kubernetes.io/zone": zone,
                        "topology.kubernetes.io/region": "us-east-1",
                        "eks.amazonaws.com/nodegroup": g.name, "eks.amazonaws.com/capacityType": g.capacity_type,
                        "eks.amazonaws.com/nodegroup-image": "ami-0c1f7b7e2f1d0a9b3",
                        "alpha.eksctl.io/nodegroup-name": g.name}},
                    "spec": spec,
                    "status": {
                        "capacity": {"cpu": cpu_capacity, "memory": g.memory.replace("Mi", "") .parse::<u64>().map(|m| format!("{}Ki", (m + 700) * 1024)).unwrap_or_default(), "pods": "110", "ephemeral-storage": "83873772Ki", "hugepages-2Mi": "0"},
                        "allocatable": {"cpu": g.cpu, "memory": g.memory, "pods": "110", "ephemeral-storage": "76224326324", "hugepages-2Mi": "0"},
                        "conditions": conditions,
                        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "InternalDNS", "address": name}, {"type": "Hostname", "address": name}],
                        "nodeInfo": {"machineID": machine_id, "systemUUID": system_uuid, "bootID": boot_id,
                            "kernelVersion": "6.1.84-99.169.amzn2023.x86_64", "osImage": "Amazon Linux 2023.4.20240513",
                            "containerRuntimeVersion": "containerd://1.7.11", "kubeletVersion": d.kubelet_version, "kubeProxyVersion": d.kubelet_version,
                            "operatingSystem": "linux", "architecture": "amd64"},
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    }
                }))?;
                self.summary.nodes += 1;
                out.push(Node {
                    name,
                    group: g.name.clone(),
                    schedulable: !cordoned && !not_ready,
                    tainted: g.taints.iter().any(|t| t.ends_with(":NoSchedule")),
                    ip,
                });
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn pod(
        &mut self,
        ns: &str,
        name: &str,
        labels: Value,
        owner: Option<(&str, &str, &str)>,
        node: Option<&Node>,
        containers: Value,
        volumes: Value,
        status: Option<Value>,
        age: i64,
    ) -> Result<Value> {
        let mut meta = json!({"name": name, "namespace": ns, "labels": labels, "creationTimestamp": self.ts(age)});
        if let Some((kind, oname, uid)) = owner {
            let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
            meta["ownerReferences"] = json!([{"apiVersion": api, "kind": kind, "name": oname, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
        }
        let mut spec = json!({"containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                              "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "serviceAccountName": "default",
                              "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]});
        if volumes.as_array().is_some_and(|v| !v.is_empty()) {
            spec["volumes"] = volumes;
        }
        if let Some(n) = node {
            spec["nodeName"] = json!(n.name);
        }
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
        let mut st = match status {
            Some(s) => s,
            None => running_status(&pod),
        };
        st["qosClass"] = json!("Burstable");
        if let Some(n) = node {
            st["hostIP"] = json!(n.ip);
            if st["phase"] != "Pending" {
                let octet = 2 + self.rng.below(250);
                st["podIP"] = json!(format!("10.1.{}.{octet}", self.rng.below(250)));
                st["podIPs"] = json!([{"ip": st["podIP"]}]);
            }
        }
        let started = self.ts(age);
        if let Some(cs) = st["containerStatuses"].as_array_mut() {
            for c in cs {
                if c["state"]["running"].is_object() {
                    c["state"]["running"]["startedAt"] = json!(started);
                }
            }
        }
        pod["status"] = st;
        self.summary.pods += 1;
        self.put(pod)
    }

    fn container(name: &str, image: &str, cpu: &str, mem: &str, limit_mem: Option<&str>) -> Value {
        let mut c = json!({"name": name, "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                           "resources": {"requests": {"cpu": cpu, "memory": mem}}});
        if let Some(l) = limit_mem {
            c["resources"]["limits"] = json!({"memory": l});
        }
        c
    }

    /// Picks a schedulable node for a workload pod (tainted groups only when tolerated).
    fn place<'n>(&mut self, nodes: &'n [Node], tolerate: bool) -> Option<&'n Node> {
        let candidates: Vec<&Node> = nodes.iter().filter(|n| n.schedulable && (tolerate || !n.tainted)).collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[self.rng.below(candidates.len() as u64) as usize])
    }

    #[allow(clippy::too_many_arguments)]
    fn deployment(
        &mut self,
        ns: &str,
        name: &str,
        replicas: usize,
        image: &str,
        cpu: &str,
        mem: &str,
        nodes: &[Node],
        tolerate: bool,
    ) -> Result<Vec<Value>> {
        let hash = self.hex(10).replace(|c: char| !c.is_ascii_alphanumeric(), "");
        let labels = json!({"app": name});
        let pod_labels = json!({"app": name, "pod-template-hash": hash});
        let template = json!({"metadata": {"labels": pod_labels}, "spec": {"containers": [Self::container(name, image, cpu, mem, Some(&bump_mem(mem)))]}});
        let age = 86_400 * (1 + self.rng.below(60) as i64);
        let dep = self.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": self.ts(age), "generation": 1,
                         "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template,
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
            "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas}}))?;
        self.summary.deployments += 1;
        let rs_name = format!("{name}-{hash}");
        let rs = self.put(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": pod_labels, "creationTimestamp": self.ts(age),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": pod_labels}, "template": template},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 1}}))?;
        let rs_uid = rs["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let mut pods = Vec::new();
        for _ in 0..replicas {
            let node = self.place(nodes, tolerate);
            let pod_name = self.generate_name(&rs_name);
            let containers = json!([Self::container(name, image, cpu, mem, Some(&bump_mem(mem)))]);
            pods.push(self.pod(
                ns,
                &pod_name,
                pod_labels.clone(),
                Some(("ReplicaSet", &rs_name, &rs_uid)),
                node,
                containers,
                json!([]),
                None,
                age,
            )?);
        }
        Ok(pods)
    }

    fn daemonset(&mut self, ns: &str, name: &str, image: &str, cpu: &str, mem: &str, nodes: &[Node]) -> Result<()> {
        let labels = json!({"k8s-app": name});
        let ds = self.put(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": self.ts(86_400 * 90)},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [Self::container(name, image, cpu, mem, None)], "tolerations": [{"operator": "Exists"}]}}},
            "status": {"desiredNumberScheduled": nodes.len(), "currentNumberScheduled": nodes.len(), "numberReady": nodes.len(), "numberAvailable": nodes.len()}}))?;
        let uid = ds["metadata"]["uid"].as_str().unwrap_or("").to_string();
        for n in nodes {
            let pod_name = self.generate_name(name);
            let containers = json!([Self::container(name, image, cpu, mem, None)]);
            self.pod(
                ns,
                &pod_name,
                labels.clone(),
                Some(("DaemonSet", name, &uid)),
                Some(n),
                containers,
                json!([]),
                None,
                86_400 * 30,
            )?;
        }
        Ok(())
    }

    fn service(&mut self, ns: &str, name: &str, selector: Value, target_port: i64, pods: &[Value]) -> Result<()> {
        let ip = format!("172.20.{}.{}", self.rng.below(250), 2 + self.rng.below(250));
        self.put(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "creationTimestamp": self.ts(86_400 * 30)},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "selector": selector, "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": target_port}]}}))?;
        let endpoints: Vec<Value> = pods
            .iter()
            .filter(|p| p["status"]["podIP"].is_string())
            .map(|p| json!({"addresses": [p["status"]["podIP"]], "conditions": {"ready": true, "serving": true, "terminating": false},
                            "nodeName": p["spec"]["nodeName"], "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]}}))
            .collect();
        let slice_name = self.generate_name(name);
        self.put(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": slice_name, "namespace": ns, "labels": {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": [{"name": "http", "port": target_port, "protocol": "TCP"}]}))?;
        let addresses: Vec<Value> =
            pods.iter().filter_map(|p| p["status"]["podIP"].as_str()).map(|ip| json!({"ip": ip})).collect();
        let subsets = if addresses.is_empty() {
            json!([])
        } else {
            json!([{"addresses": addresses, "ports": [{"name": "http", "port": target_port, "protocol": "TCP"}]}])
        };
        self.put(json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}, "subsets": subsets}))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        ns: &str,
        kind: &str,
        name: &str,
        uid: &str,
        ty: &str,
        reason: &str,
        message: &str,
        ago: i64,
    ) -> Result<()> {
        let ev_name = format!("{name}.{}", self.hex(16));
        let ts = self.ts(ago);
        self.put(json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns, "creationTimestamp": ts},
            "involvedObject": {"kind": kind, "namespace": if kind == "Node" { "" } else { ns }, "name": name, "uid": uid, "apiVersion": "v1"},
            "reason": reason, "message": message, "type": ty, "source": {"component": if reason == "FailedScheduling" { "default-scheduler" } else { "kubelet" }},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "reportingComponent": "", "reportingInstance": ""}))?;
        Ok(())
    }

    fn scenario(&mut self, d: &DemoCluster, nodes: &[Node]) -> Result<()> {
        // kube-system
        self.daemonset(
            "kube-system",
            "aws-node",
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.1",
            "25m",
            "64Mi",
            nodes,
        )?;
        self.daemonset(
            "kube-system",
            "kube-proxy",
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.29.3-eksbuild.2",
            "100m",
            "64Mi",
            nodes,
        )?;
        let dns = self.deployment(
            "kube-system",
            "coredns",
            2,
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.1-eksbuild.9",
            "100m",
            "70Mi",
            nodes,
            true,
        )?;
        self.service("kube-system", "kube-dns", json!({"app": "coredns"}), 8080, &dns)?;
        self.deployment(
            "kube-system",
            "metrics-server",
            1,
            "registry.k8s.io/metrics-server/metrics-server:v0.7.1",
            "100m",
            "200Mi",
            nodes,
            true,
        )?;
        self.put(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "coredns"}}}}))?;

        // Storage classes.
        self.put(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp2", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubernetes.io/aws-ebs", "parameters": {"type": "gp2", "fsType": "ext4"}, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}))?;
        self.put(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3"},
            "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}, "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true}))?;

        // shop: a web tier behind a PDB, an API, and a Redis StatefulSet with a volume.
        self.namespace("shop", json!({"team": "storefront", "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}))?;
        let web =
            self.deployment("shop", "web", 3, "public.ecr.aws/nginx/nginx:1.25", "250m", "256Mi", nodes, false)?;
        self.service("shop", "web", json!({"app": "web"}), 8080, &web)?;
        self.put(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb", "namespace": "shop",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"policy/v1beta1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"web-pdb\",\"namespace\":\"shop\"},\"spec\":{\"minAvailable\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}\n"}},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}))?;
        let api = self.deployment(
            "shop",
            "api",
            2,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-api:2.4.1",
            "500m",
            "512Mi",
            nodes,
            false,
        )?;
        self.service("shop", "api", json!({"app": "api"}), 8080, &api)?;
        self.statefulset_with_volume("shop", "redis", "public.ecr.aws/docker/library/redis:7.2", "gp2", "10Gi", nodes)?;
        self.put(json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "shop-quota", "namespace": "shop"},
            "spec": {"hard": {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "50"}},
            "status": {"hard": {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "50"}, "used": {"requests.cpu": "1850m", "requests.memory": "1920Mi", "pods": "6"}}}))?;
        self.put(json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "shop"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}))?;
        self.put(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "api-from-web", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]}}))?;
        self.put(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}}\n"}},
            "spec": {"ingressClassName": "alb", "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}))?;

        // payments: restricted Pod Security.
        self.namespace("payments", json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted"}))?;
        let pay = self.deployment(
            "payments",
            "payments",
            2,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments:1.9.0",
            "300m",
            "384Mi",
            nodes,
            false,
        )?;
        self.service("payments", "payments", json!({"app": "payments"}), 8080, &pay)?;
        self.put(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "payments", "namespace": "payments"},
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "payments"}}}}))?;

        // monitoring: Prometheus with a volume.
        self.namespace("monitoring", json!({}))?;
        self.statefulset_with_volume(
            "monitoring",
            "prometheus",
            "quay.io/prometheus/prometheus:v2.51.2",
            "gp3",
            "50Gi",
            nodes,
        )?;
        self.daemonset("monitoring", "node-exporter", "quay.io/prometheus/node-exporter:v1.8.0", "50m", "50Mi", nodes)?;

        // batch: CronJob (deprecated apiVersion in its last-applied annotation) and finished Jobs.
        self.namespace("batch", json!({}))?;
        self.put(json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly-report", "namespace": "batch",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"batch/v1beta1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"nightly-report\",\"namespace\":\"batch\"}}\n"}},
            "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "report", "image": "busybox:1.36"}]}}}}}}))?;
        for (i, ok) in [(1, true), (2, true), (3, false)] {
            let job_name = format!("nightly-report-2891{i}");
            let age = 86_400 * (4 - i);
            let job = self.put(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job_name, "namespace": "batch", "creationTimestamp": self.ts(age), "labels": {"job-name": job_name}},
                "spec": {"completions": 1, "backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "busybox:1.36"}]}}},
                "status": if ok { json!({"succeeded": 1, "startTime": self.ts(age), "completionTime": self.ts(age - 60), "conditions": [{"type": "Complete", "status": "True"}]}) }
                          else { json!({"failed": 1, "startTime": self.ts(age), "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}) }}))?;
            let uid = job["metadata"]["uid"].as_str().unwrap_or("").to_string();
            let node = self.place(nodes, false);
            let code = if ok { 0 } else { 1 };
            let status = json!({"phase": if ok { "Succeeded" } else { "Failed" }, "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
                "containerStatuses": [{"name": "report", "image": "busybox:1.36", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code, "reason": if ok { "Completed" } else { "Error" }, "startedAt": self.ts(age), "finishedAt": self.ts(age - 60)}}}]});
            let pod_name = self.generate_name(&job_name);
            self.pod(
                "batch",
                &pod_name,
                json!({"job-name": job_name}),
                Some(("Job", &job_name, &uid)),
                node,
                json!([{"name": "report", "image": "busybox:1.36"}]),
                json!([]),
                Some(status),
                age,
            )?;
        }

        if d.problems {
            self.problems(nodes)?;
        }
        Ok(())
    }

    fn statefulset_with_volume(
        &mut self,
        ns: &str,
        name: &str,
        image: &str,
        class: &str,
        size: &str,
        nodes: &[Node],
    ) -> Result<()> {
        let labels = json!({"app": name});
        let sts = self.put(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": self.ts(86_400 * 40)},
            "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [Self::container(name, image, "200m", "1Gi", Some("2Gi"))]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "resources": {"requests": {"storage": size}}}}]},
            "status": {"replicas": 1, "readyReplicas": 1, "currentReplicas": 1}}))?;
        let uid = sts["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let pvc = format!("data-{name}-0");
        let pv = format!("pvc-{}-{}-4{}-8{}-{}", self.hex(8), self.hex(4), self.hex(3), self.hex(3), self.hex(12));
        let volume_handle = format!("vol-0{}", self.hex(16));
        self.put(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv, "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": if class == "gp3" { "Retain" } else { "Delete" }, "storageClassName": class,
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": pvc}, "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": volume_handle}},
            "status": {"phase": "Bound"}}))?;
        self.put(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": pvc, "namespace": ns, "labels": labels, "finalizers": ["kubernetes.io/pvc-protection"]},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "volumeName": pv, "resources": {"requests": {"storage": size}}},
            "status": {"phase": "Bound", "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"]}}))?;
        let node = self.place(nodes, false);
        let containers = json!([Self::container(name, image, "200m", "1Gi", Some("2Gi"))]);
        let pod = self.pod(
            ns,
            &format!("{name}-0"),
            labels.clone(),
            Some(("StatefulSet", name, &uid)),
            node,
            containers,
            json!([{"name": "data", "persistentVolumeClaim": {"claimName": pvc}}]),
            None,
            86_400 * 40,
        )?;
        self.service(ns, name, labels, 8080, &[pod])?;
        Ok(())
    }

    fn problems(&mut self, nodes: &[Node]) -> Result<()> {
        self.namespace("legacy", json!({}))?;
        // A crash-looping deployment pod (OOMKilled).
        let crash = json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "report-worker", "image": "report-worker:0.3.0", "imageID": "", "ready": false, "restartCount": 14,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=report-worker"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": self.ts(400), "finishedAt": self.ts(380)}}}]});
        let warning = Warning {
            reason: "BackOff",
            message: "Back-off restarting failed container report-worker in pod",
            ago: 60,
        };
        self.troubled("report-worker", "report-worker:0.3.0", ("100m", "128Mi"), nodes, crash, warning)?;
        // An image that cannot be pulled.
        let pull = json!({"phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "frontend-canary", "image": "frontend:does-not-exist", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"frontend:does-not-exist\""}}}]});
        let warning = Warning {
            reason: "Failed",
            message: "Failed to pull image \"frontend:does-not-exist\": not found",
            ago: 120,
        };
        self.troubled("frontend-canary", "frontend:does-not-exist", ("100m", "128Mi"), nodes, pull, warning)?;
        // A pod that does not fit anywhere (no nodeName).
        let pending = json!({"phase": "Pending", "qosClass": "Burstable", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/7 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 6 Insufficient cpu."}]});
        let warning = Warning {
            reason: "FailedScheduling",
            message: "0/7 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 6 Insufficient cpu. preemption: 0/7 nodes are available: 7 No preemption victims found for incoming pod.",
            ago: 30,
        };
        self.troubled("batch-analytics", "analytics:5.0", ("16", "64Gi"), nodes, pending, warning)?;
        // An unreplicated pod with emptyDir, and a privileged one.
        let node = self.place(nodes, false);
        self.pod("legacy", "debug-shell", json!({"run": "debug-shell"}), None, node,
            json!([{"name": "shell", "image": "busybox:1.36", "command": ["sleep", "infinity"], "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]),
            json!([{"name": "scratch", "emptyDir": {}}]), None, 86_400 * 12)?;
        let node = self.place(nodes, false);
        let mut c = Self::container("agent", "legacy/agent:1.0", "50m", "64Mi", None);
        c["securityContext"] = json!({"privileged": true});
        self.pod(
            "legacy",
            "host-agent",
            json!({"app": "host-agent"}),
            None,
            node,
            json!([c]),
            json!([{"name": "host", "hostPath": {"path": "/"}}]),
            None,
            86_400 * 200,
        )?;
        // A service that selects nothing, and a claim that cannot bind.
        self.service("legacy", "old-frontend", json!({"app": "frontend-v1"}), 8080, &[])?;
        self.put(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "reports-archive", "namespace": "legacy"},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "efs", "resources": {"requests": {"storage": "100Gi"}}},
            "status": {"phase": "Pending"}}))?;
        self.event(
            "legacy",
            "PersistentVolumeClaim",
            "reports-archive",
            "",
            "Warning",
            "ProvisioningFailed",
            "storageclass.storage.k8s.io \"efs\" not found",
            300,
        )?;
        // A quota at 90%.
        self.put(json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "legacy-quota", "namespace": "legacy"},
            "spec": {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}},
            "status": {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}, "used": {"requests.cpu": "1800m", "requests.memory": "2Gi", "pods": "6"}}}))?;
        // Node events.
        if let Some(n) = nodes.iter().find(|n| !n.schedulable) {
            let name = n.name.clone();
            self.event(
                "default",
                "Node",
                &name,
                &name,
                "Normal",
                "NodeNotSchedulable",
                &format!("Node {name} status is now: NodeNotSchedulable"),
                3600,
            )?;
        }
        // Risky RBAC.
        self.put(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci-deployer", "namespace": "default"}}))?;
        self.put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ci-deployer-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "ci-deployer", "namespace": "default"}]}))?;
        self.put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "secret-reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]}))?;
        self.put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "developers-read-secrets"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"},
            "subjects": [{"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}]}))?;
        self.put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer", "namespace": "shop"},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch", "update"]}, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}))?;
        self.put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "deployer", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
            "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}]}))?;
        Ok(())
    }

    /// Usage for every node and every running pod (metrics.k8s.io, when served).
    fn metrics(&mut self) {
        let (Some(node_def), Some(pod_def)) = (
            self.store.find("metrics.k8s.io", "v1beta1", "nodes").cloned(),
            self.store.find("metrics.k8s.io", "v1beta1", "pods").cloned(),
        ) else {
            return;
        };
        let ts = self.ts(15);
        let nodes: Vec<(String, i64, i64)> = self
            .store
            .range("/nodes", None, None)
            .map(|n| {
                let cpu = k8sops_core::Quantity::try_from(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                    n["status"]["allocatable"]["cpu"].as_str().unwrap_or("1").into(),
                ))
                .map(|q| q.millis())
                .unwrap_or(1000);
                let mem = k8sops_core::Quantity::try_from(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                    n["status"]["allocatable"]["memory"].as_str().unwrap_or("1Gi").into(),
                ))
                .map(|q| q.value())
                .unwrap_or(1 << 30);
                (n["metadata"]["name"].as_str().unwrap_or("").to_string(), cpu, mem)
            })
            .collect();
        for (name, cpu, mem) in nodes {
            let pct = 15 + self.rng.below(60) as i64;
            let obj = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics", "metadata": {"name": name, "labels": {}},
                "timestamp": ts, "window": "20s", "usage": {"cpu": format!("{}m", cpu * pct / 100), "memory": format!("{}Ki", mem * (pct + 5) / 100 / 1024)}});
            let _ = self.store.create(&node_def, obj, false);
        }
        // Usage stays below each container's memory request, as on a healthy cluster.
        type PodKey = (String, String, Vec<(String, u64)>, Value);
        let pods: Vec<PodKey> = self
            .store
            .range("/pods", None, None)
            .filter(|p| p["status"]["phase"] == "Running")
            .map(|p| {
                let containers = p["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        let request = c["resources"]["requests"]["memory"]
                            .as_str()
                            .and_then(|m| m.parse::<k8sops_core::Quantity>().ok())
                            .map(|q| (q.value() / 1024).max(1) as u64)
                            .unwrap_or(64 * 1024);
                        Some((c["name"].as_str()?.to_string(), request))
                    })
                    .collect();
                (
                    p["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
                    p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    containers,
                    p["metadata"]["labels"].clone(),
                )
            })
            .collect();
        for (ns, name, containers, labels) in pods {
            let cs: Vec<Value> = containers
                .iter()
                .map(|(c, request_ki)| {
                    let cpu = 1 + self.rng.below(180);
                    let mem_ki = request_ki * (10 + self.rng.below(80)) / 100;
                    json!({"name": c, "usage": {"cpu": format!("{}n", cpu * 1_000_000), "memory": format!("{}Ki", mem_ki.max(1))}})
                })
                .collect();
            let obj = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics", "metadata": {"name": name, "namespace": ns, "labels": labels},
                "timestamp": ts, "window": "20s", "containers": cs});
            let _ = self.store.create(&pod_def, obj, false);
        }
    }

    /// A one-replica deployment in `legacy` whose pod gets `status` (a
    /// Pending one is unscheduled) and a Warning event.
    fn troubled(
        &mut self,
        name: &str,
        image: &str,
        resources: (&str, &str),
        nodes: &[Node],
        status: Value,
        warning: Warning,
    ) -> Result<()> {
        let image = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{image}");
        let pods = self.deployment("legacy", name, 1, &image, resources.0, resources.1, nodes, false)?;
        let Some(pod) = pods.first() else { return Ok(()) };
        let mut p = pod.clone();
        let pod_name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let uid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let unscheduled =
            status["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["reason"] == "Unschedulable"));
        if unscheduled {
            if let Some(spec) = p["spec"].as_object_mut() {
                spec.remove("nodeName");
            }
            p["status"] = status;
        } else if let (Some(target), Some(patch)) = (p["status"].as_object_mut(), status.as_object()) {
            target.extend(patch.clone());
        }
        self.replace_pod(p)?;
        self.event("legacy", "Pod", &pod_name, &uid, "Warning", warning.reason, warning.message, warning.ago)
    }

    fn replace_pod(&mut self, pod: Value) -> Result<()> {
        if let Some(def) = self.store.find("", "v1", "pods").cloned() {
            self.store.replace(&def, pod);
        }
        Ok(())
    }

    fn bulk(&mut self, d: &DemoCluster, nodes: &[Node]) -> Result<()> {
        if d.bulk_pods == 0 {
            return Ok(());
        }
        let per_deployment = 10;
        let per_namespace = 50;
        let deployments = d.bulk_pods.div_ceil(per_deployment);
        let mut created = 0;
        for i in 0..deployments {
            let ns = format!("team-{:03}", i / per_namespace);
            if i % per_namespace == 0 {
                self.namespace(&ns, json!({"team": format!("team-{:03}", i / per_namespace)}))?;
            }
            let replicas = per_deployment.min(d.bulk_pods - created);
            self.deployment(
                &ns,
                &format!("svc-{:04}", i),
                replicas,
                "public.ecr.aws/nginx/nginx:1.25",
                "100m",
                "128Mi",
                nodes,
                false,
            )?;
            created += replicas;
        }
        Ok(())
    }
}

fn bump_mem(mem: &str) -> String {
    match mem.strip_suffix("Mi").and_then(|m| m.parse::<u64>().ok()) {
        Some(m) => format!("{}Mi", m * 2),
        None => mem.to_string(),
    }
}
