//! Paginated lists: fetch a collection page by page (`limit`/`continue`) so
//! memory stays bounded on clusters with 150,000 pods, retrying each page on
//! transient errors.

use futures::{stream, Stream, TryStreamExt};
use kube::{api::ListParams, Api};
use serde::de::DeserializeOwned;

use crate::{error::Result, Cluster};

/// The page size k8sops uses unless told otherwise (kubectl uses 500).
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
