//! The egui application (arrives with the app issue).

pub fn run(data: &str) -> anyhow::Result<()> {
    let _ = data;
    anyhow::bail!("the desktop app is not built yet; use a subcommand (bottleneck --help)")
}
