//! Steering a running test (the dashboard's "edit"): a new users count or open-model rate,
//! applied as a new level on the run's existing ramp — not a restart. The dashboard's thread
//! writes it here; each worker looks at one atomic version number once per tick and, when
//! it moved, takes the new ramp (users beyond those it started are spawned then). Nothing
//! on the hot path locks. Every change is kept, with when it happened, for the report.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::load::{Load, Ramp};
use crate::plan::{Plan, MAX_RATE, MAX_USERS};

/// The run's level (users or requests/s) as edited so far.
pub struct Steering {
    version: AtomicU64,
    state: Mutex<State>,
}

struct State {
    open: bool,
    /// When the run started; edits before it are refused.
    start: Option<Instant>,
    /// The level over run time, every edit applied.
    ramp: Ramp,
    /// (seconds into the run, what changed).
    changes: Vec<(f64, String)>,
}

impl Steering {
    /// Steering for `plan`, starting from its own level and ramp.
    pub fn new(plan: &Plan) -> Self {
        Steering {
            version: AtomicU64::new(0),
            state: Mutex::new(State {
                open: matches!(plan.load, Load::Open { .. }),
                start: None,
                ramp: plan.level_ramp(),
                changes: Vec::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's clock starts at `start` (called by the coordinator).
    pub fn started(&self, start: Instant) {
        self.state().start = Some(start);
    }

    /// Closed model: move to `users`, `spawn_rate` users a second (at once without one).
    pub fn set_users(&self, users: u64, spawn_rate: Option<f64>) -> Result<(), String> {
        if users > MAX_USERS {
            return Err(format!("at most {MAX_USERS} users"));
        }
        if let Some(r) = spawn_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(format!("spawn rate must be a positive number, got {r}"));
        }
        let what = match spawn_rate {
            Some(r) => format!("users -> {users} at {r}/s"),
            None => format!("users -> {users}"),
        };
        self.edit(false, what, |from| {
            let over = spawn_rate.map_or(0.0, |r| (users as f64 - from).abs() / r);
            (users as f64, over)
        })
    }

    /// Open model: move to `rate` requests a second in total, from now.
    pub fn set_rate(&self, rate: f64) -> Result<(), String> {
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            return Err(format!(
                "rate must be a positive number up to {MAX_RATE}, got {rate}"
            ));
        }
        self.edit(true, format!("rate -> {rate} req/s"), |_| (rate, 0.0))
    }

    /// Applies a new level (and how long moving to it takes, from the level now).
    fn edit(
        &self,
        open: bool,
        what: String,
        target: impl FnOnce(f64) -> (f64, f64),
    ) -> Result<(), String> {
        let mut s = self.state();
        if s.open != open {
            return Err(if s.open {
                "this is an open-model run: change its rate, not its users".into()
            } else {
                "this is a closed-model run: change its users, not a rate".into()
            });
        }
        let Some(start) = s.start else {
            return Err("the run has not started yet".into());
        };
        let at = start.elapsed().as_secs_f64();
        let (level, over) = target(s.ramp.at(at));
        s.ramp = s.ramp.edited(at, level, over);
        s.changes.push((at, what));
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Moves on every edit; workers compare it once per tick.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The level over run time, every edit applied.
    pub fn ramp(&self) -> Ramp {
        self.state().ramp.clone()
    }

    /// Every change so far: (seconds into the run, what changed).
    pub fn changes(&self) -> Vec<(f64, String)> {
        self.state().changes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanInput;

    fn plan(rate: Option<f64>) -> Plan {
        let input = PlanInput {
            url: Some("http://127.0.0.1:9/".into()),
            users: Some(10),
            rate,
            ..PlanInput::default()
        };
        Plan::build(input, &[0]).unwrap()
    }

    #[test]
    fn edits_move_the_level_from_now_and_are_logged() {
        let s = Steering::new(&plan(None));
        assert!(s.set_users(20, None).unwrap_err().contains("not started"));
        s.started(Instant::now());
        let v = s.version();
        s.set_users(30, Some(10.0)).unwrap();
        assert_eq!(s.version(), v + 1);
        let r = s.ramp();
        assert!((r.at(1e6) - 30.0).abs() < 1e-9);
        let t = s.changes()[0].0;
        assert!((r.at(t + 1.0) - 20.0).abs() < 0.1, "10 -> 30 at 10 users/s");
        assert!(s.set_rate(5.0).unwrap_err().contains("closed-model"));
        assert!(s.set_users(MAX_USERS + 1, None).is_err());
        assert_eq!(s.changes().len(), 1);
    }

    #[test]
    fn an_open_run_takes_a_new_rate_at_once() {
        let s = Steering::new(&plan(Some(100.0)));
        s.started(Instant::now());
        s.set_rate(250.0).unwrap();
        assert_eq!(s.ramp().at(1e6), 250.0);
        assert!(s.set_users(5, None).unwrap_err().contains("open-model"));
        assert!(s.set_rate(f64::NAN).is_err());
        assert_eq!(s.changes()[0].1, "rate -> 250 req/s");
    }
}
