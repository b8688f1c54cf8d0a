//! Editing a running test (the dashboard's "edit"): a new users count or rate is applied by
//! the workers within a second as a new level on the run's ramp, users beyond those started
//! are spawned, and every change is logged in the results.
mod support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use blast::coordinator::{self, Hooks};
use blast::engine::steer::Steering;
use blast::plan::{Plan, PlanInput};
use blast::results::Results;
use support::{fast_target, shared, url};

fn run_steered(input: PlanInput, edit: impl FnOnce(&Steering) + Send + 'static) -> Results {
    let plan = Arc::new(Plan::build(input, &[0, 1]).unwrap());
    let steering = Arc::new(Steering::new(&plan));
    let s = steering.clone();
    let editor = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        edit(&s);
    });
    let hooks = Hooks {
        sink: None,
        steering: Some(steering),
    };
    let r = coordinator::run_with(plan, Arc::new(AtomicBool::new(false)), hooks);
    editor.join().unwrap();
    r
}

fn input(users: u64, rate: Option<f64>) -> PlanInput {
    PlanInput {
        url: Some(url(fast_target(), "/health")),
        users: Some(users),
        rate,
        cores: Some(2),
        duration: Some(Duration::from_secs(4)),
        quiet: true,
        ..PlanInput::default()
    }
}

#[test]
fn more_users_than_were_started_are_spawned_within_a_second() {
    let _g = shared();
    let r = run_steered(input(2, None), |s| s.set_users(6, None).unwrap());
    let users: Vec<u64> = r.timeline.iter().map(|s| s.users).collect();
    assert_eq!(users.first(), Some(&2), "{users:?}");
    assert!(users.iter().rev().take(2).all(|&u| u == 6), "{users:?}");
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].what, "users -> 6");
    assert!(
        (1.4..2.5).contains(&r.changes[0].elapsed_s),
        "{:?}",
        r.changes
    );
}

#[test]
fn fewer_users_park_the_rest() {
    let _g = shared();
    let r = run_steered(input(6, None), |s| s.set_users(1, None).unwrap());
    let users: Vec<u64> = r.timeline.iter().map(|s| s.users).collect();
    assert_eq!(users.last(), Some(&1), "{users:?}");
}

#[test]
fn a_new_rate_is_sent_from_the_next_second() {
    let _g = shared();
    let r = run_steered(input(20, Some(200.0)), |s| s.set_rate(1000.0).unwrap());
    let rps: Vec<f64> = r.timeline.iter().map(|s| s.rps()).collect();
    assert!((150.0..250.0).contains(&rps[0]), "{rps:?}");
    let last_full = rps[rps.len().saturating_sub(2)];
    assert!((800.0..1200.0).contains(&last_full), "{rps:?}");
    assert_eq!(r.changes[0].what, "rate -> 1000 req/s");
}
