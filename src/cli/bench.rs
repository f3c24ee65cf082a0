//! `bottleneck bench`: training throughput and PCA fit time (being written).

use super::BenchArgs;

pub fn run(_a: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench is not written yet")
}
