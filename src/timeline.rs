//! The run's timeline while it runs: one `Second` per interval, kept for the reports at the
//! end. A second with its per-task encoded histograms takes one to two kilobytes, so a long
//! soak would grow by megabytes an hour if they all stayed in memory. Past a short window
//! they go to an unlinked temporary file (it vanishes with the process) and come back in
//! order when the run ends. Spilling is an optimisation, never a risk to the reports: if the
//! file cannot be made or a write fails, the seconds stay in memory as before.
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::results::Second;

/// Seconds kept in memory before a batch of them goes to the file.
pub const KEEP_IN_MEMORY: usize = 60;

/// The seconds so far: the oldest on file, the newest in memory.
pub struct Timeline {
    recent: Vec<Second>,
    spill: Option<Spill>,
    /// No file could be made, or a write failed: everything from then on stays in memory.
    in_memory_only: bool,
}

/// The file and how much of it holds whole, written seconds.
struct Spill {
    file: File,
    bytes: u64,
    seconds: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        Timeline {
            recent: Vec::new(),
            spill: None,
            in_memory_only: false,
        }
    }

    /// A timeline that never spills, as one whose file could not be made.
    #[cfg(test)]
    fn in_memory() -> Self {
        Timeline {
            in_memory_only: true,
            ..Self::new()
        }
    }

    pub fn push(&mut self, s: Second) {
        self.recent.push(s);
        if self.recent.len() >= 2 * KEEP_IN_MEMORY && !self.in_memory_only {
            self.spill_oldest();
        }
    }

    pub fn last(&self) -> Option<&Second> {
        self.recent.last()
    }

    pub fn len(&self) -> usize {
        self.recent.len() + self.spill.as_ref().map_or(0, |s| s.seconds)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seconds now on file (none if spilling is off or failed from the start).
    #[cfg(test)]
    fn spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.seconds)
    }

    /// Every second, oldest first. What was on file is read back; if that fails, the
    /// seconds on file are lost but the rest are kept and the error is returned with them.
    pub fn into_seconds(self) -> (Vec<Second>, Option<io::Error>) {
        let Some(spill) = self.spill else {
            return (self.recent, None);
        };
        match spill.read_back() {
            Ok(mut all) => {
                all.extend(self.recent);
                (all, None)
            }
            Err(e) => (self.recent, Some(e)),
        }
    }

    /// Writes all but the newest [`KEEP_IN_MEMORY`] seconds to the file.
    fn spill_oldest(&mut self) {
        let n = self.recent.len() - KEEP_IN_MEMORY;
        let written = match &mut self.spill {
            Some(s) => s.append(&self.recent[..n]),
            None => Spill::create(&std::env::temp_dir()).and_then(|mut s| {
                s.append(&self.recent[..n])?;
                self.spill = Some(s);
                Ok(())
            }),
        };
        match written {
            Ok(()) => drop(self.recent.drain(..n)),
            Err(_) => self.in_memory_only = true,
        }
    }
}

impl Spill {
    /// An unnamed file in `dir`, readable only by this process: `O_TMPFILE` links no name,
    /// so nothing is left behind however the process ends.
    fn create(dir: &Path) -> io::Result<Spill> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o600)
            .open(dir)?;
        Ok(Spill {
            file,
            bytes: 0,
            seconds: 0,
        })
    }

    /// Appends `seconds`, one JSON line each, in one write. On failure the file is cut back
    /// to the seconds written before, so what is counted is exactly what can be read.
    fn append(&mut self, seconds: &[Second]) -> io::Result<()> {
        let mut buf = Vec::new();
        for s in seconds {
            serde_json::to_writer(&mut buf, s).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        let written = self
            .file
            .seek(SeekFrom::Start(self.bytes))
            .and_then(|_| self.file.write_all(&buf));
        if let Err(e) = written {
            let _ = self.file.set_len(self.bytes);
            return Err(e);
        }
        self.bytes += buf.len() as u64;
        self.seconds += seconds.len();
        Ok(())
    }

    fn read_back(mut self) -> io::Result<Vec<Second>> {
        self.file.seek(SeekFrom::Start(0))?;
        let lines = BufReader::new(self.file.take(self.bytes)).lines();
        let mut out = Vec::with_capacity(self.seconds);
        for line in lines {
            out.push(serde_json::from_str(&line?).map_err(io::Error::other)?);
        }
        if out.len() != self.seconds {
            return Err(io::Error::other(format!(
                "the timeline file held {} of {} seconds",
                out.len(),
                self.seconds
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Clock;
    use crate::stats::TaskStats;

    fn second(i: usize) -> Second {
        let mut t = TaskStats {
            responses: i as u64,
            ..TaskStats::default()
        };
        t.latency.record(100 + i as u64).unwrap();
        let clock = Clock {
            elapsed_s: i as f64 + 0.1,
            interval_s: 1.0,
            unix_s: 1_700_000_000 + i as u64,
            users: 3,
            errors: 0,
        };
        let mut s = Second::new(clock, &[t.clone()], &[t]);
        s.client.cpu = vec![0.25, 1.0 / 3.0];
        s.client.backlog = Some(i as u64);
        s
    }

    #[test]
    fn a_long_run_keeps_a_bounded_window_in_memory_and_gets_every_second_back_in_order() {
        let mut t = Timeline::new();
        let n = 5 * KEEP_IN_MEMORY + 7;
        let want: Vec<Second> = (0..n).map(second).collect();
        for s in want.iter().cloned() {
            t.push(s);
            assert!(t.recent.len() < 2 * KEEP_IN_MEMORY);
        }
        assert_eq!(t.len(), n);
        assert!(t.spilled() > 0, "nothing went to the file");
        let (got, err) = t.into_seconds();
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, want, "seconds changed on their way through the file");
    }

    #[test]
    fn without_a_file_every_second_stays_in_memory() {
        let mut t = Timeline::in_memory();
        for i in 0..3 * KEEP_IN_MEMORY {
            t.push(second(i));
        }
        assert_eq!((t.spilled(), t.len()), (0, 3 * KEEP_IN_MEMORY));
        assert_eq!(t.into_seconds().0.len(), 3 * KEEP_IN_MEMORY);
    }

    #[test]
    fn a_directory_that_cannot_hold_the_file_is_an_error_not_a_panic() {
        assert!(Spill::create(Path::new("/proc/self")).is_err());
    }
}
