//! Fault injection per route: error statuses, throttling with `Retry-After`,
//! dropped connections and delays, a fixed number of times or with a
//! probability drawn from a seeded generator (so runs are repeatable).

use std::time::Duration;

/// What to do to a matching request.
///
/// ```
/// use k8sops_testkit::{Fault, FaultAction};
/// let f = Fault::on("GET", "/version").too_many_requests(3);
/// assert_eq!(f.action(), &FaultAction::TooManyRequests { retry_after_secs: 3 });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status code and a `Status` body.
    Status(u16),
    /// Answer 429 with `Retry-After` (seconds) and `retryAfterSeconds`.
    TooManyRequests {
        /// Seconds the client is asked to wait.
        retry_after_secs: u32,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Wait before handling the request normally.
    Delay(Duration),
}

/// A fault rule: which requests it matches, what it does, how often.
///
/// ```
/// use k8sops_testkit::Fault;
/// let f = Fault::on("POST", "/eviction").status(503).times(2);
/// assert_eq!(f.remaining(), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) method: Option<String>,
    pub(crate) path_contains: String,
    pub(crate) action: FaultAction,
    pub(crate) times: Option<u32>,
    pub(crate) probability: Option<f64>,
}

impl Fault {
    /// Matches requests with `method` (`"*"` for any) whose path contains `path_contains`.
    /// Until an action is chosen, the fault answers 500.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("*", "/version"));
    /// let err = once.server_version().await.unwrap_err();
    /// assert!(matches!(err, k8sops_core::Error::Api { code: 500, .. }), "{err:?}");
    /// # Ok(()) }
    /// ```
    pub fn on(method: &str, path_contains: &str) -> Self {
        Fault {
            method: (method != "*").then(|| method.to_uppercase()),
            path_contains: path_contains.to_string(),
            action: FaultAction::Status(500),
            times: None,
            probability: None,
        }
    }

    /// Answer with `code`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").status(503));
    /// assert!(matches!(once.server_version().await, Err(k8sops_core::Error::Api { code: 503, .. })));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn status(mut self, code: u16) -> Self {
        self.action = FaultAction::Status(code);
        self
    }

    /// Answer 429 with `Retry-After: secs`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").too_many_requests(2));
    /// let err = once.server_version().await.unwrap_err();
    /// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(2)));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn too_many_requests(mut self, retry_after_secs: u32) -> Self {
        self.action = FaultAction::TooManyRequests { retry_after_secs };
        self
    }

    /// Drop the connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").drop_connection());
    /// assert!(matches!(once.server_version().await, Err(k8sops_core::Error::Unreachable { .. })));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn drop_connection(mut self) -> Self {
        self.action = FaultAction::DropConnection;
        self
    }

    /// Delay the request.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").delay(std::time::Duration::from_millis(20)).times(1));
    /// let start = std::time::Instant::now();
    /// once.server_version().await?;
    /// assert!(start.elapsed() >= std::time::Duration::from_millis(20));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn delay(mut self, d: Duration) -> Self {
        self.action = FaultAction::Delay(d);
        self
    }

    /// Fire only for the first `n` matching requests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").status(500).times(2));
    /// let three = server.cluster_with_quick_retries(3);
    /// three.server_version().await?; // two failures, then the answer
    /// assert_eq!(server.answered("/version", 500), 2);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire for each matching request with probability `p` (seeded).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use k8sops_testkit::{Fault, TestServer};
    /// let server = TestServer::start().await?;
    /// let once = server.cluster_with_quick_retries(1);
    /// server.add_fault(Fault::on("GET", "/version").status(503).probability(0.0));
    /// once.server_version().await?; // never fires
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }

    /// How many more times the fault fires (`None` = unlimited).
    ///
    /// ```
    /// assert_eq!(k8sops_testkit::Fault::on("GET", "/version").remaining(), None);
    /// assert_eq!(k8sops_testkit::Fault::on("GET", "/version").times(3).remaining(), Some(3));
    /// ```
    pub fn remaining(&self) -> Option<u32> {
        self.times
    }

    /// What the fault does to a matching request.
    ///
    /// ```
    /// use k8sops_testkit::{Fault, FaultAction};
    /// assert_eq!(Fault::on("POST", "/eviction").drop_connection().action(), &FaultAction::DropConnection);
    /// ```
    pub fn action(&self) -> &FaultAction {
        &self.action
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && path.contains(&self.path_contains)
    }
}

/// A small deterministic generator (splitmix64) for probabilities and demo data.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Picks the action for a request, consuming counts.
pub(crate) fn pick(faults: &mut [Fault], rng: &mut SplitMix, method: &str, path: &str) -> Option<FaultAction> {
    for f in faults.iter_mut() {
        if !f.matches(method, path) || f.times == Some(0) {
            continue;
        }
        if let Some(p) = f.probability {
            if rng.next_f64() >= p {
                continue;
            }
        }
        if let Some(n) = f.times.as_mut() {
            *n -= 1;
        }
        return Some(f.action.clone());
    }
    None
}
