//! A typed error inside a report: what failed for one object, kept with its
//! type and source chain, while the report stays `Clone`, `PartialEq` and
//! `Serialize`.

use std::{fmt, ops::Deref, sync::Arc};

use serde::{Serialize, Serializer};

/// One object's error in a report (a pod whose eviction failed, a node that
/// could not be cordoned). Derefs to the error; serializes and compares as
/// its message.
///
/// ```
/// use k8sops_core::{Error, Failure};
/// let f: Failure = Error::Forbidden { message: "pods \"web\" is forbidden".into() }.into();
/// assert!(matches!(&*f, Error::Forbidden { .. }));
/// assert_eq!(serde_json::to_string(&f).unwrap(), format!("{:?}", f.to_string()));
/// ```
pub struct Failure<E = crate::Error>(Arc<E>);

impl<E> Failure<E> {
    /// Wraps an error.
    ///
    /// ```
    /// let f = k8sops_core::Failure::new(k8sops_core::Error::NotFound { what: "node a".into(), source: None });
    /// assert!(f.is_not_found());
    /// ```
    pub fn new(error: E) -> Self {
        Failure(Arc::new(error))
    }

    /// The error, shared.
    ///
    /// ```
    /// let f = k8sops_core::Failure::new(std::io::Error::other("disk"));
    /// let shared: std::sync::Arc<std::io::Error> = f.shared();
    /// assert_eq!(shared.to_string(), "disk");
    /// ```
    pub fn shared(&self) -> Arc<E> {
        self.0.clone()
    }
}

impl<E> From<E> for Failure<E> {
    fn from(error: E) -> Self {
        Failure::new(error)
    }
}

impl<E> Clone for Failure<E> {
    fn clone(&self) -> Self {
        Failure(self.0.clone())
    }
}

impl<E> Deref for Failure<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E: fmt::Debug> fmt::Debug for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for Failure<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl<E: fmt::Display> PartialEq for Failure<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl<E: fmt::Display> Eq for Failure<E> {}

impl<E: fmt::Display> Serialize for Failure<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}
