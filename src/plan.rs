//! The `Plan`: every flag and scenario setting, validated and resolved into one immutable
//! value before any thread starts. Workers only execute it; reports describe it.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::schedule::Ramp;
use crate::http;
use crate::scenario::{self, Scenario, StageTarget, Wait};
use crate::shard::Shard;
use crate::target::{Target, TargetError};

/// Run length when neither a duration nor a request count is given (as wrk).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
pub const DEFAULT_USERS: u64 = 50;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pipelining deeper than this buys nothing and hides bugs.
pub const MAX_PIPELINE: usize = 1024;

/// Which I/O driver workers run on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
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
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskInfo {
    pub method: String,
    pub name: String,
}

/// One request header as reports show it: `task` is the report row it belongs to, and a
/// secret value (credentials, `secret = true` in a scenario) is [`scenario::REDACTED`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderInfo {
    pub task: String,
    pub name: String,
    pub value: String,
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
    pub quiet: bool,
    /// Users started per second (closed model); None starts them all at once.
    pub spawn_rate: Option<f64>,
    /// Tasks, think time and load shape; flags above override its settings.
    pub scenario: Option<Arc<Scenario>>,
    /// This process's part of a sharded run; None runs the whole plan.
    pub shard: Option<Shard>,
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
    /// Request headers as reports show them, secrets redacted.
    pub headers: Vec<HeaderInfo>,
    /// Where tasks come from when the run has a scenario (else the fixed `request`).
    pub scenario: Option<Arc<Scenario>>,
    /// Think time between one user's requests.
    pub wait: Wait,
    pub spawn_rate: Option<f64>,
    /// Stages: the users (closed) or total rate (open) level over time.
    pub ramp: Option<Ramp>,
    pub quiet: bool,
    /// Adjustments the user should hear about (fewer cores than asked, and so on).
    pub notes: Vec<String>,
    /// The part of a sharded run this process runs (`Shard::WHOLE` when unsharded): users,
    /// rate and request budget above are already this shard's.
    pub shard: Shard,
}

/// What a report says about the plan that ran: plain data, saved in the JSON report and read
/// back by `blast report` and `blast merge`, so reports never need the live `Plan`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanInfo {
    pub url: String,
    pub method: String,
    /// The scenario file's path, for a scenario run.
    pub scenario: Option<String>,
    pub tasks: Vec<TaskInfo>,
    /// Request headers, secrets redacted; absent from reports of runs that sent none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderInfo>,
    pub workers: usize,
    /// Connections on the first worker (the others have this many or one fewer).
    pub users_per_worker: u64,
    pub load: Load,
    pub pipeline: usize,
    #[serde(with = "secs::option")]
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    #[serde(with = "secs")]
    pub timeout: Duration,
    pub driver: DriverChoice,
    pub spawn_rate: Option<f64>,
    /// The load follows the scenario's stages.
    pub stages: bool,
    pub notes: Vec<String>,
    /// This process's part of a sharded run (`--shard I/N`); None for a whole run.
    pub shard: Option<Shard>,
    /// The blast version that ran it.
    pub version: String,
}

/// Durations as seconds (a float) in saved reports.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<f64>::deserialize(d)?
                .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// One worker's part of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub users: u64,
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
    BadSpawnRate(f64),
    PipelinedThinkTime,
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
            PlanError::BadSpawnRate(r) => {
                write!(f, "spawn rate must be a positive number, got {r}")
            }
            PlanError::PipelinedThinkTime => write!(
                f,
                "a scenario with think time (`wait`) sends one request at a time: use --pipeline 1"
            ),
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
        let input = with_scenario_defaults(input);
        let url = input.url.as_deref().ok_or(PlanError::MissingUrl)?;
        let target = Target::resolve(url)?;
        let mut notes = Vec::new();
        let shard = input.shard.unwrap_or(Shard::WHOLE);
        let (load, ramp) = load_model(&input)?;
        let (load, ramp) = shard_load(load, ramp, shard)?;
        let pipeline = positive(input.pipeline.unwrap_or(1), "--pipeline")?;
        if pipeline > MAX_PIPELINE {
            return Err(PlanError::PipelineTooDeep(pipeline));
        }
        let wait = input.scenario.as_ref().map_or(Wait::None, |s| s.wait);
        if pipeline > 1 && wait != Wait::None {
            return Err(PlanError::PipelinedThinkTime);
        }
        if let Some(r) = input.spawn_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(PlanError::BadSpawnRate(r));
        }
        let cores = pick_cores(input.cores, available, load.connections(), &mut notes)?;
        let requests = input
            .requests
            .map(|n| positive(n, "--requests"))
            .transpose()?
            .map(|n| positive(shard.part(n), "this shard's share of --requests"))
            .transpose()?;
        let duration = match (input.duration, requests) {
            (None, None) => Some(
                ramp.as_ref()
                    .and_then(Ramp::length)
                    .unwrap_or(DEFAULT_DURATION),
            ),
            (d, _) => d,
        };
        let method = input
            .method
            .clone()
            .unwrap_or_else(|| default_method(&input));
        http::validate_method(&method).map_err(|e| PlanError::Method(e.to_string()))?;
        let headers = parse_headers(&input.headers)?;
        let (request, tasks) = match &input.scenario {
            Some(s) => (Vec::new(), scenario_tasks(s)),
            None => fixed_request(&target, &method, &headers, input.body.as_deref()),
        };
        let shown_headers = shown_headers(input.scenario.as_deref(), &tasks, &headers);
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
            headers: shown_headers,
            scenario: input.scenario,
            wait,
            spawn_rate: input.spawn_rate,
            ramp,
            quiet: input.quiet,
            notes,
            target,
            shard,
        })
    }

    /// Worker `index`'s share of users and request budget; remainders go to the first
    /// workers so the shares add up to exactly the plan. (The open model's rate is not split
    /// here: workers take turns on one schedule, `Pacer::interleaved`.)
    pub fn share(&self, index: usize) -> Share {
        let w = self.workers as u64;
        let i = index as u64;
        Share {
            users: split(self.load.connections(), w, i),
            requests: self.requests.map(|n| split(n, w, i)),
        }
    }

    /// The run-wide index of worker `worker`'s `j`-th user. Users interleave across
    /// workers (and shards) so a ramp or spawn rate loads every core evenly.
    pub fn global_user(&self, worker: usize, j: u64) -> u64 {
        self.shard.global(j * self.workers as u64 + worker as u64)
    }

    /// What reports say about this plan.
    pub fn info(&self) -> PlanInfo {
        PlanInfo {
            url: self.target.url.clone(),
            method: self.method.clone(),
            scenario: self
                .scenario
                .as_ref()
                .map(|s| s.source.display().to_string()),
            tasks: self.tasks.clone(),
            headers: self.headers.clone(),
            workers: self.workers,
            users_per_worker: self.share(0).users,
            load: self.load.clone(),
            pipeline: self.pipeline,
            duration: self.duration,
            requests: self.requests,
            timeout: self.timeout,
            driver: self.driver,
            spawn_rate: self.spawn_rate,
            stages: self.ramp.is_some(),
            notes: self.notes.clone(),
            shard: (self.shard != Shard::WHOLE).then_some(self.shard),
            version: env!("CARGO_PKG_VERSION").to_owned(),
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

/// The load model and, with stages, its shape over time. Stages give the peak; a flag for
/// the same quantity overrides them.
fn load_model(input: &PlanInput) -> Result<(Load, Option<Ramp>), PlanError> {
    let stages = input.scenario.as_ref().map_or(&[][..], |s| &s.stages[..]);
    let steps = |pick: fn(StageTarget) -> Option<f64>| -> Option<Vec<(Duration, f64)>> {
        let steps: Option<Vec<_>> = stages
            .iter()
            .map(|s| Some((s.duration, pick(s.target)?)))
            .collect();
        steps.filter(|s| !s.is_empty())
    };
    let user_steps = steps(|t| match t {
        StageTarget::Users(u) => Some(u as f64),
        StageTarget::Rate(_) => None,
    });
    let rate_steps = steps(|t| match t {
        StageTarget::Rate(r) => Some(r),
        StageTarget::Users(_) => None,
    });
    let rate_ramp = rate_steps
        .filter(|_| input.rate.is_none())
        .map(|s| Ramp::stages(0.0, &s));
    let user_ramp = user_steps
        .filter(|_| input.users.is_none())
        .map(|s| Ramp::stages(0.0, &s));
    let users = match &user_ramp {
        Some(r) => r.peak().ceil() as u64,
        None => input.users.unwrap_or(DEFAULT_USERS),
    };
    let users = positive(users, "--users")?;
    let rate = input.rate.or_else(|| rate_ramp.as_ref().map(Ramp::peak));
    match rate {
        None => Ok((Load::Closed { users }, user_ramp)),
        Some(rate) if rate.is_finite() && rate > 0.0 => {
            Ok((Load::Open { rate, conns: users }, rate_ramp))
        }
        Some(rate) => Err(PlanError::BadRate(rate)),
    }
}

/// This shard's part of the load. A users ramp stays whole: users are numbered run-wide
/// (`Plan::global_user`), so each shard runs exactly its own users of every level. A rate ramp
/// is scaled down, each shard sending its fraction of every moment's rate.
fn shard_load(
    load: Load,
    ramp: Option<Ramp>,
    shard: Shard,
) -> Result<(Load, Option<Ramp>), PlanError> {
    if shard == Shard::WHOLE {
        return Ok((load, ramp));
    }
    let share = 1.0 / shard.count as f64;
    match load {
        Load::Closed { users } => {
            let users = positive(shard.part(users), "this shard's share of --users")?;
            Ok((Load::Closed { users }, ramp))
        }
        Load::Open { rate, conns } => {
            let conns = positive(shard.part(conns), "this shard's share of --users")?;
            let rate = rate * share;
            let ramp = ramp.map(|r| r.scaled(share));
            Ok((Load::Open { rate, conns }, ramp))
        }
    }
}

/// Flags win; the scenario file fills what they leave unset.
fn with_scenario_defaults(mut input: PlanInput) -> PlanInput {
    let Some(s) = input.scenario.clone() else {
        return input;
    };
    input.url = input.url.or_else(|| s.host.clone());
    // A file's own stages shape the load; its `users`/`rate` apply only without them.
    let shaped = |f: fn(&StageTarget) -> bool| s.stages.iter().any(|st| f(&st.target));
    if !shaped(|t| matches!(t, StageTarget::Users(_))) {
        input.users = input.users.or(s.users);
    }
    if !shaped(|t| matches!(t, StageTarget::Rate(_))) {
        input.rate = input.rate.or(s.rate);
    }
    input.duration = input.duration.or(s.duration);
    input.requests = input.requests.or(s.requests);
    input.spawn_rate = input.spawn_rate.or(s.spawn_rate);
    input
}

fn scenario_tasks(s: &Scenario) -> Vec<TaskInfo> {
    s.tasks
        .iter()
        .map(|t| TaskInfo {
            method: t.method.clone(),
            name: t.name.clone(),
        })
        .collect()
}

/// The headers reports show: each scenario task's as written (secrets redacted), or a plain
/// run's `-H` headers with credential values redacted.
fn shown_headers(
    s: Option<&Scenario>,
    tasks: &[TaskInfo],
    headers: &[(String, String)],
) -> Vec<HeaderInfo> {
    let info = |task: &str, name: &str, value: &str| HeaderInfo {
        task: task.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
    };
    match s {
        Some(s) => s
            .tasks
            .iter()
            .flat_map(|t| t.headers.iter().map(|(n, v)| info(&t.name, n, v)))
            .collect(),
        None => {
            let task = tasks.first().map_or("", |t| t.name.as_str());
            headers
                .iter()
                .map(|(n, v)| match scenario::is_secret_header(n) {
                    true => info(task, n, scenario::REDACTED),
                    false => info(task, n, v),
                })
                .collect()
        }
    }
}

/// The single request of a plain run, encoded once, and its report row.
fn fixed_request(
    target: &Target,
    method: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> (Vec<u8>, Vec<TaskInfo>) {
    let mut request = Vec::new();
    http::encode_request(
        &http::RequestSpec {
            method,
            target: &target.path,
            host: &target.host,
            headers,
            body: body.unwrap_or_default(),
        },
        &mut request,
    );
    let task = TaskInfo {
        method: method.to_owned(),
        name: target.path.clone(),
    };
    (request, vec![task])
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
        let mut all: Vec<u64> = (0..a.users)
            .map(|j| plan.global_user(0, j))
            .chain((0..b.users).map(|j| plan.global_user(1, j)))
            .collect();
        all.sort();
        assert_eq!(
            all,
            (0..7).collect::<Vec<_>>(),
            "every user index exactly once"
        );
        assert_eq!((a.requests, b.requests), (Some(51), Some(50)));
    }

    #[test]
    fn shards_together_run_exactly_the_unsharded_plan() {
        for (users, rate, requests, count) in
            [(10_000u64, None, 7u64, 3u64), (7, Some(1000.0), 100, 4)]
        {
            let build = |shard: Option<Shard>| {
                let mut i = input("http://127.0.0.1:1/");
                i.users = Some(users);
                i.rate = rate;
                i.requests = Some(requests.max(count));
                i.shard = shard;
                Plan::build(i, &[0, 1]).unwrap()
            };
            let whole = build(None);
            let shards: Vec<Plan> = (0..count)
                .map(|index| build(Some(Shard { index, count })))
                .collect();
            let users_sum: u64 = shards.iter().map(|p| p.load.connections()).sum();
            assert_eq!(users_sum, whole.load.connections());
            let req_sum: u64 = shards.iter().filter_map(|p| p.requests).sum();
            assert_eq!(Some(req_sum), whole.requests);
            if let Load::Open { rate, .. } = whole.load {
                let sum: f64 = shards
                    .iter()
                    .map(|p| match p.load {
                        Load::Open { rate, .. } => rate,
                        Load::Closed { .. } => 0.0,
                    })
                    .sum();
                assert!((sum - rate).abs() < 1e-9, "{sum} vs {rate}");
            }
            let mut all: Vec<u64> = shards
                .iter()
                .flat_map(|p| {
                    (0..p.workers)
                        .flat_map(move |w| (0..p.share(w).users).map(move |j| p.global_user(w, j)))
                })
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..users).collect::<Vec<_>>(), "each user index once");
        }
    }

    #[test]
    fn a_shard_with_nothing_to_do_is_refused() {
        let mut i = input("http://127.0.0.1:1/");
        i.users = Some(2);
        i.shard = Some(Shard { index: 2, count: 3 });
        let e = Plan::build(i, &[0]).unwrap_err().to_string();
        assert!(e.contains("shard"), "{e}");
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
    fn rate_makes_an_open_model_and_users_cap_its_connections() {
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
