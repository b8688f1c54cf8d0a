//! Weighted task choice: cumulative weights built once, one random draw and a binary
//! search per pick.

use rand::Rng;

use super::Task;

/// Picks task indices in proportion to their weights.
#[derive(Debug, Clone)]
pub struct TaskPicker {
    /// `ends[i]` is the sum of weights of tasks `0..=i`.
    ends: Vec<u64>,
}

impl TaskPicker {
    pub fn new(tasks: &[Task]) -> Self {
        Self::from_weights(tasks.iter().map(|t| t.weight))
    }

    pub fn from_weights(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut total = 0u64;
        let ends = weights
            .into_iter()
            .map(|w| {
                total += u64::from(w);
                total
            })
            .collect();
        TaskPicker { ends }
    }

    /// A task index; tasks of weight 0 are never picked. With no weight at all
    /// (which a loaded scenario never has) it answers 0.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.ends.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let x = rng.gen_range(0..total);
        self.ends.partition_point(|&end| end <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn picks_follow_weights() {
        let picker = TaskPicker::from_weights([4, 0, 1, 5]);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0u32; 4];
        let n = 100_000;
        for _ in 0..n {
            counts[picker.pick(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for (i, want) in [(0, 0.4), (2, 0.1), (3, 0.5)] {
            let got = f64::from(counts[i]) / f64::from(n);
            assert!((got - want).abs() < 0.01, "task {i}: {got} vs {want}");
        }
    }

    #[test]
    fn degenerate_pickers_do_not_panic() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(TaskPicker::from_weights([]).pick(&mut rng), 0);
        assert_eq!(TaskPicker::from_weights([0, 0]).pick(&mut rng), 0);
        assert_eq!(TaskPicker::from_weights([0, 3]).pick(&mut rng), 1);
    }
}
