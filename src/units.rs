//! Units as people type and read them: durations in flags (`30s`, `250ms`), instants for
//! `--start-at`, microseconds shown as milliseconds, counts as rates. Pure functions, used by
//! every layer above; nothing here knows what a run is.
use std::time::{Duration, SystemTime};

/// "30s", "1m30s", "250ms", or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 1m, 250ms)"))
}

/// `--start-at`: RFC 3339 (`2026-11-25T15:00:00Z`) or unix seconds (`1764082800`).
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let since = Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?;
        return Ok(SystemTime::UNIX_EPOCH + since);
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{e} (try 2026-11-25T15:00:00Z or unix seconds)"))
}

/// Microseconds as milliseconds with two decimals: "1.25ms".
pub fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

/// `n` per second over `secs`, 0 for an empty run.
pub fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("soon").unwrap_err().contains("try 30s"));
    }

    #[test]
    fn rates_of_an_empty_interval_are_zero() {
        assert_eq!(per_second(10, 0.5), 20.0);
        assert_eq!(per_second(10, 0.0), 0.0);
        assert_eq!(ms(1250), "1.25ms");
    }
}
