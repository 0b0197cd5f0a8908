//! Retrying transient failures: exponential backoff with jitter that honours
//! the server's `Retry-After`, and never retries errors that cannot succeed.

use std::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How to retry a failed request.
///
/// Retries only [transient](Error::is_transient) errors: 429, 500, 502, 503,
/// 504, dropped connections and timeouts. A 403, 404, 409 or 422 is returned at
/// once. A server-provided delay (`Retry-After`, `retryAfterSeconds`) replaces
/// the computed backoff when it is longer.
///
/// ```
/// use std::time::Duration;
/// use k8sops_core::{Error, RetryPolicy};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let policy = RetryPolicy::default().max_attempts(3).initial_backoff(Duration::from_millis(10));
/// let mut calls = 0;
/// let out = policy.run(|_attempt| {
///     calls += 1;
///     let n = calls;
///     async move {
///         if n < 3 { Err(Error::Api { code: 503, reason: "ServiceUnavailable".into(), message: "busy".into(), retry_after: None }) }
///         else { Ok("done") }
///     }
/// }).await;
/// assert_eq!(out.unwrap(), "done");
/// assert_eq!(calls, 3);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retries). Default 5.
    pub max_attempts: u32,
    /// Delay before the first retry. Default 200 ms.
    pub initial_backoff: Duration,
    /// Upper bound for the computed delay. Default 10 s.
    pub max_backoff: Duration,
    /// Growth factor per attempt. Default 2.
    pub multiplier: f64,
    /// Randomise each delay between half and all of its value, so many
    /// clients do not retry in lockstep. Default true.
    pub jitter: bool,
    /// Longest `Retry-After` a server may impose; a longer one is cut to this
    /// (default 60 s), so a misbehaving server cannot stall a caller for hours.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after: Duration,
}

fn default_max_retry_after() -> Duration {
    Duration::from_secs(60)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: true,
            max_retry_after: default_max_retry_after(),
        }
    }
}

/// Passed to the observer of [`RetryPolicy::run_observed`] before each retry.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> k8sops_core::Result<()> {
/// use std::time::Duration;
/// use k8sops_core::{Error, RetryPolicy};
/// let policy = RetryPolicy::default().initial_backoff(Duration::from_millis(1));
/// let mut seen = Vec::new();
/// let value = policy
///     .run_observed(
///         |attempt| async move {
///             if attempt == 1 { Err(Error::Timeout { during: "GET /version".into(), after: Duration::from_secs(1) }) } else { Ok(7) }
///         },
///         |a| seen.push((a.attempt, a.error.to_string())),
///     )
///     .await?;
/// assert_eq!((value, seen.len()), (7, 1));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RetryAttempt<'a> {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// Its error.
    pub error: &'a Error,
    /// How long we wait before the next attempt.
    pub delay: Duration,
}

static JITTER_STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

fn next_random() -> u64 {
    // splitmix64 over a shared counter: cheap, lock-free, good enough for jitter.
    let mut z = JITTER_STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RetryPolicy {
    /// A policy that never retries.
    ///
    /// ```
    /// assert_eq!(k8sops_core::RetryPolicy::none().max_attempts, 1);
    /// ```
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..Self::default() }
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    ///
    /// ```
    /// assert_eq!(k8sops_core::RetryPolicy::default().max_attempts(3).max_attempts, 3);
    /// // At least one attempt is always made.
    /// assert_eq!(k8sops_core::RetryPolicy::default().max_attempts(0).max_attempts, 1);
    /// ```
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = k8sops_core::RetryPolicy::default().initial_backoff(Duration::from_millis(50)).jitter(false);
    /// assert_eq!(p.backoff(2), Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = k8sops_core::RetryPolicy::default().max_backoff(Duration::from_secs(1)).jitter(false);
    /// assert_eq!(p.backoff(10), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = k8sops_core::RetryPolicy::default().jitter(false);
    /// assert_eq!(p.backoff(1), Duration::from_millis(200));
    /// ```
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// The delay after failed attempt number `attempt` (1-based), before any
    /// server-provided delay is considered.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = k8sops_core::RetryPolicy::default().jitter(false);
    /// assert_eq!(p.backoff(1), Duration::from_millis(200));
    /// assert_eq!(p.backoff(3), Duration::from_millis(800));
    /// assert_eq!(p.backoff(30), Duration::from_secs(10));
    /// ```
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.multiplier.powi(attempt.saturating_sub(1).min(64) as i32);
        let base = self.initial_backoff.as_secs_f64() * exp;
        let capped = base.min(self.max_backoff.as_secs_f64());
        let secs = if self.jitter {
            let r = (next_random() >> 11) as f64 / (1u64 << 53) as f64;
            capped / 2.0 + capped / 2.0 * r
        } else {
            capped
        };
        Duration::from_secs_f64(secs)
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    ///
    /// ```
    /// use std::time::Duration;
    /// use k8sops_core::{Error, RetryPolicy};
    /// let p = RetryPolicy::default().jitter(false).max_retry_after(Duration::from_secs(5));
    /// let slow = Error::Throttled { source_name: "s".into(), message: "".into(), retry_after: Some(Duration::from_secs(3600)), source: None };
    /// assert_eq!(p.delay_for(&slow, 1), Some(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The delay before retrying after `error`, or `None` if it must not be retried.
    ///
    /// ```
    /// use std::time::Duration;
    /// use k8sops_core::{Error, RetryPolicy};
    /// let p = RetryPolicy::default().jitter(false);
    /// let throttled = Error::Throttled { source_name: "x".into(), message: "".into(), retry_after: Some(Duration::from_secs(3)), source: None };
    /// assert_eq!(p.delay_for(&throttled, 1), Some(Duration::from_secs(3)));
    /// assert_eq!(p.delay_for(&Error::NotFound { what: "x".into(), source: None }, 1), None);
    /// ```
    pub fn delay_for(&self, error: &Error, attempt: u32) -> Option<Duration> {
        if !error.is_transient() {
            return None;
        }
        let computed = self.backoff(attempt);
        Some(error.retry_after().map_or(computed, |ra| ra.min(self.max_retry_after).max(computed)))
    }

    /// Runs `op` until it succeeds, fails with a permanent error, or runs out of
    /// attempts; the last error is returned. `op` receives the attempt number.
    /// Cancel by dropping the future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use k8sops_core::{Error, RetryPolicy};
    /// let policy = RetryPolicy::default().initial_backoff(Duration::from_millis(1));
    /// let answer = policy
    ///     .run(|attempt| async move {
    ///         if attempt < 3 {
    ///             Err(Error::Api { code: 503, reason: "ServiceUnavailable".into(), message: "busy".into(), retry_after: None })
    ///         } else {
    ///             Ok(attempt)
    ///         }
    ///     })
    ///     .await;
    /// assert_eq!(answer.unwrap(), 3);
    /// # }
    /// ```
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_observed(op, |_| {}).await
    }

    /// Like [`run`](Self::run), calling `observe` before each retry, e.g. to
    /// report progress.
    ///
    /// ```
    /// use k8sops_core::{Error, RetryPolicy};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut seen = Vec::new();
    /// let res: Result<(), Error> = RetryPolicy::default().max_attempts(2)
    ///     .run_observed(|_| async { Err(Error::Api { code: 500, reason: "InternalError".into(), message: "boom".into(), retry_after: None }) },
    ///                   |r| seen.push(r.attempt)).await;
    /// assert!(res.is_err());
    /// assert_eq!(seen, [1]);
    /// # }
    /// ```
    pub async fn run_observed<T, F, Fut>(&self, mut op: F, mut observe: impl FnMut(&RetryAttempt<'_>)) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let Some(delay) = self.delay_for(&e, attempt).filter(|_| attempt < self.max_attempts) else {
                        return Err(e);
                    };
                    observe(&RetryAttempt { attempt, error: &e, delay });
                    tracing::debug!(attempt, ?delay, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn unavailable() -> Error {
        Error::Api { code: 503, reason: "ServiceUnavailable".into(), message: "".into(), retry_after: None }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_with_growing_delays() {
        let p = RetryPolicy::default().jitter(false).max_attempts(4);
        let start = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let res: Result<()> = p
            .run(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(unavailable()) }
            })
            .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // 200 + 400 + 800 ms of (virtual) waiting
        assert_eq!(start.elapsed(), Duration::from_millis(1400));
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_permanent_errors() {
        let calls = AtomicU32::new(0);
        let res: Result<()> = RetryPolicy::default()
            .run(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(Error::Forbidden { message: "no".into() }) }
            })
            .await;
        assert!(matches!(res, Err(Error::Forbidden { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after() {
        let p = RetryPolicy::default().jitter(false);
        let start = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let res = p
            .run(|_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(Error::Throttled {
                            source_name: "t".into(),
                            message: "".into(),
                            retry_after: Some(Duration::from_secs(7)),
                            source: None,
                        })
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(res.unwrap(), 1);
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[test]
    fn caps_a_servers_retry_after() {
        let p = RetryPolicy::default().jitter(false);
        let hour = Error::Throttled {
            source_name: "s".into(),
            message: "".into(),
            retry_after: Some(Duration::from_secs(3600)),
            source: None,
        };
        assert_eq!(p.delay_for(&hour, 1), Some(Duration::from_secs(60)));
        let p = p.max_retry_after(Duration::from_secs(2));
        assert_eq!(p.delay_for(&hour, 1), Some(Duration::from_secs(2)));
    }

    #[test]
    fn jitter_stays_within_half_and_full_delay() {
        let p = RetryPolicy::default();
        for attempt in 1..8 {
            let full = RetryPolicy::default().jitter(false).backoff(attempt);
            let d = p.backoff(attempt);
            assert!(d <= full && d >= full / 2, "{d:?} vs {full:?}");
        }
    }
}
