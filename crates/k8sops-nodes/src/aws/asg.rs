use std::{collections::BTreeSet, sync::Arc, sync::Mutex};

use async_trait::async_trait;
use k8sops_core::{
    backend::{Instance, NodeGroup, NodeGroupKind, NodeGroups, ScalingUpdate, Update},
    Error, KubeVersion, Result,
};

use super::map_sdk;

/// EC2 Auto Scaling groups as node groups (`aws autoscaling
/// describe-auto-scaling-groups`, `set-desired-capacity`,
/// `update-auto-scaling-group`, `terminate-instance-in-auto-scaling-group`).
/// Changes apply at once; updates report `Successful`.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use k8sops_core::backend::{NodeGroups, ScalingUpdate};
/// let sdk = k8sops_nodes::aws::sdk_config(None).await;
/// let asgs = k8sops_nodes::aws::AutoScalingNodeGroups::new(&sdk);
/// // aws autoscaling set-desired-capacity --auto-scaling-group-name workers --desired-capacity 4
/// asgs.update_scaling("workers", &ScalingUpdate::desired(4)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AutoScalingNodeGroups {
    client: aws_sdk_autoscaling::Client,
    updates: Arc<Mutex<BTreeSet<String>>>,
}

impl AutoScalingNodeGroups {
    /// A client from `sdk`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_core::backend::NodeGroups;
    /// let sdk = k8sops_nodes::aws::sdk_config(None).await;
    /// let asgs = k8sops_nodes::aws::AutoScalingNodeGroups::new(&sdk);
    /// println!("{:?}", asgs.list().await?);
    /// # Ok(()) }
    /// ```
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_client(aws_sdk_autoscaling::Client::new(sdk))
    }

    /// From an existing client.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sdk = k8sops_nodes::aws::sdk_config(None).await;
    /// let client = aws_sdk_autoscaling::Client::new(&sdk);
    /// let asgs = k8sops_nodes::aws::AutoScalingNodeGroups::from_client(client);
    /// # Ok(()) }
    /// ```
    pub fn from_client(client: aws_sdk_autoscaling::Client) -> Self {
        AutoScalingNodeGroups { client, updates: Arc::default() }
    }

    fn record(&self, kind: &str, name: &str) -> Update {
        let mut updates = self.updates.lock().unwrap_or_else(|p| p.into_inner());
        let id = format!("{kind}-{name}-{}", updates.len() + 1);
        updates.insert(id.clone());
        Update::completed(id, kind)
    }
}

const BACKEND: &str = "EC2 Auto Scaling";

#[async_trait]
impl NodeGroups for AutoScalingNodeGroups {
    fn backend_name(&self) -> String {
        BACKEND.into()
    }

    async fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token = None;
        let mut pages = k8sops_core::aws::NextTokens::new("DescribeAutoScalingGroups");
        loop {
            let resp = self
                .client
                .describe_auto_scaling_groups()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| map_sdk(BACKEND, "auto scaling groups", e))?;
            out.extend(
                resp.auto_scaling_groups().iter().filter_map(|g| g.auto_scaling_group_name().map(str::to_string)),
            );
            token = pages.next(BACKEND, resp.next_token())?;
            if token.is_none() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    async fn describe(&self, name: &str) -> Result<NodeGroup> {
        let resp = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| map_sdk(BACKEND, &format!("auto scaling group {name}"), e))?;
        let g = resp
            .auto_scaling_groups()
            .first()
            .ok_or_else(|| Error::NotFound { what: format!("auto scaling group {name}"), source: None })?;
        let mut group = NodeGroup::new(
            name,
            k8sops_core::backend::ScalingConfig {
                min: g.min_size().unwrap_or(0),
                max: g.max_size().unwrap_or(0),
                desired: g.desired_capacity().unwrap_or(0),
            },
        );
        group.kind = NodeGroupKind::AutoScalingGroup;
        group.status = g.status().unwrap_or("ACTIVE").to_string();
        group.auto_scaling_groups = vec![name.to_string()];
        group.instances = g
            .instances()
            .iter()
            .map(|i| Instance {
                id: i.instance_id().unwrap_or_default().to_string(),
                lifecycle_state: i.lifecycle_state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                health_status: i.health_status().unwrap_or_default().to_string(),
                availability_zone: i.availability_zone().map(str::to_string),
            })
            .collect();
        group.instance_types = g
            .instances()
            .iter()
            .filter_map(|i| i.instance_type().map(str::to_string))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        group.labels = g.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
        Ok(group)
    }

    async fn update_scaling(&self, name: &str, update: &ScalingUpdate) -> Result<Update> {
        let current = self.describe(name).await?;
        let next = update.apply_to(current.scaling);
        next.validate()?;
        if update.min.is_none() && update.max.is_none() {
            self.client
                .set_desired_capacity()
                .auto_scaling_group_name(name)
                .desired_capacity(next.desired)
                .honor_cooldown(update.honor_cooldown)
                .send()
                .await
                .map_err(|e| map_sdk(BACKEND, &format!("auto scaling group {name}"), e))?;
            return Ok(self.record("SetDesiredCapacity", name));
        }
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(next.min)
            .max_size(next.max)
            .desired_capacity(next.desired)
            .send()
            .await
            .map_err(|e| map_sdk(BACKEND, &format!("auto scaling group {name}"), e))?;
        Ok(self.record("UpdateAutoScalingGroup", name))
    }

    async fn terminate_instance(&self, name: &str, instance_id: &str, decrement_desired: bool) -> Result<()> {
        let group = self.describe(name).await?;
        if !group.instances.iter().any(|i| i.id == instance_id) {
            return Err(Error::NotFound {
                what: format!("instance {instance_id} in auto scaling group {name}"),
                source: None,
            });
        }
        if decrement_desired && group.scaling.desired - 1 < group.scaling.min {
            return Err(Error::InvalidInput {
                message: format!(
                    "terminating {instance_id} with decrement would put auto scaling group {name} at {} below its minimum {}",
                    group.scaling.desired - 1,
                    group.scaling.min
                ),
                source: None,
            });
        }
        self.client
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(decrement_desired)
            .send()
            .await
            .map_err(|e| map_sdk(BACKEND, &format!("instance {instance_id}"), e))?;
        Ok(())
    }

    async fn update_version(&self, _name: &str, _version: &KubeVersion) -> Result<Update> {
        Err(Error::Unsupported {
            backend: BACKEND.into(),
            operation: "updating the Kubernetes version (roll a new launch template instead)".into(),
        })
    }

    async fn describe_update(&self, name: &str, update_id: &str) -> Result<Update> {
        let known = self.updates.lock().unwrap_or_else(|p| p.into_inner()).contains(update_id);
        if !known {
            return Err(Error::NotFound {
                what: format!("update {update_id} of auto scaling group {name}"),
                source: None,
            });
        }
        let kind = update_id.split('-').next().unwrap_or_default();
        Ok(Update::completed(update_id, kind))
    }
}
