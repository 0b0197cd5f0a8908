use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_eks::types::{NodegroupScalingConfig, Update as EksUpdate};
use k8sops_core::{
    backend::{HealthIssue, NodeGroup, NodeGroupKind, NodeGroups, ScalingConfig, ScalingUpdate, Update, UpdateStatus},
    Error, KubeVersion, Result,
};

use super::{map_sdk, AutoScalingNodeGroups};

/// EKS managed node groups of one cluster (`aws eks describe-nodegroup`,
/// `update-nodegroup-config`, `update-nodegroup-version`, `describe-update`).
/// Instances come from the group's Auto Scaling groups, and
/// `terminate_instance` goes through Auto Scaling.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_core::backend::{NodeGroups, ScalingUpdate};
/// let sdk = k8sops_nodes::aws::sdk_config(None).await;
/// let groups = k8sops_nodes::aws::EksNodeGroups::new(&sdk, "prod");
/// // aws eks update-nodegroup-config --cluster-name prod --nodegroup-name general --scaling-config desiredSize=5
/// let update = groups.update_scaling("general", &ScalingUpdate::desired(5)).await?;
/// println!("update {} is {:?}", update.id, update.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EksNodeGroups {
    eks: aws_sdk_eks::Client,
    asg: AutoScalingNodeGroups,
    cluster: String,
}

impl EksNodeGroups {
    /// Node groups of EKS cluster `cluster`, with clients from `sdk`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// let sdk = k8sops_nodes::aws::sdk_config(None).await;
    /// let groups = k8sops_nodes::aws::EksNodeGroups::new(&sdk, "prod");
    /// let cluster = k8sops_core::Cluster::try_default().await?.to_builder().node_groups(Arc::new(groups)).build();
    /// # Ok(()) }
    /// ```
    pub fn new(sdk: &aws_config::SdkConfig, cluster: impl Into<String>) -> Self {
        EksNodeGroups {
            eks: aws_sdk_eks::Client::new(sdk),
            asg: AutoScalingNodeGroups::new(sdk),
            cluster: cluster.into(),
        }
    }

    /// From existing clients (e.g. with custom retry or test interceptors).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sdk = k8sops_nodes::aws::sdk_config(None).await;
    /// let groups = k8sops_nodes::aws::EksNodeGroups::from_clients(
    ///     aws_sdk_eks::Client::new(&sdk),
    ///     aws_sdk_autoscaling::Client::new(&sdk),
    ///     "prod",
    /// );
    /// # Ok(()) }
    /// ```
    pub fn from_clients(
        eks: aws_sdk_eks::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cluster: impl Into<String>,
    ) -> Self {
        EksNodeGroups { eks, asg: AutoScalingNodeGroups::from_client(autoscaling), cluster: cluster.into() }
    }

    fn backend(&self) -> String {
        format!("EKS cluster {}", self.cluster)
    }

    fn what(&self, name: &str) -> String {
        format!("node group {name} in EKS cluster {}", self.cluster)
    }
}

pub(crate) fn convert_update(u: Option<&EksUpdate>) -> Update {
    let Some(u) = u else {
        return Update { id: String::new(), kind: String::new(), status: UpdateStatus::InProgress, errors: vec![] };
    };
    let status = match u.status().map(|s| s.as_str()) {
        Some("Successful") => UpdateStatus::Successful,
        Some("Failed") => UpdateStatus::Failed,
        Some("Cancelled") => UpdateStatus::Cancelled,
        _ => UpdateStatus::InProgress,
    };
    Update {
        id: u.id().unwrap_or_default().to_string(),
        kind: u.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        status,
        errors: u
            .errors()
            .iter()
            .map(|e| {
                format!("{}: {}", e.error_code().map(|c| c.as_str()).unwrap_or(""), e.error_message().unwrap_or(""))
            })
            .collect(),
    }
}

#[async_trait]
impl NodeGroups for EksNodeGroups {
    fn backend_name(&self) -> String {
        self.backend()
    }

    async fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token = None;
        let mut pages = k8sops_core::aws::NextTokens::new("ListNodegroups");
        loop {
            let resp = self
                .eks
                .list_nodegroups()
                .cluster_name(&self.cluster)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| map_sdk(&self.backend(), &format!("EKS cluster {}", self.cluster), e))?;
            out.extend(resp.nodegroups().iter().cloned());
            token = pages.next(&self.backend(), resp.next_token())?;
            if token.is_none() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    async fn describe(&self, name: &str) -> Result<NodeGroup> {
        let resp = self
            .eks
            .describe_nodegroup()
            .cluster_name(&self.cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| map_sdk(&self.backend(), &self.what(name), e))?;
        let ng = resp.nodegroup().ok_or_else(|| Error::NotFound { what: self.what(name), source: None })?;
        let sc = ng.scaling_config();
        let asgs: Vec<String> = ng
            .resources()
            .map(|r| r.auto_scaling_groups().iter().filter_map(|a| a.name().map(str::to_string)).collect())
            .unwrap_or_default();
        let mut instances = Vec::new();
        for asg in &asgs {
            // The Auto Scaling group may be gone or not visible; the node group is still described.
            if let Ok(g) = self.asg.describe(asg).await {
                instances.extend(g.instances);
            }
        }
        Ok(NodeGroup {
            name: ng.nodegroup_name().unwrap_or(name).to_string(),
            kind: NodeGroupKind::EksManaged,
            status: ng.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            scaling: ScalingConfig {
                min: sc.and_then(|s| s.min_size()).unwrap_or(0),
                max: sc.and_then(|s| s.max_size()).unwrap_or(0),
                desired: sc.and_then(|s| s.desired_size()).unwrap_or(0),
            },
            instance_types: ng.instance_types().to_vec(),
            ami_type: ng.ami_type().map(|a| a.as_str().to_string()),
            release_version: ng.release_version().map(str::to_string),
            kubernetes_version: ng.version().and_then(|v| v.parse::<KubeVersion>().ok()),
            labels: ng
                .labels()
                .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_else(BTreeMap::new),
            health_issues: ng
                .health()
                .map(|h| {
                    h.issues()
                        .iter()
                        .map(|i| HealthIssue {
                            code: i.code().map(|c| c.as_str().to_string()).unwrap_or_default(),
                            message: i.message().unwrap_or_default().to_string(),
                            resource_ids: i.resource_ids().to_vec(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            auto_scaling_groups: asgs,
            instances,
        })
    }

    async fn update_scaling(&self, name: &str, update: &ScalingUpdate) -> Result<Update> {
        let current = self.describe(name).await?;
        let next = update.apply_to(current.scaling);
        next.validate()?;
        let resp = self
            .eks
            .update_nodegroup_config()
            .cluster_name(&self.cluster)
            .nodegroup_name(name)
            .scaling_config(
                NodegroupScalingConfig::builder()
                    .min_size(next.min)
                    .max_size(next.max)
                    .desired_size(next.desired)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| map_sdk(&self.backend(), &self.what(name), e))?;
        Ok(convert_update(resp.update()))
    }

    async fn terminate_instance(&self, name: &str, instance_id: &str, decrement_desired: bool) -> Result<()> {
        let group = self.describe(name).await?;
        let owner =
            group.auto_scaling_groups.iter().find(|_| group.instances.iter().any(|i| i.id == instance_id)).ok_or_else(
                || Error::NotFound { what: format!("instance {instance_id} in {}", self.what(name)), source: None },
            )?;
        self.asg.terminate_instance(owner, instance_id, decrement_desired).await
    }

    async fn update_version(&self, name: &str, version: &KubeVersion) -> Result<Update> {
        let resp = self
            .eks
            .update_nodegroup_version()
            .cluster_name(&self.cluster)
            .nodegroup_name(name)
            .version(version.minor_string())
            .send()
            .await
            .map_err(|e| map_sdk(&self.backend(), &self.what(name), e))?;
        Ok(convert_update(resp.update()))
    }

    async fn describe_update(&self, name: &str, update_id: &str) -> Result<Update> {
        let resp = self
            .eks
            .describe_update()
            .name(&self.cluster)
            .nodegroup_name(name)
            .update_id(update_id)
            .send()
            .await
            .map_err(|e| map_sdk(&self.backend(), &format!("update {update_id} of {}", self.what(name)), e))?;
        Ok(convert_update(resp.update()))
    }
}
