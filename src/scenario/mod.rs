//! Scenario files: Locust-style user behaviour described in TOML.
