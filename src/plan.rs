//! The `Plan`: every flag and scenario setting, validated and resolved into one immutable
//! value before any thread starts. Workers only execute it; reports describe it.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::http;
use crate::target::{Target, TargetError};

/// Run length when neither a duration nor a request count is given (as wrk).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
pub const DEFAULT_USERS: u64 = 50;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pipelining deeper than this buys nothing and hides bugs.
pub const MAX_PIPELINE: usize = 1024;

/// Which I/O driver workers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverChoice {
    /// io_uring, falling back to epoll where the kernel or a sandbox refuses it.
    Auto,
    /// io_uring only.
    Uring,
    /// epoll only.
    Epoll,
}

/// When requests are sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// `users` connections, each sending its next request when the last completes.
    Closed { users: u64 },
    /// `rate` requests/s in total on a fixed schedule, over at most `conns` connections.
    Open { rate: f64, conns: u64 },
}

impl Load {
    /// Connections the run may open.
    pub fn connections(&self) -> u64 {
        match *self {
            Load::Closed { users } => users,
            Load::Open { conns, .. } => conns,
        }
    }
}

/// A report row: requests of one method and name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TaskInfo {
    pub method: String,
    pub name: String,
}

/// What the user asked for, before validation: flags, with scenario values filling gaps.
#[derive(Clone, Debug, Default)]
pub struct PlanInput {
    pub url: Option<String>,
    pub cores: Option<usize>,
    pub users: Option<u64>,
    pub rate: Option<f64>,
    pub pipeline: Option<usize>,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub method: Option<String>,
    pub headers: Vec<String>,
    pub body: Option<Vec<u8>>,
    pub driver: Option<DriverChoice>,
    pub json: Option<PathBuf>,
    pub quiet: bool,
}

/// The validated run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub target: Target,
    /// Worker threads; one per pinned core.
    pub workers: usize,
    /// Core id each worker is pinned to, in worker order (None: pinning unavailable).
    pub cores: Vec<Option<usize>>,
    pub load: Load,
    pub pipeline: usize,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub driver: DriverChoice,
    pub method: String,
    /// The request, encoded once; every worker sends copies of these bytes.
    pub request: Vec<u8>,
    pub tasks: Vec<TaskInfo>,
    pub json: Option<PathBuf>,
    pub quiet: bool,
    /// Adjustments the user should hear about (fewer cores than asked, and so on).
    pub notes: Vec<String>,
}

/// One worker's part of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub users: u64,
    /// Global index of this worker's first user (for staggered starts).
    pub first_user: u64,
    pub rate: f64,
    pub requests: Option<u64>,
}

#[derive(Debug)]
pub enum PlanError {
    MissingUrl,
    Target(TargetError),
    Zero(&'static str),
    BadRate(f64),
    PipelineTooDeep(usize),
    Header(String, String),
    Method(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::MissingUrl => write!(f, "no target URL given"),
            PlanError::Target(e) => write!(f, "{e}"),
            PlanError::Zero(what) => write!(f, "{what} must be at least 1"),
            PlanError::BadRate(r) => write!(f, "rate must be a positive number, got {r}"),
            PlanError::PipelineTooDeep(k) => {
                write!(
                    f,
                    "pipeline depth {k} exceeds the maximum of {MAX_PIPELINE}"
                )
            }
            PlanError::Header(h, why) => write!(f, "invalid header {h:?}: {why}"),
            PlanError::Method(why) => write!(f, "invalid method: {why}"),
        }
    }
}

impl std::error::Error for PlanError {}

impl From<TargetError> for PlanError {
    fn from(e: TargetError) -> Self {
        PlanError::Target(e)
    }
}

impl Plan {
    /// Validates `input` against this machine (`available` = cores the process may use).
    pub fn build(input: PlanInput, available: &[usize]) -> Result<Plan, PlanError> {
        let url = input.url.as_deref().ok_or(PlanError::MissingUrl)?;
        let target = Target::resolve(url)?;
        let mut notes = Vec::new();
        let load = load_model(&input)?;
        let pipeline = positive(input.pipeline.unwrap_or(1), "--pipeline")?;
        if pipeline > MAX_PIPELINE {
            return Err(PlanError::PipelineTooDeep(pipeline));
        }
        let cores = pick_cores(input.cores, available, load.connections(), &mut notes)?;
        let requests = input
            .requests
            .map(|n| positive(n, "--requests"))
            .transpose()?;
        let duration = match (input.duration, requests) {
            (None, None) => Some(DEFAULT_DURATION),
            (d, _) => d,
        };
        let method = input
            .method
            .clone()
            .unwrap_or_else(|| default_method(&input));
        http::validate_method(&method).map_err(|e| PlanError::Method(e.to_string()))?;
        let headers = parse_headers(&input.headers)?;
        let body = input.body.clone().unwrap_or_default();
        let mut request = Vec::new();
        http::encode_request(
            &http::RequestSpec {
                method: &method,
                target: &target.path,
                host: &target.host,
                headers: &headers,
                body: &body,
            },
            &mut request,
        );
        let tasks = vec![TaskInfo {
            method: method.clone(),
            name: target.path.clone(),
        }];
        Ok(Plan {
            workers: cores.len(),
            cores,
            load,
            pipeline,
            duration,
            requests,
            timeout: input.timeout.unwrap_or(DEFAULT_TIMEOUT),
            connect_timeout: input.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            driver: input.driver.unwrap_or(DriverChoice::Auto),
            method,
            request,
            tasks,
            json: input.json,
            quiet: input.quiet,
            notes,
            target,
        })
    }

    /// Worker `index`'s share of users, rate and request budget; remainders go to the
    /// first workers so the shares add up to exactly the plan.
    pub fn share(&self, index: usize) -> Share {
        let w = self.workers as u64;
        let i = index as u64;
        let users = split(self.load.connections(), w, i);
        let first_user = (0..i).map(|j| split(self.load.connections(), w, j)).sum();
        let rate = match self.load {
            Load::Open { rate, .. } => rate / self.workers as f64,
            Load::Closed { .. } => 0.0,
        };
        Share {
            users,
            first_user,
            rate,
            requests: self.requests.map(|n| split(n, w, i)),
        }
    }

    /// True when HEAD is sent: responses carry no body whatever their headers say.
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

/// `total` split over `parts`: part `i` gets the floor share plus one of the remainder.
pub fn split(total: u64, parts: u64, i: u64) -> u64 {
    total / parts + u64::from(i < total % parts)
}

fn positive<T: PartialEq + From<u8>>(v: T, what: &'static str) -> Result<T, PlanError> {
    if v == T::from(0) {
        Err(PlanError::Zero(what))
    } else {
        Ok(v)
    }
}

fn load_model(input: &PlanInput) -> Result<Load, PlanError> {
    let users = positive(input.users.unwrap_or(DEFAULT_USERS), "--users")?;
    match input.rate {
        None => Ok(Load::Closed { users }),
        Some(rate) if rate.is_finite() && rate > 0.0 => Ok(Load::Open { rate, conns: users }),
        Some(rate) => Err(PlanError::BadRate(rate)),
    }
}

/// One worker per core asked for, never more than the cores available nor than connections.
fn pick_cores(
    asked: Option<usize>,
    available: &[usize],
    connections: u64,
    notes: &mut Vec<String>,
) -> Result<Vec<Option<usize>>, PlanError> {
    let have = available.len().max(1);
    let want = positive(asked.unwrap_or(have), "--cores")?;
    let mut n = want.min(have);
    if want > have {
        notes.push(format!(
            "{want} cores asked, {have} available: running {n} workers"
        ));
    }
    if (n as u64) > connections {
        n = connections as usize;
        notes.push(format!(
            "only {connections} connections: running {n} workers"
        ));
    }
    Ok((0..n).map(|i| available.get(i).copied()).collect())
}

fn default_method(input: &PlanInput) -> String {
    if input.body.is_some() { "POST" } else { "GET" }.to_owned()
}

fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, PlanError> {
    raw.iter()
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| PlanError::Header(h.clone(), "expected 'Name: value'".into()))?;
            let (name, value) = (name.trim(), value.trim());
            http::validate_header(name, value)
                .map_err(|e| PlanError::Header(h.clone(), e.to_string()))?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> PlanInput {
        PlanInput {
            url: Some(url.to_owned()),
            ..PlanInput::default()
        }
    }

    #[test]
    fn shares_add_up_to_the_plan() {
        for (total, parts) in [(10_000u64, 8u64), (7, 3), (1, 1), (50, 2), (3, 8)] {
            let sum: u64 = (0..parts).map(|i| split(total, parts, i)).sum();
            assert_eq!(sum, total, "{total}/{parts}");
        }
        let mut i = input("http://127.0.0.1:1/");
        i.users = Some(7);
        i.cores = Some(2);
        i.requests = Some(101);
        let plan = Plan::build(i, &[0, 1]).unwrap();
        let (a, b) = (plan.share(0), plan.share(1));
        assert_eq!((a.users, b.users), (4, 3));
        assert_eq!((a.first_user, b.first_user), (0, 4));
        assert_eq!((a.requests, b.requests), (Some(51), Some(50)));
    }

    #[test]
    fn more_cores_than_the_machine_has_runs_what_it_has_and_says_so() {
        let mut i = input("http://127.0.0.1:1/health");
        i.cores = Some(8);
        i.users = Some(10_000);
        let plan = Plan::build(i, &[0, 1]).unwrap();
        assert_eq!(plan.workers, 2);
        assert_eq!(plan.cores, vec![Some(0), Some(1)]);
        assert!(
            plan.notes[0].contains("8 cores asked, 2 available"),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn never_more_workers_than_connections() {
        let mut i = input("http://127.0.0.1:1/");
        i.users = Some(1);
        let plan = Plan::build(i, &[0, 1, 2, 3]).unwrap();
        assert_eq!(plan.workers, 1);
    }

    #[test]
    fn rate_splits_evenly_and_users_cap_connections() {
        let mut i = input("http://127.0.0.1:1/");
        i.rate = Some(1000.0);
        i.users = Some(10);
        let plan = Plan::build(i, &[0, 1]).unwrap();
        assert_eq!(
            plan.load,
            Load::Open {
                rate: 1000.0,
                conns: 10
            }
        );
        assert_eq!(plan.share(1).rate, 500.0);
    }

    #[test]
    fn rejects_invalid_input() {
        let bad = |f: fn(&mut PlanInput)| {
            let mut i = input("http://127.0.0.1:1/");
            f(&mut i);
            Plan::build(i, &[0]).unwrap_err().to_string()
        };
        assert!(bad(|i| i.users = Some(0)).contains("--users"));
        assert!(bad(|i| i.rate = Some(-1.0)).contains("rate"));
        assert!(bad(|i| i.rate = Some(f64::NAN)).contains("rate"));
        assert!(bad(|i| i.pipeline = Some(MAX_PIPELINE + 1)).contains("pipeline"));
        assert!(bad(|i| i.headers = vec!["NoColon".into()]).contains("NoColon"));
        assert!(bad(|i| i.url = None).contains("URL"));
    }

    #[test]
    fn encodes_the_request_once_with_method_headers_and_body() {
        let mut i = input("http://127.0.0.1:9/predict");
        i.body = Some(b"{}".to_vec());
        i.headers = vec!["Content-Type: application/json".into()];
        let plan = Plan::build(i, &[0]).unwrap();
        let text = String::from_utf8(plan.request.clone()).unwrap();
        assert!(text.starts_with("POST /predict HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("Content-Type: application/json\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
        assert_eq!(plan.duration, Some(DEFAULT_DURATION));
    }
}
