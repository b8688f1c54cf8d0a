//! The top level of a scenario file: run settings, think time, stages, the data
//! file, named bodies and the list of tasks.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::data::DataSet;
use super::env::Env;
use super::flow;
use super::read::{self, fail, Result, Table};
use super::task::{Sources, Task};
use super::template;
use super::tree::{Node, Value};
use super::{Scenario, Stage, StageTarget, Wait};

const TOP_KEYS: &[&str] = &[
    "host",
    "users",
    "spawn_rate",
    "duration",
    "rate",
    "requests",
    "seed",
    "wait",
    "stages",
    "data",
    "bodies",
    "task",
    "on_start",
    "sequence",
    "cookies",
    "follow_redirects",
];

/// Most tasks `on_start` may list: it is a login, not a workload.
const MAX_ON_START: usize = 16;

/// Builds a scenario from the document root; `dir` is where relative data paths start,
/// `env` what `{env.NAME}` placeholders resolve to.
pub(crate) fn scenario(root: &Node, source: &Path, dir: &Path, env: &Env) -> Result<Scenario> {
    let t = Table::new(root, "the scenario", TOP_KEYS)?;
    let host = t
        .get("host")
        .map(|n| non_empty(n, "host", env))
        .transpose()?;
    let users = t
        .get("users")
        .map(|n| at_least_one(n, "users"))
        .transpose()?;
    let spawn_rate = t
        .get("spawn_rate")
        .map(|n| read::positive(n, "spawn_rate"))
        .transpose()?;
    let duration = t
        .get("duration")
        .map(|n| read::duration(n, "duration"))
        .transpose()?;
    let rate = t
        .get("rate")
        .map(|n| read::positive(n, "rate"))
        .transpose()?;
    let requests = t
        .get("requests")
        .map(|n| at_least_one(n, "requests"))
        .transpose()?;
    let seed = t.get("seed").map(|n| read::uint(n, "seed")).transpose()?;
    let wait = t.get("wait").map(wait).transpose()?.unwrap_or(Wait::None);
    let stages = t.get("stages").map(stages).transpose()?.unwrap_or_default();
    let data = match t.get("data") {
        Some(n) => Some(Arc::new(data_file(n, dir, env)?)),
        None => None,
    };
    let bodies = match t.get("bodies") {
        Some(n) => Table::any(n, "bodies")?.entries(),
        None => &[],
    };
    let task_nodes = task_nodes(&t)?;
    let start_nodes = on_start_nodes(&t)?;
    let user_vars = flow::user_vars(task_nodes.iter().chain(&start_nodes).copied())?;
    let src = Sources {
        dir,
        env,
        data: data.as_deref(),
        bodies,
        user_vars: &user_vars,
    };
    let (tasks, on_start) = tasks(&task_nodes, &start_nodes, &src, seed)?;
    let sequence = t
        .get("sequence")
        .map(|n| boolean(n, "sequence"))
        .transpose()?;
    let cookies = t
        .get("cookies")
        .map(|n| boolean(n, "cookies"))
        .transpose()?;
    let follow_redirects = t
        .get("follow_redirects")
        .map(flow::follow_redirects)
        .transpose()?;
    Ok(Scenario {
        source: source.to_path_buf(),
        host,
        users,
        spawn_rate,
        duration,
        rate,
        requests,
        seed,
        wait,
        stages,
        tasks,
        data,
        on_start,
        sequence: sequence.unwrap_or(false),
        cookies: cookies.unwrap_or(true),
        follow_redirects: follow_redirects.unwrap_or(flow::DEFAULT_FOLLOW),
        user_vars,
    })
}

fn boolean(node: &Node, name: &str) -> Result<bool> {
    match node.value {
        Value::Bool(b) => Ok(b),
        _ => fail(&node.span, format!("`{name}` must be true or false")),
    }
}

/// The `[[task]]` tables: at least one.
fn task_nodes<'a>(t: &Table<'a>) -> Result<Vec<&'a Node>> {
    let Some(node) = t.get("task") else {
        return fail(&(0..0), "no tasks: add at least one [[task]] table");
    };
    let nodes = read::array(node, "task")?;
    if nodes.is_empty() {
        return fail(&node.span, "no tasks: add at least one [[task]] table");
    }
    Ok(nodes.iter().collect())
}

/// `[on_start]` (one task) or `[[on_start]]` (a short list, run in order).
fn on_start_nodes<'a>(t: &Table<'a>) -> Result<Vec<&'a Node>> {
    let Some(node) = t.get("on_start") else {
        return Ok(Vec::new());
    };
    let nodes: Vec<&Node> = match &node.value {
        Value::Array(items) => items.iter().collect(),
        _ => vec![node],
    };
    if nodes.is_empty() || nodes.len() > MAX_ON_START {
        return fail(
            &node.span,
            format!("`on_start` lists 1 to {MAX_ON_START} tasks"),
        );
    }
    for n in &nodes {
        if let Some((key, _)) = Table::any(n, "on_start")?.entry("weight") {
            return fail(
                &key.span,
                "an `on_start` task runs once per user: it takes no `weight`",
            );
        }
    }
    Ok(nodes)
}

fn non_empty(node: &Node, name: &str, env: &Env) -> Result<String> {
    let raw = read::string(node, name)?;
    let s = template::expand(node, raw, env)?;
    if s.is_empty() {
        return fail(&node.span, format!("`{name}` must not be empty"));
    }
    Ok(s)
}

fn at_least_one(node: &Node, name: &str) -> Result<u64> {
    match read::uint(node, name)? {
        0 => fail(&node.span, format!("`{name}` must be at least 1")),
        n => Ok(n),
    }
}

fn data_file(node: &Node, dir: &Path, env: &Env) -> Result<DataSet> {
    let raw = read::string(node, "data")?;
    let path = dir.join(template::expand(node, raw, env)?);
    DataSet::load(&path).or_else(|e| fail(&node.span, format!("{}: {e}", path.display())))
}

/// Compiles the `[[task]]` tables, then the `on_start` ones (weight 0: never picked by
/// weight), and says which indices are `on_start`'s. Weights of the `[[task]]`s must not
/// all be zero. Multipart boundaries come from `seed` when there is one, so seeded runs
/// send the same bytes.
fn tasks(
    nodes: &[&Node],
    start: &[&Node],
    src: &Sources,
    seed: Option<u64>,
) -> Result<(Vec<Task>, Vec<usize>)> {
    let mut rng = match seed {
        Some(s) => SmallRng::seed_from_u64(s),
        None => SmallRng::from_entropy(),
    };
    let mut tasks = nodes
        .iter()
        .map(|n| Task::parse(n, src, &mut rng))
        .collect::<Result<Vec<_>>>()?;
    if tasks.iter().all(|task| task.weight == 0) {
        let span = Table::any(nodes[0], "[[task]]")
            .ok()
            .and_then(|t| t.get("weight"))
            .map_or(&nodes[0].span, |w| &w.span);
        return fail(
            span,
            "task weights sum to 0: give at least one task a weight above 0",
        );
    }
    let on_start = (tasks.len()..tasks.len() + start.len()).collect();
    for n in start {
        let mut task = Task::parse(n, src, &mut rng)?;
        task.weight = 0;
        tasks.push(task);
    }
    let all: Vec<&Node> = nodes.iter().chain(start).copied().collect();
    refuse_duplicate_names(&all, &tasks)?;
    Ok((tasks, on_start))
}

/// Task names key the stats and `--fail-on task:NAME:` gates, so two tasks may not share
/// one; the error points at the second one's `name` (or its `path`, the default name).
fn refuse_duplicate_names(nodes: &[&Node], tasks: &[Task]) -> Result<()> {
    for (i, task) in tasks.iter().enumerate() {
        let Some(first) = tasks[..i].iter().position(|t| t.name == task.name) else {
            continue;
        };
        let table = Table::any(nodes[i], "[[task]]")?;
        let span = table
            .get("name")
            .or_else(|| table.get("path"))
            .map_or(&nodes[i].span, |n| &n.span);
        return fail(
            span,
            format!(
                "task name {:?} is already used by task {} of this file: give each task its own `name`",
                task.name,
                first + 1
            ),
        );
    }
    Ok(())
}

/// `{constant = s}`, `{between = [min, max]}` or `{pacing = s}`, seconds.
fn wait(node: &Node) -> Result<Wait> {
    let t = Table::new(node, "wait", &["constant", "between", "pacing"])?;
    let [(key, value)] = t.entries() else {
        return fail(
            &node.span,
            "`wait` takes exactly one of constant, between, pacing",
        );
    };
    Ok(match key.name.as_str() {
        "constant" => Wait::Constant(read::seconds(value, "constant")?),
        "between" => {
            let (min, max) = read::range(value, "between", read::seconds)?;
            Wait::Between(min, max)
        }
        _ => {
            let every = read::seconds(value, "pacing")?;
            if every.is_zero() {
                return fail(&value.span, "`pacing` must be greater than 0");
            }
            Wait::Pacing(every)
        }
    })
}

/// `[{users = n, for = "30s"}, ..]` or `[{rate = r, for = "30s"}, ..]`, not mixed.
fn stages(node: &Node) -> Result<Vec<Stage>> {
    let items = read::array(node, "stages")?;
    if items.is_empty() {
        return fail(&node.span, "`stages` must not be empty");
    }
    let mut stages: Vec<Stage> = Vec::with_capacity(items.len());
    for item in items {
        let t = Table::new(item, "a stage", &["users", "rate", "for"])?;
        let (key, target) = match (t.entry("users"), t.entry("rate")) {
            (Some((key, n)), None) => (key, StageTarget::Users(read::uint(n, "users")?)),
            (None, Some((key, n))) => (key, StageTarget::Rate(rate(n)?)),
            (Some(_), Some((key, _))) => {
                return fail(&key.span, "a stage has `users` or `rate`, not both")
            }
            (None, None) => return fail(&item.span, "a stage needs `users` or `rate`"),
        };
        let mixed = stages.first().is_some_and(|first| {
            matches!(first.target, StageTarget::Users(_)) != matches!(target, StageTarget::Users(_))
        });
        if mixed {
            return fail(&key.span, "all stages must use `users`, or all `rate`");
        }
        let Some(duration) = t.get("for") else {
            return fail(&item.span, "a stage needs `for = \"30s\"`");
        };
        stages.push(Stage {
            target,
            duration: read::duration(duration, "for")?,
        });
    }
    Ok(stages)
}

fn rate(node: &Node) -> Result<f64> {
    let r = read::number(node, "rate")?;
    if r < 0.0 {
        return fail(&node.span, "`rate` must not be negative");
    }
    Ok(r)
}
