//! The dashboard's paths: security checks first (every request, then every state change),
//! then the page and its files, the state and stream, `/metrics`, control and downloads.
use std::sync::Arc;

use serde_json::json;

use super::dashboard::{Mode, Shared};
use super::form::{EditForm, StartForm};
use super::page;
use super::server::{Handler, Reply, Request, Response};
use crate::report;

/// Paths that change state: POST only, same origin, CSRF token.
pub const CHANGE_PATHS: [&str; 4] = ["/api/start", "/api/stop", "/api/edit", "/api/reset"];

/// The files a run can be downloaded as, and what writes each.
pub const DOWNLOADS: [&str; 6] = [
    "stats.csv",
    "stats_history.csv",
    "failures.csv",
    "exceptions.csv",
    "report.json",
    "report.html",
];

pub struct Routes(pub Arc<Shared>);

impl Handler for Routes {
    fn handle(&self, req: &Request) -> Reply {
        let s = &self.0;
        let set_cookie = match s.guard.admit(req) {
            Ok(from_query) => from_query,
            Err(r) => return Reply::Whole(Response::text(r.status(), r.message())),
        };
        let reply = route(s, req);
        match (set_cookie, s.guard.cookie()) {
            (true, Some(cookie)) => with_cookie(reply, cookie),
            _ => reply,
        }
    }
}

fn with_cookie(reply: Reply, cookie: String) -> Reply {
    match reply {
        Reply::Whole(r) => Reply::Whole(r.with_header("Set-Cookie", cookie)),
        Reply::Stream {
            mut headers,
            first,
            queue,
        } => {
            headers.push(("Set-Cookie", cookie));
            Reply::Stream {
                headers,
                first,
                queue,
            }
        }
    }
}

fn route(s: &Arc<Shared>, req: &Request) -> Reply {
    let path = req.path.as_str();
    if path == "/metrics" {
        return get_only(req, || {
            Response::new(200, super::metrics::CONTENT_TYPE, s.metrics())
        });
    }
    if s.mode == Mode::MetricsOnly {
        return Reply::Whole(Response::text(404, "this server serves /metrics only"));
    }
    if CHANGE_PATHS.contains(&path) {
        if let Err(r) = s.guard.allow_change(req) {
            let resp = Response::text(r.status(), r.message());
            let resp = if r.status() == 405 {
                resp.with_header("Allow", "POST")
            } else {
                resp
            };
            return Reply::Whole(resp);
        }
        return Reply::Whole(change(s, req));
    }
    if path == "/api/stream" {
        if req.method != "GET" {
            return Reply::Whole(not_allowed());
        }
        let (first, queue) = s.subscribe();
        return Reply::Stream {
            headers: Vec::new(),
            first,
            queue,
        };
    }
    get_only(req, || match path {
        "/" => Response::new(200, "text/html; charset=utf-8", page::index(s.guard.csrf())),
        "/api/state" => Response::json(200, &s.state()),
        _ => match (page::asset(path), path.strip_prefix("/download/")) {
            (Some((ty, body)), _) => Response::new(200, ty, body),
            (None, Some(name)) => download(s, name),
            (None, None) => Response::text(404, "not found"),
        },
    })
}

fn not_allowed() -> Response {
    Response::text(405, "GET only").with_header("Allow", "GET, HEAD")
}

fn get_only(req: &Request, answer: impl FnOnce() -> Response) -> Reply {
    Reply::Whole(match req.method.as_str() {
        "GET" => answer(),
        "HEAD" => {
            let mut r = answer();
            r.body.clear();
            r
        }
        _ => not_allowed(),
    })
}

fn change(s: &Arc<Shared>, req: &Request) -> Response {
    let outcome = match req.path.as_str() {
        "/api/start" => parse(req).and_then(|f: StartForm| s.start(&f)),
        "/api/stop" => s.stop(),
        "/api/edit" => parse(req).and_then(|f: EditForm| {
            let edit = f
                .edit()
                .map_err(|e| (422, json!({"field": e.field, "message": e.message})))?;
            s.edit(&edit)
        }),
        _ => s.reset(),
    };
    match outcome {
        Ok(()) => Response::json(200, &json!({"ok": true})),
        Err((status, body)) => Response::json(status, &body),
    }
}

fn parse<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, (u16, serde_json::Value)> {
    serde_json::from_slice(&req.body).map_err(|e| {
        (
            400,
            json!({"field": "form", "message": format!("bad request body: {e}")}),
        )
    })
}

/// A report of the run, written by the same code as the CLI's flags into a scratch
/// directory and read back.
fn download(s: &Shared, name: &str) -> Response {
    if !DOWNLOADS.contains(&name) {
        return Response::text(404, "no such download");
    }
    let Some(results) = s.results() else {
        return Response::text(404, "no run to download yet");
    };
    match written(&results, name) {
        Ok(body) => {
            let ty = match name.rsplit('.').next() {
                Some("csv") => "text/csv; charset=utf-8",
                Some("json") => "application/json",
                _ => "text/html; charset=utf-8",
            };
            Response::new(200, ty, body).with_header(
                "Content-Disposition",
                format!("attachment; filename=\"blast_{name}\""),
            )
        }
        Err(e) => Response::text(500, format!("writing {name}: {e}")),
    }
}

fn written(r: &crate::results::Results, name: &str) -> std::io::Result<Vec<u8>> {
    let dir = scratch_dir()?;
    let result = (|| {
        let prefix = dir.join("blast");
        let path = match name {
            "report.json" => {
                let p = dir.join(name);
                report::json::write(r, &p)?;
                p
            }
            "report.html" => {
                let p = dir.join(name);
                report::html::write(r, &p)?;
                p
            }
            _ => {
                report::csv::write(r, &prefix, false)?;
                report::csv::with_suffix(&prefix, &format!("_{name}"))
            }
        };
        std::fs::read(path)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A directory no other download uses.
fn scratch_dir() -> std::io::Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("blast-web-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
