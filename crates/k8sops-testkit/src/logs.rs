//! `GET pods/{name}/log`: container, previous, tailLines, timestamps,
//! sinceSeconds, limitBytes and follow, over log lines tests set.

use std::{collections::HashMap, convert::Infallible, sync::Mutex};

use bytes::Bytes;
use http::Response;
use hyper::body::Frame;
use tokio::sync::{broadcast, mpsc};

use crate::{
    server::{bytes_response, lock, Body, Req, Shared, Target},
    status::ApiError,
    watch::stream_response,
};

type LogKey = (String, String, String, bool);

#[derive(Clone, Debug)]
pub(crate) struct LogLine {
    pub(crate) at: k8s_openapi::jiff::Timestamp,
    pub(crate) text: String,
}

pub(crate) struct Logs {
    lines: Mutex<HashMap<LogKey, Vec<LogLine>>>,
    tx: broadcast::Sender<(LogKey, LogLine)>,
}

impl Logs {
    pub(crate) fn new() -> Self {
        Logs { lines: Mutex::new(HashMap::new()), tx: broadcast::channel(1024).0 }
    }

    pub(crate) fn append(&self, ns: &str, pod: &str, container: &str, previous: bool, text: &str) {
        let key = (ns.to_string(), pod.to_string(), container.to_string(), previous);
        for l in text.lines() {
            let line = LogLine { at: k8s_openapi::jiff::Timestamp::now(), text: l.to_string() };
            lock(&self.lines).entry(key.clone()).or_default().push(line.clone());
            let _ = self.tx.send((key.clone(), line));
        }
    }
}

fn render(line: &LogLine, timestamps: bool) -> String {
    if timestamps {
        format!("{} {}\n", line.at, line.text)
    } else {
        format!("{}\n", line.text)
    }
}

pub(crate) async fn get(shared: &Shared, req: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let ns = t.namespace.clone().unwrap_or_default();
    let name = t.name.clone().unwrap_or_default();
    let pod = shared
        .store()
        .get("/pods", &(ns.clone(), name.clone()))
        .ok_or_else(|| ApiError::not_found("pods", "", &name))?;
    let mut names: Vec<String> = Vec::new();
    for list in ["containers", "initContainers"] {
        for c in pod["spec"][list].as_array().into_iter().flatten() {
            names.extend(c["name"].as_str().map(str::to_string));
        }
    }
    let app_containers = pod["spec"]["containers"].as_array().map(Vec::len).unwrap_or(0);
    let container = match req.q("container") {
        Some(c) if names.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
        }
        None if app_containers == 1 => names[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let previous = req.flag("previous");
    let timestamps = req.flag("timestamps");
    let key = (ns.clone(), name.clone(), container.clone(), previous);
    let stored = lock(&shared.logs.lines).get(&key).cloned();
    let Some(mut lines) = stored.or_else(|| (!previous).then(Vec::new)) else {
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    };
    if let Some(secs) = req.q("sinceSeconds").and_then(|s| s.parse::<i64>().ok()) {
        let cutoff = k8s_openapi::jiff::Timestamp::now().as_second() - secs;
        lines.retain(|l| l.at.as_second() >= cutoff);
    }
    if let Some(n) = req.q("tailLines").and_then(|s| s.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut text: String = lines.iter().map(|l| render(l, timestamps)).collect();
    if let Some(limit) = req.q("limitBytes").and_then(|s| s.parse::<usize>().ok()) {
        text.truncate(limit);
    }
    if !req.flag("follow") || previous {
        return Ok(bytes_response(200, text.into(), "text/plain"));
    }
    let mut rx_lines = shared.logs.tx.subscribe();
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                msg = rx_lines.recv() => match msg {
                    Ok((k, line)) if k == key => {
                        if tx.send(Ok(Frame::data(Bytes::from(render(&line, timestamps))))).await.is_err() { return; }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(stream_response(vec![Bytes::from(text)], Some(rx)))
}
