//! Paginated lists: fetch a collection page by page (`limit`/`continue`) so
//! memory stays bounded on clusters with 150,000 pods, retrying each page on
//! transient errors.

use futures::{stream, Stream, TryStreamExt};
use kube::{api::ListParams, Api};
use serde::de::DeserializeOwned;

use crate::{error::Result, Cluster};

/// The page size k8sops uses unless told otherwise (kubectl uses 500).
///
/// ```
/// assert_eq!(k8sops_core::paging::DEFAULT_PAGE_SIZE, 500); // kubectl's --chunk-size default
/// ```
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// Streams the pages of a list. Each page is one request with `limit`, the
/// next one continues from the previous `continue` token; a page that fails
/// with a transient error is retried per the cluster's [`RetryPolicy`](crate::RetryPolicy).
/// An expired continue token (410) is returned as an error: the caller
/// restarts the listing.
///
/// ```no_run
/// use futures::TryStreamExt;
/// use k8s_openapi::api::core::v1::Pod;
/// # async fn f(cluster: k8sops_core::Cluster) -> k8sops_core::Result<()> {
/// let pods: kube::Api<Pod> = kube::Api::all(cluster.client().clone());
/// let mut pages = std::pin::pin!(k8sops_core::paging::pages(&cluster, &pods, kube::api::ListParams::default(), 500));
/// while let Some(page) = pages.try_next().await? {
///     println!("{} pods", page.len());
/// }
/// # Ok(()) }
/// ```
pub fn pages<'a, K>(
    cluster: &'a Cluster,
    api: &'a Api<K>,
    params: ListParams,
    page_size: u32,
) -> impl Stream<Item = Result<Vec<K>>> + 'a
where
    K: Clone + DeserializeOwned + std::fmt::Debug + kube::Resource + 'a,
{
    let what = format!("list of {}", api.resource_url());
    stream::try_unfold(Some(None::<String>), move |state| {
        let params = params.clone();
        let what = what.clone();
        async move {
            let Some(token) = state else { return Ok(None) };
            let mut lp = params.limit(page_size.max(1));
            if let Some(t) = token {
                lp = lp.continue_token(&t);
            }
            let list = cluster
                .retry_policy()
                .run(|_| {
                    let lp = lp.clone();
                    let what = what.clone();
                    async move { api.list(&lp).await.map_err(|e| cluster.map_err(e, &what)) }
                })
                .await?;
            let next = list.metadata.continue_.filter(|c| !c.is_empty());
            Ok(Some((list.items, next.map(Some))))
        }
    })
}

/// Collects every item of a paginated list, for collections known to be small.
///
/// ```no_run
/// use k8s_openapi::api::core::v1::Node;
/// # async fn f(cluster: k8sops_core::Cluster) -> k8sops_core::Result<()> {
/// let nodes: kube::Api<Node> = kube::Api::all(cluster.client().clone());
/// let all = k8sops_core::paging::list_all(&cluster, &nodes, Default::default()).await?;
/// # Ok(()) }
/// ```
pub async fn list_all<K>(cluster: &Cluster, api: &Api<K>, params: ListParams) -> Result<Vec<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + kube::Resource,
{
    let pages = pages(cluster, api, params, DEFAULT_PAGE_SIZE);
    let mut out = Vec::new();
    let mut pages = std::pin::pin!(pages);
    while let Some(mut page) = pages.try_next().await? {
        out.append(&mut page);
    }
    Ok(out)
}

/// Items of a namespaced resource across every namespace the caller may
/// read, and the namespaces it may not.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// let cluster = k8sops_core::Cluster::try_default().await?;
/// let pods = k8sops_core::paging::list_readable::<k8s_openapi::api::core::v1::Pod>(&cluster, Default::default()).await?;
/// println!("{} pods; not allowed to read: {}", pods.items.len(), pods.forbidden.join(", "));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Partial<K> {
    /// Items from every readable namespace.
    pub items: Vec<K>,
    /// Namespaces whose list was forbidden (403), sorted.
    pub forbidden: Vec<String>,
}

/// Lists a namespaced resource in all namespaces. When the cluster-wide list
/// is forbidden (a user with rights in only some namespaces), lists
/// namespace by namespace and reports the forbidden ones instead of failing.
/// Listing the namespaces themselves must be allowed; otherwise the 403 is
/// returned.
///
/// ```no_run
/// use k8s_openapi::api::core::v1::Pod;
/// # async fn f(cluster: k8sops_core::Cluster) -> k8sops_core::Result<()> {
/// let pods = k8sops_core::paging::list_readable::<Pod>(&cluster, kube::api::ListParams::default()).await?;
/// if !pods.forbidden.is_empty() {
///     eprintln!("not allowed to read pods in: {}", pods.forbidden.join(", "));
/// }
/// # Ok(()) }
/// ```
pub async fn list_readable<K>(cluster: &Cluster, params: ListParams) -> Result<Partial<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let all: Api<K> = Api::all(cluster.client().clone());
    match list_all(cluster, &all, params.clone()).await {
        Ok(items) => return Ok(Partial { items, forbidden: Vec::new() }),
        Err(crate::Error::Forbidden { .. }) => {}
        Err(e) => return Err(e),
    }
    let ns_api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client().clone());
    let namespaces = list_all(cluster, &ns_api, ListParams::default()).await?;
    let mut items = Vec::new();
    let mut forbidden = Vec::new();
    for ns in namespaces.iter().filter_map(|n| n.metadata.name.clone()) {
        let api: Api<K> = Api::namespaced(cluster.client().clone(), &ns);
        match list_all(cluster, &api, params.clone()).await {
            Ok(mut page) => items.append(&mut page),
            Err(crate::Error::Forbidden { .. }) => forbidden.push(ns),
            Err(e) => return Err(e),
        }
    }
    forbidden.sort();
    Ok(Partial { items, forbidden })
}
