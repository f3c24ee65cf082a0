//! `bottleneck`: the app by default, headless subcommands for scripting (see `cli`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = bottleneck::cli::Cli::parse();
    match bottleneck::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, most general first.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
