//! The start and edit forms: the page's fields become a `PlanInput` over the command line's
//! engine flags, validated by the same `Plan::build` as the CLI and TOML, so a bad value gets
//! the same message — tied to the field it came from, for the page to show beside it.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::control::Edit;
use crate::plan::{Plan, PlanError, PlanInput};
use crate::scenario;
use crate::units::parse_duration;

/// A refused form: the field to mark (`form` for the whole form) and the message.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The start form as the page sends it: every field a string, blank for "not given".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    pub url: String,
    pub users: String,
    pub spawn_rate: String,
    pub rate: String,
    pub duration: String,
    pub pipeline: String,
    /// One of the offered scenario names, or blank for a plain URL run.
    pub scenario: String,
}

/// A scenario the form offers: the name shown and the file it loads. Only these files can
/// be loaded from the page.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScenarioChoice {
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// The `*.toml` files in `dir`, sorted by name, then `given` if it is not among them.
pub fn scenario_choices(
    dir: &std::path::Path,
    given: Option<&std::path::Path>,
) -> Vec<ScenarioChoice> {
    let mut found: Vec<ScenarioChoice> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|path| ScenarioChoice {
            name: path.display().to_string(),
            path,
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(g) = given {
        if !found.iter().any(|c| c.path == g) {
            found.insert(
                0,
                ScenarioChoice {
                    name: g.display().to_string(),
                    path: g.to_owned(),
                },
            );
        }
    }
    found
}

fn optional<T: std::str::FromStr>(
    s: &str,
    field: &'static str,
    what: &str,
) -> Result<Option<T>, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| field_error(field, format!("{what}, got {s:?}")))
}

fn duration(s: &str) -> Result<Option<Duration>, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    parse_duration(s)
        .map(Some)
        .map_err(|e| field_error("duration", format!("invalid duration {s:?}: {e}")))
}

/// Which field a `Plan::build` error belongs to.
fn field_of(e: &PlanError) -> &'static str {
    match e {
        PlanError::MissingUrl | PlanError::Target(_) => "url",
        PlanError::Zero("--users") => "users",
        PlanError::Zero("--pipeline") | PlanError::PipelineTooDeep(_) => "pipeline",
        PlanError::PipelinedThinkTime => "pipeline",
        PlanError::BadRate(_) => "rate",
        PlanError::BadSpawnRate(_) => "spawn_rate",
        _ => "form",
    }
}

impl StartForm {
    /// The plan the form asks for over `base` (the command line's engine flags), validated
    /// as the CLI validates it. A run with no duration runs until stopped.
    pub fn plan(
        &self,
        base: &PlanInput,
        choices: &[ScenarioChoice],
        cores: &[usize],
    ) -> Result<Plan, FieldError> {
        let mut input = base.clone();
        let url = self.url.trim();
        if !url.is_empty() {
            input.url = Some(url.to_owned());
        }
        input.users =
            optional(&self.users, "users", "users must be a whole number")?.or(input.users);
        input.spawn_rate = optional(
            &self.spawn_rate,
            "spawn_rate",
            "spawn rate must be a number",
        )?
        .or(input.spawn_rate);
        input.rate = optional(&self.rate, "rate", "rate must be a number")?.or(input.rate);
        input.pipeline = optional(
            &self.pipeline,
            "pipeline",
            "pipeline must be a whole number",
        )?
        .or(input.pipeline);
        input.duration = duration(&self.duration)?.or(input.duration);
        // The form starts out showing the command line's scenario, so its choice (none too) wins.
        input.scenario = self.scenario(choices)?;
        input.quiet = true;
        let no_end = input.duration.is_none() && input.requests.is_none();
        let mut plan =
            Plan::build(input, cores).map_err(|e| field_error(field_of(&e), e.to_string()))?;
        if no_end && plan.ramp.is_none() {
            plan.duration = None;
        }
        Ok(plan)
    }

    fn scenario(
        &self,
        choices: &[ScenarioChoice],
    ) -> Result<Option<Arc<scenario::Scenario>>, FieldError> {
        let name = self.scenario.trim();
        if name.is_empty() {
            return Ok(None);
        }
        let choice = choices.iter().find(|c| c.name == name).ok_or_else(|| {
            field_error("scenario", format!("no scenario named {name:?} is offered"))
        })?;
        scenario::load(&choice.path)
            .map(|s| Some(Arc::new(s)))
            .map_err(|e| field_error("scenario", e.to_string()))
    }
}

/// The edit form: a new user count (with an optional spawn rate) or a new rate.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditForm {
    pub users: String,
    pub spawn_rate: String,
    pub rate: String,
}

fn positive(v: Option<f64>, field: &'static str, what: &str) -> Result<Option<f64>, FieldError> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(field_error(
            field,
            format!("{what} must be a positive number, got {x}"),
        )),
        v => Ok(v),
    }
}

impl EditForm {
    pub fn edit(&self) -> Result<Edit, FieldError> {
        let users: Option<u64> = optional(&self.users, "users", "users must be a whole number")?;
        let spawn_rate = positive(
            optional(
                &self.spawn_rate,
                "spawn_rate",
                "spawn rate must be a number",
            )?,
            "spawn_rate",
            "spawn rate",
        )?;
        let rate = positive(
            optional(&self.rate, "rate", "rate must be a number")?,
            "rate",
            "rate",
        )?;
        match (users, rate) {
            (Some(0), _) => Err(field_error("users", "--users must be at least 1")),
            (Some(users), None) => Ok(Edit::Users { users, spawn_rate }),
            (None, Some(rate)) => Ok(Edit::Rate { rate }),
            (Some(_), Some(_)) => Err(field_error("form", "give a user count or a rate, not both")),
            (None, None) => Err(field_error("form", "give a user count or a rate")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(url: &str) -> StartForm {
        StartForm {
            url: url.into(),
            ..StartForm::default()
        }
    }

    fn refused(f: StartForm) -> FieldError {
        f.plan(&PlanInput::default(), &[], &[0]).unwrap_err()
    }

    #[test]
    fn bad_values_get_the_cli_message_on_their_field() {
        let e = refused(StartForm {
            users: "0".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e, field_error("users", "--users must be at least 1"));
        let e = refused(StartForm {
            users: "many".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "users");
        let e = refused(StartForm {
            rate: "-5".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "rate");
        assert!(
            e.message.contains("rate must be a positive number"),
            "{e:?}"
        );
        let e = refused(StartForm {
            pipeline: "5000".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "pipeline");
        let e = refused(StartForm {
            spawn_rate: "0".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "spawn_rate");
        let e = refused(StartForm {
            duration: "soon".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "duration");
        assert_eq!(refused(form("")).field, "url");
        assert_eq!(refused(form("ftp://x/")).field, "url");
        let e = refused(StartForm {
            scenario: "../../etc/passwd".into(),
            ..form("http://127.0.0.1:1/")
        });
        assert_eq!(e.field, "scenario", "only offered scenarios load");
    }

    #[test]
    fn a_good_form_builds_the_plan_and_no_duration_runs_until_stopped() {
        let f = StartForm {
            users: "3".into(),
            spawn_rate: "2".into(),
            pipeline: "2".into(),
            ..form("http://127.0.0.1:1/health")
        };
        let plan = f.plan(&PlanInput::default(), &[], &[0]).unwrap();
        assert_eq!(plan.load.connections(), 3);
        assert_eq!(plan.pipeline, 2);
        assert_eq!(plan.duration, None);
        let f = StartForm {
            duration: "5s".into(),
            ..f
        };
        let plan = f.plan(&PlanInput::default(), &[], &[0]).unwrap();
        assert_eq!(plan.duration, Some(Duration::from_secs(5)));
    }

    #[test]
    fn edits_are_one_user_count_or_one_rate() {
        let e = EditForm {
            users: "7".into(),
            spawn_rate: "2".into(),
            ..EditForm::default()
        };
        assert_eq!(
            e.edit(),
            Ok(Edit::Users {
                users: 7,
                spawn_rate: Some(2.0)
            })
        );
        let e = EditForm {
            rate: "100".into(),
            ..EditForm::default()
        };
        assert_eq!(e.edit(), Ok(Edit::Rate { rate: 100.0 }));
        assert_eq!(EditForm::default().edit().unwrap_err().field, "form");
        let e = EditForm {
            users: "0".into(),
            ..EditForm::default()
        };
        assert_eq!(e.edit().unwrap_err().field, "users");
        let e = EditForm {
            rate: "NaN".into(),
            ..EditForm::default()
        };
        assert_eq!(e.edit().unwrap_err().field, "rate");
    }
}
