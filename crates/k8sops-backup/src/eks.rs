//! EKS cluster configuration backup (feature `aws`): what
//! `aws eks describe-cluster`, `describe-nodegroup` and `describe-addon` print,
//! saved as one JSON document beside a resource export.
//!
//! The document uses the AWS CLI's field names (`resourcesVpcConfig`,
//! `scalingConfig`, ...), so it reads like the CLI's output and can be fed to
//! `aws eks create-cluster --cli-input-json` after the read-only fields are
//! removed. Describe-cluster failing is an error; a node group or add-on that
//! cannot be described is a [`PartialFailure`] in the document's `notes`,
//! with the SDK's error kept, and the rest is saved.
//!
//! ```no_run
//! # async fn main_(eks: aws_sdk_eks::Client, store: k8sops_core::backend::BackupStore) -> k8sops_backup::Result<()> {
//! let config = k8sops_backup::eks::describe(&eks, "prod").await?;
//! println!("{} node groups, {} add-ons", config.nodegroups.len(), config.addons.len());
//! let key = k8sops_backup::eks::save(&store, "backups/2026-11-30", &config).await?;
//! println!("saved {key}");
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aws_sdk_eks::{
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    primitives::{DateTime, DateTimeFormat},
    types::{Addon, Cluster, Nodegroup},
};
use k8sops_core::backend::BackupStore;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::{Error, Result};

/// The object name of the EKS document inside a backup prefix.
pub const FILE_NAME: &str = "eks-cluster.json";

/// An EKS cluster's configuration: the cluster, its managed node groups and
/// its add-ons, in the AWS CLI's JSON shape.
///
/// ```
/// let doc = k8sops_backup::eks::EksClusterConfig::default();
/// assert!(doc.nodegroups.is_empty() && doc.notes.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EksClusterConfig {
    /// `aws eks describe-cluster`'s `cluster`.
    pub cluster: Value,
    /// `aws eks describe-nodegroup`'s `nodegroup`, one per managed node group.
    pub nodegroups: Vec<Value>,
    /// `aws eks describe-addon`'s `addon`, one per add-on.
    pub addons: Vec<Value>,
    /// What could not be read (a node group, the add-on list), and why; each
    /// prints as a sentence such as `add-on vpc-cni not described: AWS
    /// DescribeAddon: ...`.
    pub notes: Vec<PartialFailure>,
    /// When the description was taken (RFC 3339).
    pub taken_at: String,
}

/// A part of the EKS configuration that could not be read: a node group or
/// add-on list, or one node group or add-on. It prints as the sentence the
/// notes always had (`node group spot not described: AWS DescribeNodegroup:
/// ...`); the SDK's error is kept as its [`source`](std::error::Error::source).
///
/// In the saved JSON a note is `{"operation", "resource", "message"}`. A note
/// read back from a file has no source, and equality ignores the source.
/// Files written before notes were typed hold plain strings; they are read
/// as notes with an empty `operation` and the string as `message`.
///
/// ```
/// use k8sops_backup::eks::PartialFailure;
/// let note: PartialFailure = serde_json::from_str(
///     r#"{"operation":"DescribeAddon","resource":"vpc-cni","message":"ResourceNotFoundException: gone"}"#,
/// ).unwrap();
/// assert_eq!(note.to_string(), "add-on vpc-cni not described: AWS DescribeAddon: ResourceNotFoundException: gone");
/// assert!(std::error::Error::source(&note).is_none());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "NoteRepr")]
#[non_exhaustive]
pub struct PartialFailure {
    /// The API operation that failed: `ListNodegroups`, `DescribeNodegroup`,
    /// `ListAddons` or `DescribeAddon`.
    pub operation: String,
    /// The node group or add-on asked about (`None` for the lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What AWS said, e.g. `ResourceNotFoundException: No addon: vpc-cni found`.
    pub message: String,
    /// The error, an [`Error::Aws`]; `None` in a note read from a file.
    #[serde(skip)]
    pub source: Option<Arc<Error>>,
}

impl PartialFailure {
    /// A note for `err`, raised by `operation` about `resource`.
    fn new(operation: &'static str, resource: Option<&str>, err: Error) -> Self {
        let message = match &err {
            Error::Aws { message, .. } => message.clone(),
            other => other.to_string(),
        };
        PartialFailure {
            operation: operation.to_string(),
            resource: resource.map(str::to_string),
            message,
            source: Some(Arc::new(err)),
        }
    }
}

impl std::fmt::Display for PartialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (op, message) = (self.operation.as_str(), &self.message);
        match (op, self.resource.as_deref()) {
            ("", _) => return f.write_str(message),
            ("ListNodegroups", _) => f.write_str("node groups not listed")?,
            ("DescribeNodegroup", Some(g)) => write!(f, "node group {g} not described")?,
            ("ListAddons", _) => f.write_str("add-ons not listed")?,
            ("DescribeAddon", Some(a)) => write!(f, "add-on {a} not described")?,
            (_, Some(r)) => write!(f, "{r} not read")?,
            (_, None) => f.write_str("not read")?,
        }
        write!(f, ": AWS {op}: {message}")
    }
}

impl std::error::Error for PartialFailure {
    /// The [`Error`] itself (not the `Arc` around it), so that
    /// `downcast_ref::<k8sops_backup::Error>()` works.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for PartialFailure {
    fn eq(&self, other: &Self) -> bool {
        (&self.operation, &self.resource, &self.message) == (&other.operation, &other.resource, &other.message)
    }
}

/// A note as found in a saved document: the fields, or a plain string.
#[derive(Deserialize)]
#[serde(untagged)]
enum NoteRepr {
    Fields {
        operation: String,
        #[serde(default)]
        resource: Option<String>,
        message: String,
    },
    Text(String),
}

impl From<NoteRepr> for PartialFailure {
    fn from(r: NoteRepr) -> Self {
        match r {
            NoteRepr::Fields { operation, resource, message } => {
                PartialFailure { operation, resource, message, source: None }
            }
            NoteRepr::Text(message) => {
                PartialFailure { operation: String::new(), resource: None, message, source: None }
            }
        }
    }
}

/// Describes cluster `name`, all its managed node groups and add-ons
/// (paginated lists).
///
/// Errors: an empty name ([`k8sops_core::Error::InvalidInput`]);
/// DescribeCluster failing ([`Error::Aws`]) or answering without a cluster
/// ([`k8sops_core::Error::Backend`] from backend `EKS`). A list or describe
/// call for node groups or add-ons failing is a [`PartialFailure`] in
/// [`EksClusterConfig::notes`] instead.
///
/// ```no_run
/// # async fn main_(eks: aws_sdk_eks::Client) -> k8sops_backup::Result<()> {
/// let config = k8sops_backup::eks::describe(&eks, "prod").await?;
/// assert_eq!(config.cluster["name"], "prod");
/// # Ok(()) }
/// ```
pub async fn describe(eks: &aws_sdk_eks::Client, name: &str) -> Result<EksClusterConfig> {
    if name.is_empty() {
        return Err(k8sops_core::Error::InvalidInput {
            message: "an EKS cluster name is required".into(),
            source: None,
        }
        .into());
    }
    let out = eks.describe_cluster().name(name).send().await.map_err(|e| aws("DescribeCluster", e))?;
    let Some(cluster) = out.cluster().map(cluster_json) else {
        return Err(k8sops_core::Error::Backend {
            backend: "EKS".into(),
            message: format!("DescribeCluster for {name} answered without a cluster"),
            transient: false,
            source: None,
        }
        .into());
    };
    let mut config = EksClusterConfig { cluster, taken_at: jiff::Timestamp::now().to_string(), ..Default::default() };

    let (groups, failed) = list_names("ListNodegroups", |token| async move {
        let page = eks.list_nodegroups().cluster_name(name).set_next_token(token).send().await;
        let page = page.map_err(|e| aws("ListNodegroups", e))?;
        Ok((page.nodegroups().to_vec(), page.next_token().map(str::to_string)))
    })
    .await;
    config.notes.extend(failed);
    for g in groups {
        match eks.describe_nodegroup().cluster_name(name).nodegroup_name(&g).send().await {
            Ok(out) => config.nodegroups.extend(out.nodegroup().map(nodegroup_json)),
            Err(e) => {
                config.notes.push(PartialFailure::new("DescribeNodegroup", Some(&g), aws("DescribeNodegroup", e)))
            }
        }
    }

    let (addons, failed) = list_names("ListAddons", |token| async move {
        let page = eks.list_addons().cluster_name(name).set_next_token(token).send().await;
        let page = page.map_err(|e| aws("ListAddons", e))?;
        Ok((page.addons().to_vec(), page.next_token().map(str::to_string)))
    })
    .await;
    config.notes.extend(failed);
    for a in addons {
        match eks.describe_addon().cluster_name(name).addon_name(&a).send().await {
            Ok(out) => config.addons.extend(out.addon().map(addon_json)),
            Err(e) => config.notes.push(PartialFailure::new("DescribeAddon", Some(&a), aws("DescribeAddon", e))),
        }
    }
    Ok(config)
}

/// Writes `config` as pretty JSON to `<prefix>/eks-cluster.json` in `store`
/// and returns the key.
///
/// ```no_run
/// # async fn main_(store: k8sops_core::backend::BackupStore, config: k8sops_backup::eks::EksClusterConfig) -> k8sops_backup::Result<()> {
/// let key = k8sops_backup::eks::save(&store, "backups/nightly", &config).await?;
/// assert!(key.ends_with("eks-cluster.json"));
/// # Ok(()) }
/// ```
pub async fn save(store: &BackupStore, prefix: &str, config: &EksClusterConfig) -> Result<String> {
    let key = if prefix.trim_matches('/').is_empty() {
        FILE_NAME.to_string()
    } else {
        format!("{}/{FILE_NAME}", prefix.trim_matches('/'))
    };
    let body = serde_json::to_vec_pretty(config)
        .map_err(|source| k8sops_core::Error::Decode { what: "the EKS configuration".into(), source })?;
    let path = object_store::path::Path::parse(&key).map_err(|e| Error::Store { source: e.into() })?;
    store.put(&path, body.into()).await?;
    Ok(key)
}

/// Every name of a paginated EKS listing `op`, one `page(next_token)` call
/// at a time. A failed call, or a next token the service already sent, ends
/// the listing: the names read so far are kept, and the failure is returned
/// as the note to record.
async fn list_names<F, Fut>(op: &'static str, mut page: F) -> (Vec<String>, Option<PartialFailure>)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<String>, Option<String>)>>,
{
    let mut names = Vec::new();
    let mut pages = k8sops_core::aws::NextTokens::new(op);
    let mut token = None;
    loop {
        let next = match page(token).await {
            Ok((more, next)) => {
                names.extend(more);
                pages.next("EKS", next.as_deref()).map_err(Error::from)
            }
            Err(e) => Err(e),
        };
        match next {
            Ok(Some(next)) => token = Some(next),
            Ok(None) => return (names, None),
            Err(e) => return (names, Some(PartialFailure::new(op, None, e))),
        }
    }
}

fn aws<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ if err.raw_response().is_some() => {
            let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
            format!("HTTP {status} without an AWS error code (the endpoint may not serve {operation})")
        }
        _ => match std::error::Error::source(&err) {
            Some(cause) => format!("{err}: {cause}"),
            None => err.to_string(),
        },
    };
    Error::Aws { operation, message, source: Box::new(err) }
}

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).map(Value::String).unwrap_or(Value::Null)
}

fn strs(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

fn opt(v: Option<&str>) -> Value {
    v.map(|s| Value::String(s.to_string())).unwrap_or(Value::Null)
}

fn map(m: Option<&std::collections::HashMap<String, String>>) -> Value {
    match m {
        Some(m) => {
            let mut sorted: Vec<_> = m.iter().collect();
            sorted.sort();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
        }
        None => Value::Null,
    }
}

/// Drops nulls, empty arrays and empty objects, as the AWS CLI omits absent fields.
fn compact(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let kept: Map<String, Value> =
                o.into_iter().map(|(k, v)| (k, compact(v))).filter(|(_, v)| !is_empty(v)).collect();
            Value::Object(kept)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn cluster_json(c: &Cluster) -> Value {
    let vpc = c.resources_vpc_config().map(|v| {
        json!({
            "subnetIds": strs(v.subnet_ids()),
            "securityGroupIds": strs(v.security_group_ids()),
            "clusterSecurityGroupId": opt(v.cluster_security_group_id()),
            "vpcId": opt(v.vpc_id()),
            "endpointPublicAccess": v.endpoint_public_access(),
            "endpointPrivateAccess": v.endpoint_private_access(),
            "publicAccessCidrs": strs(v.public_access_cidrs()),
        })
    });
    let network = c.kubernetes_network_config().map(|n| {
        json!({
            "serviceIpv4Cidr": opt(n.service_ipv4_cidr()),
            "serviceIpv6Cidr": opt(n.service_ipv6_cidr()),
            "ipFamily": opt(n.ip_family().map(|f| f.as_str())),
        })
    });
    let logging = c.logging().map(|l| {
        json!({
            "clusterLogging": l.cluster_logging().iter().map(|s| json!({
                "types": s.types().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "enabled": s.enabled(),
            })).collect::<Vec<_>>(),
        })
    });
    let encryption: Vec<Value> = c
        .encryption_config()
        .iter()
        .map(|e| {
            json!({
                // Deprecated in the SDK, still printed by `aws eks describe-cluster`.
                "resources": strs(encrypted_resources(e)),
                "provider": e.provider().map(|p| json!({ "keyArn": opt(p.key_arn()) })),
            })
        })
        .collect();
    compact(json!({
        "name": opt(c.name()),
        "arn": opt(c.arn()),
        "createdAt": time(c.created_at()),
        "version": opt(c.version()),
        "endpoint": opt(c.endpoint()),
        "roleArn": opt(c.role_arn()),
        "resourcesVpcConfig": vpc,
        "kubernetesNetworkConfig": network,
        "logging": logging,
        "identity": c.identity().and_then(|i| i.oidc()).map(|o| json!({ "oidc": { "issuer": opt(o.issuer()) } })),
        "status": opt(c.status().map(|s| s.as_str())),
        "certificateAuthority": c.certificate_authority().map(|ca| json!({ "data": opt(ca.data()) })),
        "platformVersion": opt(c.platform_version()),
        "tags": map(c.tags()),
        "encryptionConfig": encryption,
        "accessConfig": c.access_config().map(|a| json!({
            "authenticationMode": opt(a.authentication_mode().map(|m| m.as_str())),
            "bootstrapClusterCreatorAdminPermissions": a.bootstrap_cluster_creator_admin_permissions(),
        })),
        "upgradePolicy": c.upgrade_policy().map(|u| json!({ "supportType": opt(u.support_type().map(|s| s.as_str())) })),
    }))
}

#[allow(deprecated)]
fn encrypted_resources(e: &aws_sdk_eks::types::EncryptionConfig) -> &[String] {
    e.resources()
}

fn nodegroup_json(g: &Nodegroup) -> Value {
    compact(json!({
        "nodegroupName": opt(g.nodegroup_name()),
        "nodegroupArn": opt(g.nodegroup_arn()),
        "clusterName": opt(g.cluster_name()),
        "version": opt(g.version()),
        "releaseVersion": opt(g.release_version()),
        "createdAt": time(g.created_at()),
        "modifiedAt": time(g.modified_at()),
        "status": opt(g.status().map(|s| s.as_str())),
        "capacityType": opt(g.capacity_type().map(|s| s.as_str())),
        "scalingConfig": g.scaling_config().map(|s| json!({
            "minSize": s.min_size(),
            "maxSize": s.max_size(),
            "desiredSize": s.desired_size(),
        })),
        "instanceTypes": strs(g.instance_types()),
        "subnets": strs(g.subnets()),
        "remoteAccess": g.remote_access().map(|r| json!({
            "ec2SshKey": opt(r.ec2_ssh_key()),
            "sourceSecurityGroups": strs(r.source_security_groups()),
        })),
        "amiType": opt(g.ami_type().map(|s| s.as_str())),
        "nodeRole": opt(g.node_role()),
        "labels": map(g.labels()),
        "taints": g.taints().iter().map(|t| json!({
            "key": opt(t.key()),
            "value": opt(t.value()),
            "effect": opt(t.effect().map(|e| e.as_str())),
        })).collect::<Vec<_>>(),
        "resources": g.resources().map(|r| json!({
            "autoScalingGroups": r.auto_scaling_groups().iter().map(|a| json!({ "name": opt(a.name()) })).collect::<Vec<_>>(),
            "remoteAccessSecurityGroup": opt(r.remote_access_security_group()),
        })),
        "diskSize": g.disk_size(),
        "updateConfig": g.update_config().map(|u| json!({
            "maxUnavailable": u.max_unavailable(),
            "maxUnavailablePercentage": u.max_unavailable_percentage(),
        })),
        "launchTemplate": g.launch_template().map(|l| json!({
            "name": opt(l.name()),
            "version": opt(l.version()),
            "id": opt(l.id()),
        })),
        "tags": map(g.tags()),
    }))
}

fn addon_json(a: &Addon) -> Value {
    compact(json!({
        "addonName": opt(a.addon_name()),
        "clusterName": opt(a.cluster_name()),
        "status": opt(a.status().map(|s| s.as_str())),
        "addonVersion": opt(a.addon_version()),
        "health": a.health().map(|h| json!({
            "issues": h.issues().iter().map(|i| json!({
                "code": opt(i.code().map(|c| c.as_str())),
                "message": opt(i.message()),
                "resourceIds": strs(i.resource_ids()),
            })).collect::<Vec<_>>(),
        })),
        "addonArn": opt(a.addon_arn()),
        "createdAt": time(a.created_at()),
        "modifiedAt": time(a.modified_at()),
        "serviceAccountRoleArn": opt(a.service_account_role_arn()),
        "tags": map(a.tags()),
        "publisher": opt(a.publisher()),
        "owner": opt(a.owner()),
        "marketplaceInformation": a.marketplace_information().map(|m| json!({
            "productId": opt(m.product_id()),
            "productUrl": opt(m.product_url()),
        })),
        "configurationValues": opt(a.configuration_values()),
        "podIdentityAssociations": strs(a.pod_identity_associations()),
        "namespaceConfig": a.namespace_config().map(|n| json!({ "namespace": opt(n.namespace()) })),
    }))
}
