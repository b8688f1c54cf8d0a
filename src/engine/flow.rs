//! One user's state between requests: where it is in `on_start` and `sequence`, the values
//! it captured, its cookie jar, and the redirect it is following. Owned by the user's
//! connection loop (`conn`), which calls it where a request is picked and written, where a
//! response head arrives and where a response completes; everything it reads from the wire
//! goes through `http::{fields, cookie, redirect}` and `scenario` captures, pure functions.
//!
//! Costs: a user with no flow, no cookie and no redirect pays a few branches per request.
//! Once warm nothing here allocates per request, except a `json:` capture, which parses
//! the body with serde_json (once per user for an `on_start` login).
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::hop::Away;
use crate::http::cookie::Jar;
use crate::http::fields;
use crate::http::redirect::{self, Origin, Place};
use crate::plan::Plan;
use crate::results::kind;
use crate::scenario::{Failure, TaskPicker, UserValues};

/// After a failed `on_start` (or a capture that failed) a user with no think time waits
/// this long before it logs in again: a server refusing logins sees a trickle, not a storm.
pub const ON_START_RETRY: Duration = Duration::from_secs(1);

/// What follows a completed response.
pub enum Redirect {
    /// Not a redirect to follow: account for the response.
    No,
    /// The next hop was written to the write buffer: a HEAD or not, whether its method
    /// became GET, and whether it goes to another origin than the redirect came from
    /// (then [`Flow::away`] says where, None for the target's).
    Hop {
        head: bool,
        to_get: bool,
        moved: bool,
    },
    /// A redirect that cannot be followed, counted as this error kind.
    Fail(&'static str),
}

/// A final response, as [`Flow::finish`] checks it.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    pub task: usize,
    /// The request was mutated to be invalid.
    pub invalid: bool,
    pub status: u16,
    pub latency: Duration,
}

/// Why a response failed its task, beyond its status.
pub enum Miss {
    Expect(Failure),
    Capture(crate::scenario::CaptureMiss),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Expect(e) => e.fmt(f),
            Miss::Capture(c) => c.fmt(f),
        }
    }
}

/// One user's flow state.
#[derive(Debug, Default)]
pub struct Flow {
    /// Captured values, by user var.
    values: Vec<Vec<u8>>,
    jar: Option<Jar>,
    /// All `on_start` tasks succeeded.
    started: bool,
    /// The next `on_start` task to run.
    start_pos: usize,
    /// The next task of a `sequence`.
    seq_pos: usize,
    /// The last request written, kept for a task that follows redirects.
    request: Vec<u8>,
    /// Its target, for a cookie's default path and a relative `Location`.
    target: Vec<u8>,
    /// The `Location` of the response being read, when it may be followed.
    location: Vec<u8>,
    /// The head of the response being read, when its task captures a header.
    head: Vec<u8>,
    /// Scratch: a resolved redirect target, a cookie line.
    next_target: Vec<u8>,
    cookie_line: Vec<u8>,
    /// Redirects followed so far for the current task.
    hops: u32,
    /// The origin the chain's last hop went to, when not the target's.
    away: Option<Away>,
    /// The next wait is at least [`ON_START_RETRY`] (a login failed).
    hold: bool,
}

impl Flow {
    pub fn new(plan: &Plan) -> Self {
        let (vars, cookies) = match &plan.scenario {
            Some(s) => (s.user_vars.len(), s.cookies),
            None => (0, plan.cookies),
        };
        let started = plan.scenario.as_ref().is_none_or(|s| s.on_start.is_empty());
        Flow {
            values: vec![Vec::new(); vars],
            jar: cookies.then(Jar::default),
            started,
            ..Flow::default()
        }
    }

    /// The task this user runs next: its pending `on_start` step, else the next of its
    /// `sequence`, else one picked by weight.
    pub fn next_task(
        &mut self,
        plan: &Plan,
        picker: &TaskPicker,
        rng: &mut impl rand::Rng,
    ) -> usize {
        let Some(s) = &plan.scenario else { return 0 };
        if !self.started {
            if let Some(&t) = s.on_start.get(self.start_pos) {
                return t;
            }
        }
        if s.sequence {
            let t = self.seq_pos % s.main_tasks().max(1);
            self.seq_pos = t + 1;
            return t;
        }
        picker.pick(rng)
    }

    /// Whether this user's requests may carry cookies now.
    pub fn has_cookies(&self) -> bool {
        self.jar.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// The request of `task` just written (`bytes`): keeps what a redirect or a cookie
    /// needs of it.
    pub fn sent(&mut self, plan: &Plan, task: usize, bytes: &[u8]) {
        let follows = follow_limit(plan, task) > 0;
        if self.jar.is_none() && !follows {
            return;
        }
        if follows {
            self.end_chain();
            self.request.clear();
            self.request.extend_from_slice(bytes);
        }
        self.target.clear();
        self.target.extend_from_slice(request_target(bytes));
    }

    /// A response head for `task` arrived; `buf` starts with it. Reads its cookies, its
    /// `Location` and the header a capture wants, only when the head has them.
    pub fn on_head(&mut self, plan: &Plan, task: usize, head: &crate::http::Head, buf: &[u8]) {
        // A user's jar holds its target's cookies only.
        let cookies = head.sets_cookie && self.jar.is_some() && self.away.is_none();
        let location =
            head.has_location && redirect::is_redirect(head.status) && follow_limit(plan, task) > 0;
        self.location.clear();
        if cookies || location {
            let now = unix_now();
            let (jar, loc, target) = (&mut self.jar, &mut self.location, &self.target);
            fields::for_each(buf, |name, value| {
                if cookies && name.eq_ignore_ascii_case(b"set-cookie") {
                    if let Some(jar) = jar.as_mut() {
                        jar.store(value, target, now);
                    }
                } else if location && loc.is_empty() && name.eq_ignore_ascii_case(b"location") {
                    loc.extend_from_slice(value);
                }
            });
        }
        let captures = plan
            .scenario
            .as_ref()
            .is_some_and(|s| s.tasks[task].captures_headers());
        if captures {
            self.head.clear();
            self.head
                .extend_from_slice(fields::final_head(buf).unwrap_or_default());
        }
    }

    /// A response with `status` completed a request of `task`: writes the next hop into
    /// `out` when it is a redirect to follow.
    pub fn redirect(
        &mut self,
        plan: &Plan,
        task: usize,
        status: u16,
        out: &mut Vec<u8>,
    ) -> Redirect {
        if self.location.is_empty() || !redirect::is_redirect(status) {
            self.end_chain();
            return Redirect::No;
        }
        if self.hops >= follow_limit(plan, task) {
            self.end_chain();
            return Redirect::Fail(kind::TOO_MANY_REDIRECTS);
        }
        let home = Origin {
            tls: plan.target.tls,
            authority: plan.target.host.as_bytes(),
        };
        let here = self.away.as_ref().map_or(home, Away::origin);
        let resolved = redirect::resolve(&self.location, here, &self.target, &mut self.next_target);
        let moved = match resolved {
            Err(e) => {
                self.end_chain();
                return Redirect::Fail(e.name());
            }
            Ok(Place::Here) => false,
            Ok(Place::Elsewhere(there)) => {
                self.away = (!redirect::same_origin(there, home)).then(|| Away::new(there));
                true
            }
        };
        self.cookie_line.clear();
        if let Some(jar) = self
            .jar
            .as_ref()
            .filter(|j| !j.is_empty() && self.away.is_none())
        {
            jar.write_header(&self.next_target, unix_now(), false, &mut self.cookie_line);
        }
        let host = self
            .away
            .as_ref()
            .map_or(home.authority, |a| &a.authority[..]);
        let start = out.len();
        let Some(done) = redirect::rewrite(
            &self.request,
            status,
            &self.next_target,
            moved.then_some(host),
            &self.cookie_line,
            out,
        ) else {
            self.end_chain();
            return Redirect::Fail(redirect::RedirectError::BadLocation.name());
        };
        self.hops += 1;
        self.request.clear();
        self.request.extend_from_slice(&out[start..]);
        std::mem::swap(&mut self.target, &mut self.next_target);
        Redirect::Hop {
            head: done.head,
            to_get: done.to_get,
            moved,
        }
    }

    /// The origin the pending hop goes to, when not the target's.
    pub fn away(&self) -> Option<&Away> {
        self.away.as_ref()
    }

    /// The task's redirect chain is over (its last response, or an error).
    pub fn end_chain(&mut self) {
        self.hops = 0;
        self.away = None;
    }

    /// A final response with `status` completed `pick`: checks the task's expectations,
    /// then takes its captures; moves `on_start` on, or back to its start when it failed.
    pub fn finish(&mut self, plan: &Plan, done: Done, body: &[u8]) -> Result<(), Miss> {
        let Some(s) = &plan.scenario else {
            return Ok(());
        };
        let task = &s.tasks[done.task];
        let mut result = task
            .check(done.invalid, done.status, done.latency, body)
            .map_err(Miss::Expect);
        if result.is_ok() {
            for c in &task.captures {
                let head = (!self.head.is_empty()).then_some(&self.head[..]);
                if let Err(miss) = c.take(&s.user_vars, head, body, &mut self.values[c.var]) {
                    result = Err(Miss::Capture(miss));
                    break;
                }
            }
        }
        self.head.clear();
        let in_start = !self.started && s.on_start.get(self.start_pos) == Some(&done.task);
        match (&result, in_start) {
            (Ok(()), true) => {
                self.start_pos += 1;
                self.started = self.start_pos == s.on_start.len();
            }
            (Err(_), true) | (Err(Miss::Capture(_)), false) if !s.on_start.is_empty() => {
                self.started = false;
                self.start_pos = 0;
                self.seq_pos = 0;
                self.hold = true;
            }
            _ => {}
        }
        result
    }

    /// The user's next send time after a response, given its think time `next`: a user
    /// whose login failed waits at least [`ON_START_RETRY`] when it has no think time.
    pub fn hold_back(&mut self, next: Option<Instant>, now: Instant) -> Option<Instant> {
        if !std::mem::take(&mut self.hold) {
            return next;
        }
        Some(next.unwrap_or(now + ON_START_RETRY))
    }
}

impl UserValues for Flow {
    fn value(&self, var: usize) -> &[u8] {
        self.values.get(var).map_or(&[][..], |v| &v[..])
    }

    fn extra_headers(&self, target: &[u8], out: &mut Vec<u8>) {
        if let Some(jar) = self.jar.as_ref().filter(|j| !j.is_empty()) {
            jar.write_header(target, unix_now(), false, out);
        }
    }
}

/// Redirects `task` follows in this run: none with pipelining (a hop would have to wait
/// for the requests queued behind the redirect), the scenario's or task's setting, or
/// `--follow` for a plain run.
pub fn follow_limit(plan: &Plan, task: usize) -> u32 {
    if plan.pipeline > 1 {
        return 0;
    }
    match &plan.scenario {
        Some(s) => s.follow(task),
        None => plan.follow,
    }
}

/// The target of a request's request line (between the first two spaces).
fn request_target(request: &[u8]) -> &[u8] {
    let line = &request[..request
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(request.len())];
    let mut parts = line.splitn(3, |&b| b == b' ');
    parts.nth(1).unwrap_or(b"/")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
