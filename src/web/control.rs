//! How the dashboard starts and steers a run without knowing the engine: the command layer
//! hands it a [`Launcher`] (runs a plan through the coordinator with the dashboard's sink),
//! and a running engine may offer a [`LoadControl`] for edits while it runs.
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::engine::steer::Steering;
use crate::plan::Plan;
use crate::results::{Results, Second};
use crate::stats::Merged;

/// What the coordinator calls with each closed second and the run's totals so far: the
/// same type as `coordinator::SecondSink`, spelled out so this module needs only plain data.
pub type Sink = Box<dyn FnMut(&Second, &Merged) + Send>;

/// A change to a running test, as the page asks for it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// Closed model: move to `users`, starting or stopping `spawn_rate` users a second
    /// (all at once without one).
    Users { users: u64, spawn_rate: Option<f64> },
    /// Open model: move to `rate` requests a second in total.
    Rate { rate: f64 },
}

impl Edit {
    /// What the change log and the chart marker say.
    pub fn describe(&self) -> String {
        match self {
            Edit::Users {
                users,
                spawn_rate: Some(r),
            } => format!("users → {users} at {r}/s"),
            Edit::Users { users, .. } => format!("users → {users}"),
            Edit::Rate { rate } => format!("rate → {rate} req/s"),
        }
    }
}

/// What the engine offers to change a running test: a new level on the run's ramp, which
/// workers read once per tick (within a second), not a restart.
pub trait LoadControl: Send + Sync {
    /// Applies `edit` from now on, or says why it cannot (wrong model, beyond the plan's
    /// connection cap, …) in one line for the page.
    fn apply(&self, edit: &Edit) -> Result<(), String>;
}

/// The engine's steering is the control: users for a closed run, a rate for an open one.
impl LoadControl for Steering {
    fn apply(&self, edit: &Edit) -> Result<(), String> {
        match *edit {
            Edit::Users { users, spawn_rate } => self.set_users(users, spawn_rate),
            Edit::Rate { rate } => self.set_rate(rate),
        }
    }
}

/// Where a run's `LoadControl` is put once the engine has one; empty means edits are refused.
#[derive(Clone, Default)]
pub struct ControlSlot(Arc<Mutex<Option<Arc<dyn LoadControl>>>>);

impl ControlSlot {
    pub fn set(&self, control: Arc<dyn LoadControl>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(control);
    }

    pub fn get(&self) -> Option<Arc<dyn LoadControl>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One run the dashboard started: its stop flag, the sink for its seconds, and the slot for
/// its control.
pub struct Launch {
    pub stop: Arc<AtomicBool>,
    pub sink: Sink,
    pub control: ControlSlot,
}

/// Runs a plan to completion on the calling thread (the dashboard calls it on a thread of
/// its own). The command layer implements it with the coordinator.
pub trait Launcher: Send + Sync {
    fn launch(&self, plan: Arc<Plan>, launch: Launch) -> Results;
}

impl<F> Launcher for F
where
    F: Fn(Arc<Plan>, Launch) -> Results + Send + Sync,
{
    fn launch(&self, plan: Arc<Plan>, launch: Launch) -> Results {
        self(plan, launch)
    }
}
