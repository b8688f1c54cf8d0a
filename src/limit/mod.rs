//! `blast limit`'s search: the highest request rate a target sustains under an SLO. It
//! composes open-model `Plan`s at the rates a pure search picks ([`search`]), runs each
//! through the shared step runner ([`crate::runner`]) in [`drive`], and judges every step
//! ([`step`]) against the objectives ([`slo`]). Reports render the [`Outcome`]
//! (`report::limit`); the command's flags live in `cmd::limit`.
//!
//! The public API, also what `blast compare` uses: [`Settings`], [`search()`](drive::search),
//! [`run_step`], [`Outcome`].
pub mod drive;
pub mod search;
pub mod slo;
pub mod step;

use std::time::Duration;

pub use drive::{run_step, Ended, Outcome, Probe, Settings, KNEE_FACTOR};

/// Connections (the open model's cap) when `--users` is not given: enough for a slow
/// server's queue at a few thousand req/s, few enough for any file descriptor limit.
pub const DEFAULT_CONNECTIONS: u64 = 256;
pub const DEFAULT_STEP: Duration = Duration::from_secs(10);
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
/// Bisection stops when the bracket is this narrow, relative to the good rate.
pub const DEFAULT_PRECISION: f64 = 0.05;
/// Steps at most: a search always ends.
pub const DEFAULT_MAX_STEPS: usize = 20;
