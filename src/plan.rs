//! The `Plan`: every flag and scenario setting, validated and resolved into one immutable
//! value before any thread starts. Workers only execute it; reports describe it.
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http;
use crate::load::{Load, Pacer, Ramp};
use crate::os::DriverChoice;
use crate::results::{HeaderInfo, PlanInfo, TaskInfo};
use crate::scenario::{self, Scenario, StageTarget, Wait};
use crate::shard::Shard;
use crate::target::{ConnectTo, Target, TargetError};
use crate::tls::{TlsClient, TlsError, TlsOptions};

/// Run length when neither a duration nor a request count is given (as wrk).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
pub const DEFAULT_USERS: u64 = 50;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// What every report and the live view say about `--insecure`.
pub const INSECURE_NOTE: &str =
    "--insecure: server certificates were NOT verified (any certificate was accepted)";
/// Pipelining deeper than this buys nothing and hides bugs.
pub const MAX_PIPELINE: usize = 1024;
/// Most users (connections) one process runs: each holds a socket, and Linux's default
/// ceiling on one process's descriptors (`fs.nr_open`) is 1,048,576. More than this could
/// never be served, so it is refused before any memory is sized for it.
pub const MAX_USERS: u64 = 1_000_000;
/// Highest total rate of the open model: intended send times are `Instant`s, nanoseconds
/// apart at best, so above one request per nanosecond the schedule cannot tell requests
/// apart (and no worker could send them).
pub const MAX_RATE: f64 = 1e9;
/// Longest run length or timeout: a year is already a mistake, and it keeps every
/// `Instant + Duration` of the run far from overflow (`-d 1e19` panicked).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

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
    /// A plain run keeps a cookie jar per user (`--cookies`).
    pub cookies: bool,
    /// Redirects a plain run follows (`--follow`, default 0).
    pub follow: u32,
    /// Users started per second (closed model); None starts them all at once.
    pub spawn_rate: Option<f64>,
    /// Tasks, think time and load shape; flags above override its settings.
    pub scenario: Option<Arc<Scenario>>,
    /// This process's part of a sharded run; None runs the whole plan.
    pub shard: Option<Shard>,
    /// `--cacert`, `--cert/--key`, `--insecure`, `--no-tls-resume` (https:// targets).
    pub tls: TlsOptions,
    /// `--connect-to HOST:PORT:ADDR:PORT` rules, as given.
    pub connect_to: Vec<String>,
    /// `--no-keepalive`: one request per connection, sent with `Connection: close`.
    pub no_keepalive: bool,
    /// Load runs this long before `duration` starts and is not measured: the connections
    /// it opened and the server it warmed carry on into the measured run (blast limit's
    /// and compare's steps).
    pub warmup: Option<Duration>,
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
    /// The whole run's length, warm-up included.
    pub duration: Option<Duration>,
    /// The first part of `duration` whose figures are dropped (zero: all is measured).
    pub warmup: Duration,
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
    /// A plain run keeps a cookie jar per user (a scenario says so itself).
    pub cookies: bool,
    /// Redirects a plain run follows (a scenario's tasks say so themselves).
    pub follow: u32,
    /// Adjustments the user should hear about (fewer cores than asked, and so on).
    pub notes: Vec<String>,
    /// The part of a sharded run this process runs (`Shard::WHOLE` when unsharded): users,
    /// rate and request budget above are already this shard's.
    pub shard: Shard,
    /// Open model at a constant rate: how far this shard's schedule is shifted so the shards
    /// take turns (shard I starts I requests of the whole run's rate later).
    pub phase: Duration,
    /// An https:// target's TLS client configuration, shared read-only by the workers.
    pub tls: Option<Arc<TlsClient>>,
    /// The TLS client for redirects to https:// origins (built from the same flags): the
    /// target's own, or for an http:// target one made when redirects may be followed.
    pub redirect_tls: Option<Arc<TlsClient>>,
    /// False with `--no-keepalive`: each connection carries one request.
    pub keepalive: bool,
}

/// One worker's part of the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub users: u64,
    pub requests: Option<u64>,
    /// Open model: this worker's turns on the run's schedule.
    pub schedule: Option<Schedule>,
}

/// One worker's turns on an open-model schedule: requests `index`, `index + stride`, … of
/// `ramp`, starting `phase` after the run's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub ramp: Ramp,
    pub phase: Duration,
    pub index: u64,
    pub stride: u64,
}

impl Schedule {
    /// The pacer that hands out this worker's intended send times for a run started at `start`.
    pub fn pacer(&self, start: Instant) -> Pacer {
        Pacer::interleaved(start + self.phase, &self.ramp, self.index, self.stride)
    }
}

#[derive(Debug)]
pub enum PlanError {
    MissingUrl,
    Target(TargetError),
    Zero(&'static str),
    BadRate(f64),
    RateTooHigh(f64),
    TooManyUsers(u64),
    ZeroDuration(&'static str),
    TooLong(&'static str),
    PipelineTooDeep(usize),
    Header(String, String),
    Request(http::RequestError),
    Method(String),
    BadSpawnRate(f64),
    PipelinedThinkTime,
    Tls(TlsError),
    PipelinedNoKeepalive,
    /// A user flow (on_start, sequence, captures) or `--follow` waits for each response.
    PipelinedFlow,
    /// A warm-up precedes a measured duration, which a run counted in requests lacks.
    WarmupWithoutDuration,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::MissingUrl => write!(f, "no target URL given"),
            PlanError::Target(e) => write!(f, "{e}"),
            PlanError::Zero(what) => write!(f, "{what} must be at least 1"),
            PlanError::BadRate(r) => write!(f, "rate must be a positive number, got {r}"),
            PlanError::RateTooHigh(r) => write!(
                f,
                "rate {r:e} is above the maximum of {MAX_RATE:e} requests/s \
                 (send times are scheduled to the nanosecond)"
            ),
            PlanError::TooManyUsers(u) => write!(
                f,
                "{u} users is above the maximum of {MAX_USERS} \
                 (one connection each; split larger runs with --shard)"
            ),
            PlanError::ZeroDuration(what) => write!(f, "{what} must be longer than 0"),
            PlanError::TooLong(what) => write!(f, "{what} must be at most a year"),
            PlanError::PipelineTooDeep(k) => {
                write!(
                    f,
                    "pipeline depth {k} exceeds the maximum of {MAX_PIPELINE}"
                )
            }
            PlanError::Header(h, why) => write!(f, "invalid header {h:?}: {why}"),
            PlanError::Request(e) => write!(f, "{e}"),
            PlanError::Method(why) => write!(f, "invalid method: {why}"),
            PlanError::BadSpawnRate(r) => {
                write!(f, "spawn rate must be a positive number, got {r}")
            }
            PlanError::PipelinedThinkTime => write!(
                f,
                "a scenario with think time (`wait`) sends one request at a time: use --pipeline 1"
            ),
            PlanError::Tls(e) => write!(f, "{e}"),
            PlanError::PipelinedNoKeepalive => write!(
                f,
                "--no-keepalive sends one request per connection: use --pipeline 1"
            ),
            PlanError::PipelinedFlow => write!(
                f,
                "on_start, sequence, capture and --follow wait for each response: use --pipeline 1"
            ),
            PlanError::WarmupWithoutDuration => {
                write!(
                    f,
                    "a warm-up needs a run length (--duration), not --requests"
                )
            }
        }
    }
}

impl std::error::Error for PlanError {}

impl From<TlsError> for PlanError {
    fn from(e: TlsError) -> Self {
        PlanError::Tls(e)
    }
}

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
        let connect_to = input
            .connect_to
            .iter()
            .map(|c| ConnectTo::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let target = Target::resolve_via(url, &connect_to)?;
        let mut notes = Vec::new();
        let (tls, redirect_tls) = tls_clients(&target, &input.tls, follows(&input), &mut notes)?;
        let shard = input.shard.unwrap_or(Shard::WHOLE);
        let (load, ramp) = load_model(&input)?;
        let phase = shard_phase(&load, ramp.is_some(), shard);
        let (load, ramp) = shard_load(load, ramp, shard)?;
        let pipeline = positive(input.pipeline.unwrap_or(1), "--pipeline")?;
        if pipeline > MAX_PIPELINE {
            return Err(PlanError::PipelineTooDeep(pipeline));
        }
        let wait = input.scenario.as_ref().map_or(Wait::None, |s| s.wait);
        if pipeline > 1 && wait != Wait::None {
            return Err(PlanError::PipelinedThinkTime);
        }
        if pipeline > 1 && input.no_keepalive {
            return Err(PlanError::PipelinedNoKeepalive);
        }
        let flow = input.scenario.as_ref().is_some_and(|s| s.has_flow());
        if pipeline > 1 && (flow || input.follow > 0) {
            return Err(PlanError::PipelinedFlow);
        }
        if let Some(r) = input.spawn_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(PlanError::BadSpawnRate(r));
        }
        let cores = pick_cores(input.cores, available, load.connections(), &mut notes)?;
        let timeout = non_zero(input.timeout, "--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = non_zero(input.connect_timeout, "--connect-timeout")?
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let requests = input
            .requests
            .map(|n| positive(n, "--requests"))
            .transpose()?
            .map(|n| positive(shard.part(n), "this shard's share of --requests"))
            .transpose()?;
        let duration = match (input.duration, requests) {
            (None, None) => non_zero(
                Some(
                    ramp.as_ref()
                        .and_then(Ramp::length)
                        .unwrap_or(DEFAULT_DURATION),
                ),
                "the stages' total length",
            )?,
            (d, _) => non_zero(d, "--duration")?,
        };
        let (duration, warmup) = with_warmup(duration, input.warmup)?;
        let method = input
            .method
            .clone()
            .unwrap_or_else(|| default_method(&input));
        http::validate_method(&method).map_err(|e| PlanError::Method(e.to_string()))?;
        let mut headers = with_url_credentials(parse_headers(&input.headers)?, &target);
        if input.no_keepalive {
            close_each(&mut headers);
        }
        let (request, tasks) = match &input.scenario {
            Some(s) => (Vec::new(), scenario_tasks(s)),
            None => {
                http::validate_target(&target.path).map_err(PlanError::Request)?;
                fixed_request(&target, &method, &headers, input.body.as_deref())
            }
        };
        let shown_headers = shown_headers(input.scenario.as_deref(), &tasks, &headers);
        Ok(Plan {
            workers: cores.len(),
            cores,
            load,
            pipeline,
            duration,
            warmup,
            requests,
            timeout,
            connect_timeout,
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
            cookies: input.cookies,
            follow: input.follow,
            notes,
            target,
            shard,
            phase,
            tls,
            redirect_tls,
            keepalive: !input.no_keepalive,
        })
    }

    /// Worker `index`'s share of users and request budget; remainders go to the first
    /// workers so the shares add up to exactly the plan. The open model's rate is not split:
    /// workers take turns on one schedule (`Pacer::interleaved`).
    pub fn share(&self, index: usize) -> Share {
        let w = self.workers as u64;
        let i = index as u64;
        Share {
            users: split(self.load.connections(), w, i),
            requests: self.requests.map(|n| split(n, w, i)),
            schedule: self.schedule(i, w),
        }
    }

    /// The run's level over time: users (closed model, the spawn rate included) or total
    /// requests/s (open model). Steering a running test edits a copy of it.
    pub fn level_ramp(&self) -> Ramp {
        if let Some(r) = &self.ramp {
            return r.clone();
        }
        match (self.load.clone(), self.spawn_rate) {
            (Load::Open { rate, .. }, _) => Ramp::constant(rate),
            (Load::Closed { users }, Some(r)) => Ramp::stages(
                0.0,
                &[(Duration::from_secs_f64(users as f64 / r), users as f64)],
            ),
            (Load::Closed { users }, None) => Ramp::constant(users as f64),
        }
    }

    /// Users worker `index` runs when the run-wide level is `level` (users interleave
    /// across workers, as `global_user` numbers them).
    pub fn users_on_worker(&self, index: usize, level: u64) -> u64 {
        split(level, self.workers as u64, index as u64)
    }

    /// Worker `index` of `workers`' turns on this process's open-model schedule.
    fn schedule(&self, index: u64, workers: u64) -> Option<Schedule> {
        let Load::Open { rate, .. } = self.load else {
            return None;
        };
        Some(Schedule {
            ramp: self.ramp.clone().unwrap_or_else(|| Ramp::constant(rate)),
            phase: self.phase,
            index,
            stride: workers,
        })
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
            insecure: self.tls.as_ref().is_some_and(|t| t.insecure),
            keepalive: self.keepalive,
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

/// The run's whole length and its unmeasured start: a warm-up comes before a measured
/// duration, so a run counted in requests cannot have one.
fn with_warmup(
    measured: Option<Duration>,
    warmup: Option<Duration>,
) -> Result<(Option<Duration>, Duration), PlanError> {
    match (warmup.filter(|w| !w.is_zero()), measured) {
        (None, d) => Ok((d, Duration::ZERO)),
        (Some(_), None) => Err(PlanError::WarmupWithoutDuration),
        (Some(w), Some(d)) => {
            let whole = d.checked_add(w).filter(|t| *t <= MAX_DURATION);
            let whole = whole.ok_or(PlanError::TooLong("the warm-up and the run together"))?;
            Ok((Some(whole), w))
        }
    }
}

/// A duration that was given must be above zero (a zero timeout fails every request and a
/// zero run sends nothing) and at most [`MAX_DURATION`].
fn non_zero(d: Option<Duration>, what: &'static str) -> Result<Option<Duration>, PlanError> {
    match d {
        Some(d) if d.is_zero() => Err(PlanError::ZeroDuration(what)),
        Some(d) if d > MAX_DURATION => Err(PlanError::TooLong(what)),
        d => Ok(d),
    }
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
    if users > MAX_USERS {
        return Err(PlanError::TooManyUsers(users));
    }
    let rate = input.rate.or_else(|| rate_ramp.as_ref().map(Ramp::peak));
    match rate {
        None => Ok((Load::Closed { users }, user_ramp)),
        Some(rate) if !(rate.is_finite() && rate > 0.0) => Err(PlanError::BadRate(rate)),
        Some(rate) if rate > MAX_RATE => Err(PlanError::RateTooHigh(rate)),
        Some(rate) => Ok((Load::Open { rate, conns: users }, rate_ramp)),
    }
}

/// How far shard I's constant-rate schedule starts after the run's: I requests of the whole
/// run's rate, so N shards send in turn rather than N at once. Rate stages start together.
fn shard_phase(load: &Load, staged: bool, shard: Shard) -> Duration {
    match *load {
        Load::Open { rate, .. } if !staged && shard.index > 0 => {
            Duration::from_secs_f64(shard.index as f64 / rate)
        }
        _ => Duration::ZERO,
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

/// The TLS client an https:// target needs, and the one redirects to https:// origins use.
/// An http:// target has a client only for redirects, when it may follow any; otherwise
/// its TLS flags are noted as unused, not refused (`compare` may mix http and https
/// targets).
fn tls_clients(
    target: &Target,
    opts: &TlsOptions,
    follows: bool,
    notes: &mut Vec<String>,
) -> Result<(Option<Arc<TlsClient>>, RedirectTls), PlanError> {
    if !target.tls && !follows {
        if opts.any() {
            notes.push("TLS flags unused: the target is http://".to_owned());
        }
        return Ok((None, None));
    }
    // Each redirect names its own server; an http:// target's name may be none TLS allows.
    let name = match target.tls {
        true => target.server_name.as_str(),
        false => "localhost",
    };
    let client = Arc::new(TlsClient::build(opts, name)?);
    if client.insecure {
        notes.push(INSECURE_NOTE.to_owned());
    }
    let own = target.tls.then(|| client.clone());
    Ok((own, Some(client)))
}

/// The TLS client for redirects to https:// origins, if any.
type RedirectTls = Option<Arc<TlsClient>>;

/// Whether any request of the run may follow a redirect.
fn follows(input: &PlanInput) -> bool {
    match &input.scenario {
        Some(s) => (0..s.tasks.len()).any(|t| s.follow(t) > 0),
        None => input.follow > 0,
    }
}

/// `--no-keepalive`: every request says `Connection: close` (the user's own wins).
fn close_each(headers: &mut Vec<(String, String)>) {
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        headers.push(("Connection".to_owned(), "close".to_owned()));
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

/// Credentials in the URL (`http://user:pw@host/`) as an `Authorization` header, unless
/// the user gave one with -H (theirs wins).
fn with_url_credentials(
    mut headers: Vec<(String, String)>,
    target: &Target,
) -> Vec<(String, String)> {
    let given = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    if let (Some(auth), false) = (&target.authorization, given) {
        headers.push(("Authorization".to_owned(), auth.clone()));
    }
    headers
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

    /// Every intended send time of `plans`' workers, sorted, in seconds after `t0`.
    fn schedule(plans: &[Plan], t0: Instant, per_worker: usize) -> Vec<f64> {
        let mut times: Vec<f64> = plans
            .iter()
            .flat_map(|p| (0..p.workers).map(move |w| p.share(w).schedule.unwrap().pacer(t0)))
            .flat_map(|mut pacer| {
                (0..per_worker).map(move |_| pacer.take().unwrap().duration_since(t0).as_secs_f64())
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times
    }

    #[test]
    fn shards_and_workers_take_turns_on_one_schedule() {
        let plan = |shard: Option<Shard>| {
            let mut i = input("http://127.0.0.1:1/");
            i.rate = Some(400.0);
            i.users = Some(40);
            i.shard = shard;
            Plan::build(i, &[0, 1]).unwrap()
        };
        let t0 = Instant::now();
        let whole = schedule(&[plan(None)], t0, 100);
        let shards: Vec<Plan> = (0..2)
            .map(|index| plan(Some(Shard { index, count: 2 })))
            .collect();
        let sharded = schedule(&shards, t0, 50);
        assert_eq!(whole.len(), sharded.len());
        for (k, (a, b)) in whole.iter().zip(&sharded).enumerate() {
            assert!((a - b).abs() < 1e-6, "request {k}: {a} vs {b}");
            assert!((a - k as f64 / 400.0).abs() < 1e-6, "request {k} at {a}");
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
        assert!(bad(|i| i.headers = vec!["X: a\rInjected: 1".into()]).contains("control byte"));
        assert!(bad(|i| i.url = None).contains("URL"));
    }

    /// Issue 13 item 8: `--users 18446744073709551615` panicked (capacity overflow).
    #[test]
    fn huge_users_are_refused_not_a_capacity_overflow() {
        for users in [u64::MAX, i64::MAX as u64, MAX_USERS + 1] {
            let mut i = input("http://127.0.0.1:1/");
            i.users = Some(users);
            let e = Plan::build(i, &[0]).unwrap_err().to_string();
            assert!(e.contains("maximum of 1000000"), "{e}");
        }
        let mut i = input("http://127.0.0.1:1/");
        i.users = Some(MAX_USERS);
        assert!(Plan::build(i, &[0]).is_ok());
    }

    /// Issue 13 item 10: these ran (and sent load) instead of being refused.
    #[test]
    fn zero_durations_and_unschedulable_rates_are_usage_errors() {
        let bad = |f: fn(&mut PlanInput)| {
            let mut i = input("http://127.0.0.1:1/");
            f(&mut i);
            Plan::build(i, &[0]).unwrap_err().to_string()
        };
        assert_eq!(
            bad(|i| i.duration = Some(Duration::ZERO)),
            "--duration must be longer than 0"
        );
        assert_eq!(
            bad(|i| i.timeout = Some(Duration::ZERO)),
            "--timeout must be longer than 0"
        );
        assert!(bad(|i| i.connect_timeout = Some(Duration::ZERO)).contains("--connect-timeout"));
        assert!(bad(|i| i.duration = Some(Duration::from_secs(u64::MAX))).contains("a year"));
        assert!(bad(|i| i.rate = Some(1e300)).contains("rate 1e300 is above the maximum"));
        assert!(bad(|i| i.rate = Some(MAX_RATE * 2.0)).contains("above the maximum"));
        assert!(bad(|i| i.url = Some("http://127.0.0.1:0/".into())).contains("port 0"));
    }

    /// Issue 14 item 8: `http://user:pw@host/` dropped the credentials.
    #[test]
    fn url_credentials_become_an_authorization_header_and_are_not_shown() {
        let plan = Plan::build(input("http://u:pw@127.0.0.1:9/x"), &[0]).unwrap();
        let text = String::from_utf8(plan.request.clone()).unwrap();
        assert!(
            text.contains("\r\nAuthorization: Basic dTpwdw==\r\n"),
            "{text}"
        );
        assert_eq!(plan.info().url, "http://127.0.0.1:9/x");
        let mut i = input("http://u:pw@127.0.0.1:9/x");
        i.headers = vec!["authorization: Bearer t".into()];
        let text = String::from_utf8(Plan::build(i, &[0]).unwrap().request).unwrap();
        assert!(text.contains("authorization: Bearer t\r\n"), "{text}");
        assert!(
            !text.contains("Basic"),
            "the user's own header wins: {text}"
        );
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
