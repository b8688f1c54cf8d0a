//! Scenario files: Locust-style user behaviour described in TOML.
//!
//! This layer is pure: it parses and validates a scenario (every error points at
//! `path:line:col`), compiles each task's request into a flat template, renders
//! requests into caller buffers, and checks responses. It opens no sockets and knows
//! no runtime; the engine decides when a user runs which task.
//!
//! ```toml
//! host = "http://localhost:8080"
//! users = 100
//! wait = {between = [1, 5]}
//!
//! [on_start]                  # once per user, before its tasks
//! path = "/login"
//! capture = {token = "json:/access_token"}
//!
//! [[task]]
//! name = "predict"
//! headers = {Authorization = "Bearer {user.token}"}
//! path = "/predict"
//! body = {age = {int = [29, 77]}, oldpeak = {float = [0.0, 6.2]}}
//! invalid = {share = 0.2, drop_field = 1}
//! expect = {json_has = "diagnosis"}
//! ```

mod config;
mod data;
mod env;
mod escape;
mod expect;
mod files;
mod flow;
mod multipart;
mod picker;
mod read;
mod render;
mod task;
mod template;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use data::DataSet;
pub use env::{parse_dotenv, Env, EnvFileError};
pub use expect::{Expect, Failure, Miss, StatusRule};
pub use flow::{
    Capture, CaptureMiss, NoUser, Source as CaptureSource, UserValues, DEFAULT_FOLLOW,
    MAX_CAPTURE_BYTES, MAX_FOLLOW,
};
pub use picker::TaskPicker;
pub use render::{Rendered, Renderer};
pub use task::{is_secret_header, Invalid, Mutation, Task, REDACTED};

/// A loaded, validated scenario. Immutable: workers share it and build their own
/// [`Renderer`] from it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub source: PathBuf,
    pub host: Option<String>,
    pub users: Option<u64>,
    /// Users started per second; `None` starts them all at once.
    pub spawn_rate: Option<f64>,
    pub duration: Option<Duration>,
    /// Requests per second for an open-model run.
    pub rate: Option<f64>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Think time per user between tasks.
    pub wait: Wait,
    /// Load shape; empty when the file has none.
    pub stages: Vec<Stage>,
    /// At least one, with weights summing above 0.
    pub tasks: Vec<Task>,
    pub seed: Option<u64>,
    /// Rows for `column` leaves, read once and shared by every worker.
    pub data: Option<Arc<DataSet>>,
    /// Indices (into `tasks`, after the `[[task]]`s) of the tasks each user runs once, in
    /// order, before any other (`[on_start]`); they have weight 0.
    pub on_start: Vec<usize>,
    /// Users run the `[[task]]`s in file order, round and round, weights aside.
    pub sequence: bool,
    /// Each user keeps a cookie jar (`cookies = false` turns it off).
    pub cookies: bool,
    /// Redirects a task follows unless it sets its own `follow_redirects`.
    pub follow_redirects: u32,
    /// Names the tasks' `capture` tables define, for `{user.NAME}`; a `Capture::var`
    /// indexes this.
    pub user_vars: Vec<String>,
}

impl Scenario {
    /// The `[[task]]`s a user picks from (or runs in order): not the `on_start` ones.
    pub fn main_tasks(&self) -> usize {
        self.tasks.len() - self.on_start.len()
    }

    /// Whether users of this scenario keep state between requests beyond cookies and
    /// redirects: `on_start`, `sequence` or captured values.
    pub fn has_flow(&self) -> bool {
        !self.on_start.is_empty() || self.sequence || !self.user_vars.is_empty()
    }

    /// Redirects task `task` follows.
    pub fn follow(&self, task: usize) -> u32 {
        self.tasks
            .get(task)
            .and_then(|t| t.follow_redirects)
            .unwrap_or(self.follow_redirects)
    }
}

/// Think time between one user's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    None,
    Constant(Duration),
    /// Uniformly random in `[min, max]`.
    Between(Duration, Duration),
    /// A task starts every this often (the wait is what is left of the period).
    Pacing(Duration),
}

/// One step of a load shape: reach `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub target: StageTarget,
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StageTarget {
    Users(u64),
    Rate(f64),
}

/// A scenario that could not be loaded. `line` and `col` are 1-based (characters);
/// both are 0 when the error is about the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.col,
                self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates the scenario at `path`, and its data file if it names one;
/// `{env.NAME}` placeholders read the process environment.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with_env(path, &Env::from_process())
}

/// [`load`] with the variables of a dotenv file (`--env-file`) added to the process
/// environment's; an unreadable or malformed env file is the error, at its line.
pub fn load_with_env_file(path: &Path, env_file: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let env = Env::from_process();
    let env = match env_file {
        None => env,
        Some(file) => env.with_file(file).map_err(|e| ScenarioError {
            path: file.to_path_buf(),
            line: e.line,
            col: usize::from(e.line > 0),
            message: e.message,
        })?,
    };
    load_with_env(path, &env)
}

/// [`load`] with placeholders resolved from `env`.
pub fn load_with_env(path: &Path, env: &Env) -> Result<Scenario, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        line: 0,
        col: 0,
        message: format!("cannot read scenario: {e}"),
    })?;
    parse_with_env(&src, path, env)
}

/// Validates scenario text said to come from `path`; a data file is read relative
/// to `path`'s directory.
pub fn parse(src: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    parse_with_env(src, path, &Env::from_process())
}

/// [`parse`] with placeholders resolved from `env`.
pub fn parse_with_env(src: &str, path: &Path, env: &Env) -> Result<Scenario, ScenarioError> {
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, col) = tree::line_col(src, span.start);
        ScenarioError {
            path: path.to_path_buf(),
            line,
            col,
            message,
        }
    };
    let root = tree::parse(src).map_err(|e| at(e.span, e.message))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    config::scenario(&root, path, dir, env).map_err(|e| at(e.span, e.message))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_payloads;
