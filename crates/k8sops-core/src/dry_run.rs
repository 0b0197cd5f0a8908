//! One dry-run switch, shared by every operation that changes a cluster and
//! passed down to what it calls (`kubectl --dry-run=none|client|server`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// `--dry-run`: whether an operation changes anything.
///
/// A composite operation (a scale-in that cordons, drains and terminates; a
/// node delete after a drain) takes one `DryRun` and hands it to every step,
/// so a dry run can never turn into a real change half-way.
///
/// ```
/// use k8sops_core::DryRun;
/// assert_eq!("server".parse::<DryRun>().unwrap(), DryRun::Server);
/// assert!(DryRun::Client.is_dry_run());
/// assert!(!DryRun::None.is_dry_run());
/// assert!("sometimes".parse::<DryRun>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DryRun {
    /// Do it.
    #[default]
    None,
    /// Decide locally and send nothing that changes the cluster (`--dry-run=client`).
    Client,
    /// Send every change with `dryRun=All` (`--dry-run=server`): the server
    /// runs admission, budgets and permissions but persists nothing. Backends
    /// with no server-side dry run (cloud APIs) send nothing.
    Server,
}

impl DryRun {
    /// Whether nothing is to be changed.
    ///
    /// ```
    /// assert!(k8sops_core::DryRun::Server.is_dry_run());
    /// ```
    pub fn is_dry_run(self) -> bool {
        self != DryRun::None
    }

    /// Whether requests are sent to the server (`None` and `Server`).
    ///
    /// ```
    /// assert!(!k8sops_core::DryRun::Client.sends_requests());
    /// ```
    pub fn sends_requests(self) -> bool {
        self != DryRun::Client
    }

    /// Whether requests carry `dryRun=All`.
    ///
    /// ```
    /// assert!(k8sops_core::DryRun::Server.server_side());
    /// ```
    pub fn server_side(self) -> bool {
        self == DryRun::Server
    }
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DryRun::None => "none",
            DryRun::Client => "client",
            DryRun::Server => "server",
        })
    }
}

/// A `--dry-run` value that is not `none`, `client` or `server`.
///
/// ```
/// let err = "yes".parse::<k8sops_core::DryRun>().unwrap_err();
/// assert!(err.to_string().contains("none, client, server"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dry-run value {0:?}: must be one of none, client, server")]
pub struct ParseDryRunError(pub String);

impl FromStr for DryRun {
    type Err = ParseDryRunError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(DryRun::None),
            "client" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            other => Err(ParseDryRunError(other.to_string())),
        }
    }
}
