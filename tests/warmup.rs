//! A warm-up is run time on the measured run's own connections, not a run of its own: blast
//! limit's steps used to warm up on one set of connections, close them and open another for
//! the measured second, so every step measured a burst of connection attempts (a server
//! with a short accept queue dropped some, and TCP retried them a second later, inside the
//! step).
mod support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use blast::coordinator;
use blast::plan::{Plan, PlanInput};
use support::{fast_target, shared, url};

const RATE: f64 = 200.0;

#[test]
fn a_warmed_run_measures_no_connection_opening_and_nothing_of_the_warmup() {
    let _g = shared();
    let input = PlanInput {
        url: Some(url(fast_target(), "/health")),
        users: Some(8),
        rate: Some(RATE),
        cores: Some(2),
        warmup: Some(Duration::from_millis(700)),
        duration: Some(Duration::from_secs(1)),
        quiet: true,
        ..PlanInput::default()
    };
    let plan = Arc::new(Plan::build(input, &[0, 1]).unwrap());
    assert_eq!(plan.duration, Some(Duration::from_millis(1700)));
    let r = coordinator::run(plan, Arc::new(AtomicBool::new(false)));
    let all = r.totals.aggregate();
    assert_eq!(
        r.totals.connects, 0,
        "connections opened in the measured part"
    );
    let secs = r.elapsed.as_secs_f64();
    assert!((0.95..1.1).contains(&secs), "measured {secs}s");
    let rps = all.responses as f64 / secs;
    assert!(
        (0.9 * RATE..1.1 * RATE).contains(&rps),
        "{} responses in {secs}s",
        all.responses
    );
    assert_eq!(r.totals.errors_total(), 0);
}

#[test]
fn a_warmup_needs_a_run_length() {
    let input = PlanInput {
        url: Some("http://127.0.0.1:9/".into()),
        requests: Some(10),
        warmup: Some(Duration::from_secs(1)),
        ..PlanInput::default()
    };
    let e = Plan::build(input, &[0]).unwrap_err().to_string();
    assert!(e.contains("warm-up needs a run length"), "{e}");
}
