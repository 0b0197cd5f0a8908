//! The demo cluster served from a child process, so that a bench can
//! measure each program it compares (kubectl, a k8sops process) alone under
//! GNU time: the bench binary runs itself again with
//! `K8SOPS_BENCH_ROLE=server`, and that child loads
//! [`DemoCluster::scaled`] into a testkit server and serves it until its
//! standard input closes.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, Command, Stdio},
};

use k8sops_testkit::{DemoCluster, TestServer};

use crate::{env_usize, runtime};

/// The variable that tells a bench binary which part it plays
/// (`server`, or the bench's own roles).
pub const ROLE: &str = "K8SOPS_BENCH_ROLE";

/// The child's side (role `server`): loads the demo cluster of
/// `K8SOPS_BENCH_NODES` nodes and `K8SOPS_BENCH_PODS` pods, prints
/// `ready KUBECONFIG NODES PODS`, and serves until its standard input closes.
pub fn serve() {
    let nodes = env_usize("K8SOPS_BENCH_NODES", 20);
    let pods = env_usize("K8SOPS_BENCH_PODS", 200);
    runtime().block_on(async {
        let server = TestServer::start().await.expect("start testkit");
        let summary = server.load(&DemoCluster::scaled(nodes, pods)).expect("load demo cluster");
        println!("ready {} {} {}", server.kubeconfig_path().display(), summary.nodes, summary.pods);
        std::io::stdout().flush().expect("stdout");
        until_stdin_closes().await;
    });
}

/// Waits until the parent closes this child's standard input (its way of
/// saying "stop serving").
pub async fn until_stdin_closes() {
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .expect("wait for stdin to close");
}

/// A child of this bench binary in the `server` role, started with `env`
/// set; ready once it has printed its first line. Stopped (its standard
/// input closed, then waited for) on drop.
#[derive(Debug)]
pub struct ServerChild {
    child: Child,
    /// The line the child printed when ready, without its line end.
    pub ready: String,
}

impl ServerChild {
    /// Starts the child and waits for its ready line.
    pub fn start(env: &[(&str, String)]) -> ServerChild {
        let mut command = Command::new(std::env::current_exe().expect("current exe"));
        command.env(ROLE, "server");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start the server child");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read ready line");
        ServerChild { child, ready: line.trim_end().to_string() }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A running demo-cluster server child; stopped on drop.
#[derive(Debug)]
pub struct DemoServer {
    _child: ServerChild,
    /// The server's kubeconfig.
    pub kubeconfig: String,
    /// Nodes loaded.
    pub nodes: usize,
    /// Pods loaded (the DaemonSets add one per node).
    pub pods: usize,
}

impl DemoServer {
    /// Starts this binary again as the server child with
    /// `DemoCluster::scaled(nodes, pods)` and waits until it serves.
    pub fn start(nodes: usize, pods: usize) -> DemoServer {
        let child =
            ServerChild::start(&[("K8SOPS_BENCH_NODES", nodes.to_string()), ("K8SOPS_BENCH_PODS", pods.to_string())]);
        let parts: Vec<&str> = child.ready.split_whitespace().collect();
        assert!(parts.len() == 4 && parts[0] == "ready", "server child said {:?}", child.ready);
        DemoServer {
            kubeconfig: parts[1].to_string(),
            nodes: parts[2].parse().expect("nodes"),
            pods: parts[3].parse().expect("pods"),
            _child: child,
        }
    }

    /// `kubectl ARGS` against this server, with its discovery cache in `cache`.
    pub fn kubectl(&self, cache: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(cache).args(args);
        c
    }
}
