//! What the tests of the example binaries share: finding a built example
//! and running it as a user would, in a clean environment, with what it
//! printed and its exit code kept for the assertions.
//!
//! `cargo test` builds the examples of the package before it runs a test.
//! Every run gets an empty HOME and none of the variables that choose a
//! cluster or an account (see [`CLEARED`]) unless the test sets them, so no
//! developer's real cluster or AWS account is ever used.

// Each test file uses a subset of these helpers.
#![allow(dead_code)]

use std::{
    ffi::OsStr,
    fmt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The variables removed from every run: where a kubeconfig, the demo
/// cluster, an in-cluster service account, Velero's namespace or an AWS
/// account would otherwise come from.
pub(crate) const CLEARED: &[&str] = &[
    "KUBECONFIG",
    "K8SOPS_DEMO",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "VELERO_NAMESPACE",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// `target/debug/examples/NAME`, next to the running test's own `target/debug/deps/`.
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent().and_then(Path::parent).expect("target/debug");
    let path = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built; run `cargo build -p k8sops-examples --all-features --examples` (cargo test builds it too)",
        path.display()
    );
    path
}

/// How a run of an example ended.
pub(crate) struct Run {
    /// The exit code (`None` when a signal ended it).
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The first line of stderr, where the examples say which cluster they use.
    pub(crate) fn first_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

impl From<Output> for Run {
    fn from(Output { status, stdout, stderr }: Output) -> Self {
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Everything the run printed, for assertion messages.
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs the example `name` with `args`, an empty HOME, none of the
/// [`CLEARED`] variables, then `env` on top.
pub(crate) fn run(name: &str, args: &[&str], env: &[(&str, &dyn AsRef<OsStr>)]) -> Run {
    let home = tempfile::tempdir().expect("a temporary HOME");
    let mut cmd = Command::new(example(name));
    cmd.args(args).env("HOME", home.path());
    for var in CLEARED {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v.as_ref());
    }
    cmd.output().expect("run the example").into()
}
