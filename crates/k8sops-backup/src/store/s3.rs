//! S3 and S3-compatible backup stores (MinIO, Ceph RGW, moto), through
//! `object_store`'s own HTTP client: multipart uploads, retries with
//! backoff, credentials from the environment or the parameters.

use std::{fmt, sync::Arc, time::Duration};

use k8sops_core::RetryPolicy;
use object_store::{
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    BackoffConfig, ClientConfigKey, RetryConfig,
};

use super::BackupStore;
use crate::Result;

/// Where and how to reach an S3 bucket. Anything left `None` comes from the
/// usual `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT`, web identity and container credentials); what is set
/// here wins over the environment.
///
/// ```
/// use k8sops_backup::store::S3Params;
/// let p = S3Params::new("my-backups").region("eu-west-1").endpoint("http://127.0.0.1:5000").allow_http(true);
/// assert_eq!(p.bucket, "my-backups");
/// // The secret never shows in logs.
/// assert!(!format!("{:?}", p.clone().credentials("AKIA", "secret")).contains("secret\""));
/// ```
#[derive(Clone)]
pub struct S3Params {
    /// The bucket (must exist).
    pub bucket: String,
    /// The region; default from the environment, else `us-east-1`.
    pub region: Option<String>,
    /// An endpoint other than AWS's, e.g. `http://127.0.0.1:5000` for moto
    /// or a MinIO URL. Requests then use path-style URLs.
    pub endpoint: Option<String>,
    /// Allow plain `http://` endpoints (emulators, on-premise gateways).
    /// Default false.
    pub allow_http: bool,
    /// Access key id; default from the environment.
    pub access_key_id: Option<String>,
    /// Secret access key; default from the environment.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Retries of failed requests (5xx, throttling, dropped connections):
    /// attempts and backoff. Default [`RetryPolicy::default`] (5 attempts,
    /// 200 ms doubling to 10 s, always with jitter).
    pub retry: RetryPolicy,
    /// No retry starts later than this after a request's first attempt
    /// (default 3 minutes), which also bounds how long a request's signed
    /// credentials must stay valid.
    pub retry_timeout: Duration,
    /// Longest time one request may take, from connecting to the end of the
    /// answer (default 5 minutes, where `object_store` has 30 s): a part
    /// sent over a slow link, and `CompleteMultipartUpload` of a large
    /// object, which S3 may take minutes to answer.
    pub request_timeout: Duration,
}

impl fmt::Debug for S3Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Params")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("retry", &self.retry)
            .field("retry_timeout", &self.retry_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Default for S3Params {
    fn default() -> Self {
        S3Params {
            bucket: String::new(),
            region: None,
            endpoint: None,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            retry: RetryPolicy::default(),
            retry_timeout: Duration::from_secs(180),
            request_timeout: Duration::from_secs(300),
        }
    }
}

impl S3Params {
    /// Parameters for `bucket`, everything else default.
    ///
    /// ```
    /// assert_eq!(k8sops_backup::store::S3Params::new("b").bucket, "b");
    /// ```
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Params { bucket: bucket.into(), ..Default::default() }
    }

    /// Sets [`region`](Self::region).
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").region("eu-west-1");
    /// assert_eq!(p.region.as_deref(), Some("eu-west-1"));
    /// ```
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets [`endpoint`](Self::endpoint).
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").endpoint("https://minio.example:9000");
    /// assert!(p.endpoint.is_some());
    /// ```
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets [`allow_http`](Self::allow_http).
    ///
    /// ```
    /// assert!(k8sops_backup::store::S3Params::new("b").allow_http(true).allow_http);
    /// ```
    #[must_use]
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Sets the access key id and secret access key.
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").credentials("AKIA...", "...");
    /// assert!(p.secret_access_key.is_some());
    /// ```
    #[must_use]
    pub fn credentials(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// Sets [`session_token`](Self::session_token).
    ///
    /// ```
    /// assert!(k8sops_backup::store::S3Params::new("b").session_token("t").session_token.is_some());
    /// ```
    #[must_use]
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Sets [`retry`](Self::retry).
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").retry(k8sops_core::RetryPolicy::default().max_attempts(3));
    /// assert_eq!(p.retry.max_attempts, 3);
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`retry_timeout`](Self::retry_timeout).
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").retry_timeout(std::time::Duration::from_secs(60));
    /// assert_eq!(p.retry_timeout.as_secs(), 60);
    /// ```
    #[must_use]
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    ///
    /// ```
    /// let p = k8sops_backup::store::S3Params::new("b").request_timeout(std::time::Duration::from_secs(60));
    /// assert_eq!(p.request_timeout.as_secs(), 60);
    /// ```
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.retry.initial_backoff,
                max_backoff: self.retry.max_backoff,
                base: self.retry.multiplier.max(1.0),
            },
            max_retries: self.retry.max_attempts.saturating_sub(1) as usize,
            retry_timeout: self.retry_timeout,
        }
    }
}

/// An S3 bucket as a [`BackupStore`]. Nothing is sent until the store is
/// used; a missing bucket or bad credentials show on the first request.
/// Uploads larger than one part go through S3 multipart uploads (see
/// [`upload_file`](super::upload_file)).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_backup::Result<()> {
/// use k8sops_backup::store::{s3, S3Params};
/// let store = s3(&S3Params::new("cluster-backups").region("eu-west-1"))?;
/// let report = k8sops_backup::store::prune(&store, &"prod".into(), &Default::default(), false).await?;
/// # Ok(()) }
/// ```
pub fn s3(params: &S3Params) -> Result<BackupStore> {
    if params.bucket.trim().is_empty() {
        return Err(k8sops_core::Error::InvalidInput {
            message: "S3 backup store: the bucket name is empty".into(),
            source: None,
        }
        .into());
    }
    let mut builder =
        AmazonS3Builder::from_env().with_bucket_name(&params.bucket).with_retry(params.retry_config()).with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", params.request_timeout.as_millis()),
        );
    if let Some(region) = &params.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &params.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if params.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let Some(id) = &params.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &params.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &params.session_token {
        builder = builder.with_token(token);
    }
    Ok(Arc::new(builder.build()?))
}
