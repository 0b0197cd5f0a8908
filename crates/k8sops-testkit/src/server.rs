//! The HTTP side: accept connections, apply latency and faults, authenticate,
//! authorize, and route each request to its handler.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use k8sops_core::CancellationToken;
use serde_json::{json, Value};

use crate::{
    crud, discovery, eviction,
    faults::{self, Fault, FaultAction, SplitMix},
    logs::Logs,
    rbac::{self, Attributes, UserInfo},
    resources::{Access, ResourceDef},
    status::ApiError,
    store::Store,
    watch, KubeletOptions,
};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// One request as the server saw it, for tests to assert on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = k8sops_testkit::TestServer::start().await?;
/// server.cluster().server_version().await?;
/// for r in server.requests() {
///     println!("{} {}?{} -> {} ({})", r.method, r.path, r.query, r.status, r.user);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Status code answered (0 if the connection was dropped).
    pub status: u16,
    /// Authenticated user name.
    pub user: String,
}

pub(crate) struct Options {
    pub(crate) git_version: String,
    pub(crate) kubelet: Option<KubeletOptions>,
    pub(crate) latency: Duration,
    pub(crate) bookmark_interval: Duration,
    pub(crate) anonymous_is_admin: bool,
}

pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) opts: Options,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) rng: Mutex<SplitMix>,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    pub(crate) tokens: Mutex<HashMap<String, UserInfo>>,
    pub(crate) logs: Logs,
    pub(crate) shutdown: CancellationToken,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

/// A parsed request.
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) raw_query: String,
    pub(crate) query: HashMap<String, String>,
    pub(crate) body: Bytes,
    pub(crate) accept: String,
    pub(crate) content_type: String,
    pub(crate) user: UserInfo,
}

impl Req {
    pub(crate) fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str).filter(|s| !s.is_empty())
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }

    pub(crate) fn wants_table(&self) -> bool {
        self.accept.contains("as=Table")
    }

    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1"))
    }
}

/// Where a resource request points.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) def: ResourceDef,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) sub: Option<String>,
}

pub(crate) fn json_response(code: u16, v: &Value) -> Response<Body> {
    bytes_response(code, serde_json::to_vec(v).unwrap_or_default().into(), "application/json")
}

pub(crate) fn bytes_response(code: u16, body: Bytes, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// Marker error: close the connection without a response.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let header =
        |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let accept = header(header::ACCEPT);
    let content_type = header(header::CONTENT_TYPE);
    let auth = header(header::AUTHORIZATION);
    let impersonate_user = req.headers().get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string);
    let impersonate_groups: Vec<String> =
        req.headers().get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect();
    let query: HashMap<String, String> = form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();

    if !shared.opts.latency.is_zero() {
        tokio::time::sleep(shared.opts.latency).await;
    }
    let fault = {
        let mut faults = lock(&shared.faults);
        let mut rng = lock(&shared.rng);
        faults::pick(&mut faults, &mut rng, &method, &path)
    };
    let record = |status: u16, user: &str| {
        lock(&shared.requests).push(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            query: raw_query.clone(),
            status,
            user: user.to_string(),
        });
    };
    match fault {
        Some(FaultAction::DropConnection) => {
            record(0, "");
            return Err(Dropped);
        }
        Some(FaultAction::Status(code)) => {
            record(code, "");
            let reason = match code {
                500 => "InternalError",
                503 => "ServiceUnavailable",
                504 => "Timeout",
                429 => "TooManyRequests",
                _ => "InternalError",
            };
            return Ok(error_response(&ApiError::new(code, reason, format!("injected fault: {code}"))));
        }
        Some(FaultAction::TooManyRequests { retry_after_secs }) => {
            record(429, "");
            let e = ApiError::new(429, "TooManyRequests", "injected fault: too many requests, please try again later")
                .with_details(json!({"retryAfterSeconds": retry_after_secs}));
            let mut resp = error_response(&e);
            if let Ok(v) = retry_after_secs.to_string().parse() {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
        Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }

    let user = match auth.strip_prefix("Bearer ") {
        Some(token) => match lock(&shared.tokens).get(token.trim()) {
            Some(u) => u.clone(),
            None => {
                record(401, "");
                return Ok(error_response(&ApiError::new(401, "Unauthorized", "Unauthorized")));
            }
        },
        // Like the API server's old insecure port: kubectl sends no credentials over plain HTTP.
        None if shared.opts.anonymous_is_admin => UserInfo::new("admin", &["system:masters"]),
        None => UserInfo::anonymous(),
    };
    let user = match impersonate_user {
        Some(name) if user.is_master() => {
            let groups: Vec<&str> = impersonate_groups.iter().map(String::as_str).collect();
            UserInfo::new(name, &groups)
        }
        Some(_) => {
            record(403, &user.name);
            return Ok(error_response(&ApiError::new(
                403,
                "Forbidden",
                format!("users \"{}\" is forbidden: User cannot impersonate resource \"users\"", user.name),
            )));
        }
        None => user,
    };

    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let r = Req { method, path, raw_query, query, body, accept, content_type, user };
    let resp = match route(&shared, &r).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    lock(&shared.requests).push(RequestRecord {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.raw_query.clone(),
        status: resp.status().as_u16(),
        user: r.user.name.clone(),
    });
    Ok(resp)
}

fn non_resource_allowed(shared: &Shared, req: &Req) -> Result<(), ApiError> {
    let attrs = Attributes { verb: req.method.to_lowercase(), path: Some(req.path.clone()), ..Default::default() };
    let (ok, _) = rbac::authorize(&shared.store(), &req.user, &attrs);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "Forbidden",
            format!("forbidden: User \"{}\" cannot get path \"{}\"", req.user.name, req.path),
        ))
    }
}

async fn route(shared: &Arc<Shared>, req: &Req) -> Result<Response<Body>, ApiError> {
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => {
            non_resource_allowed(shared, req)?;
            return Ok(json_response(200, &discovery::version(&shared.opts.git_version)));
        }
        [probe @ ("healthz" | "livez" | "readyz")] => {
            non_resource_allowed(shared, req)?;
            if req.query.contains_key("verbose") {
                let checks = [
                    "ping",
                    "log",
                    "etcd",
                    "informer-sync",
                    "poststarthook/start-kube-apiserver-admission-initializer",
                ];
                let mut text: String = checks.iter().map(|c| format!("[+]{c} ok\n")).collect();
                text.push_str(&format!("{probe} check passed\n"));
                return Ok(bytes_response(200, text.into(), "text/plain; charset=utf-8"));
            }
            return Ok(bytes_response(200, Bytes::from_static(b"ok"), "text/plain; charset=utf-8"));
        }
        ["api"] => {
            non_resource_allowed(shared, req)?;
            return Ok(json_response(200, &discovery::core_versions()));
        }
        ["apis"] => {
            non_resource_allowed(shared, req)?;
            return Ok(json_response(200, &discovery::group_list(&shared.store())));
        }
        ["api", "v1"] => {
            non_resource_allowed(shared, req)?;
            let list = discovery::resource_list(&shared.store(), "", "v1");
            return Ok(json_response(200, &list.unwrap_or_default()));
        }
        ["apis", g] => {
            non_resource_allowed(shared, req)?;
            return match discovery::group(&shared.store(), g) {
                Some(v) => Ok(json_response(200, &v)),
                None => Err(ApiError::new(404, "NotFound", "the server could not find the requested resource")),
            };
        }
        ["apis", g, v] => {
            non_resource_allowed(shared, req)?;
            return match discovery::resource_list(&shared.store(), g, v) {
                Some(v) => Ok(json_response(200, &v)),
                None => Err(ApiError::new(404, "NotFound", "the server could not find the requested resource")),
            };
        }
        _ => {}
    }
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::new(404, "NotFound", "the server could not find the requested resource")),
    };
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        other => (false, other),
    };
    let target = resolve(shared, group, version, rest)?;
    let verb = verb_for(req, &target, watch_prefix);
    let attrs = Attributes {
        verb: verb.to_string(),
        group: group.to_string(),
        resource: target.def.plural.clone(),
        subresource: target.sub.clone().unwrap_or_default(),
        namespace: target.namespace.clone().unwrap_or_default(),
        name: target.name.clone().unwrap_or_default(),
        path: None,
    };
    let (allowed, _) = rbac::authorize(&shared.store(), &req.user, &attrs);
    if !allowed {
        let resource = match &target.sub {
            Some(s) => format!("{}/{s}", target.def.plural),
            None => target.def.plural.clone(),
        };
        return Err(ApiError::forbidden(&req.user.name, verb, &resource, group, target.namespace.as_deref()));
    }
    let allowed_verbs = target.def.verbs();
    if target.sub.is_none() && !allowed_verbs.contains(&verb) {
        return Err(ApiError::method_not_allowed());
    }
    if target.def.access == Access::CreateOnly {
        return crate::reviews::create(shared, req, &target);
    }
    match (verb, target.sub.as_deref()) {
        ("watch", _) => watch::watch(shared.clone(), req, &target),
        ("list", _) => crud::list(shared, req, &target),
        ("get", Some("log")) => crate::logs::get(shared, req, &target).await,
        ("get", Some("scale")) => crud::get_scale(shared, &target),
        ("get", _) => crud::get(shared, req, &target),
        ("create", Some("eviction")) => eviction::evict(shared, req, &target),
        ("create", Some("binding")) => crud::bind(shared, req, &target),
        ("create", None) => crud::create(shared, req, &target),
        ("update", Some("scale")) | ("patch", Some("scale")) => crud::update_scale(shared, req, &target),
        ("update", _) => crud::update(shared, req, &target),
        ("patch", _) => crud::patch(shared, req, &target),
        ("delete", _) => crud::delete(shared, req, &target),
        ("deletecollection", _) => crud::delete_collection(shared, req, &target),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn verb_for(req: &Req, target: &Target, watch_prefix: bool) -> &'static str {
    let watch = watch_prefix || req.flag("watch");
    match (req.method.as_str(), target.name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn resolve(shared: &Shared, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let store = shared.store();
    let not_found = || ApiError::new(404, "NotFound", "the server could not find the requested resource");
    let find = |plural: &str| store.find(group, version, plural).cloned();
    let t = match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|d| d.namespaced) => {
            let def = find(plural).ok_or_else(not_found)?;
            match tail {
                [] => Target { def, namespace: Some(ns.to_string()), name: None, sub: None },
                [name] => Target { def, namespace: Some(ns.to_string()), name: Some(name.to_string()), sub: None },
                [name, sub] => Target {
                    def,
                    namespace: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    sub: Some(sub.to_string()),
                },
                _ => return Err(not_found()),
            }
        }
        [plural, tail @ ..] => {
            let def = find(plural).ok_or_else(not_found)?;
            match tail {
                [] => Target { def, namespace: None, name: None, sub: None },
                [name] if !def.namespaced => Target { def, namespace: None, name: Some(name.to_string()), sub: None },
                [name, sub] if !def.namespaced => {
                    Target { def, namespace: None, name: Some(name.to_string()), sub: Some(sub.to_string()) }
                }
                _ => return Err(not_found()),
            }
        }
        [] => return Err(not_found()),
    };
    if let Some(sub) = &t.sub {
        let known = (sub == "status" && t.def.status_subresource) || t.def.subresources.contains(sub);
        if !known {
            return Err(not_found());
        }
    }
    Ok(t)
}
