//! `--shard I/N`: one of N independent blast processes (started together by an orchestrator
//! such as a Kubernetes Indexed Job) that together run exactly one plan. A shard takes its
//! share of users, rate and request budget, and its own slice of `seq` values and data rows,
//! so shards never repeat each other's payloads; `blast merge` adds their results up exactly.
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// An unsharded run: the only shard of one.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// This shard's part of `total` whole units; the remainder goes to the first shards so
    /// the parts add up to exactly `total`.
    pub fn part(self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// The run-wide index of this shard's `local`-th unit (user, `seq` value, data row):
    /// shards interleave, so shard i holds i, i+N, i+2N, … — `part(total)` of `0..total`.
    pub fn global(self, local: u64) -> u64 {
        local * self.count + self.index
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why `--shard` was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct ShardError(String);

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardError {}

impl FromStr for Shard {
    type Err = ShardError;

    /// `I/N` with 0 <= I < N.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ShardError(format!("--shard {s:?}: {why} (expected I/N, e.g. 0/4)"));
        let (i, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let index: u64 = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I counts from 0 and must be below N"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_to_the_whole_and_globals_partition_it() {
        for (total, count) in [(10_000u64, 3u64), (7, 4), (1, 1), (2, 5), (0, 2)] {
            let shards = (0..count).map(|index| Shard { index, count });
            let sum: u64 = shards.clone().map(|s| s.part(total)).sum();
            assert_eq!(sum, total, "{total}/{count}");
            let mut all: Vec<u64> = shards
                .flat_map(|s| (0..s.part(total)).map(move |k| s.global(k)))
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..total).collect::<Vec<_>>(), "{total}/{count}");
        }
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse(), Ok(Shard::WHOLE));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
