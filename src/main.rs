//! `bottleneck`: the app by default, headless subcommands for scripting (see `cli`).

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> std::process::ExitCode {
    bottleneck::started();
    bottleneck::tune_allocator();
    let cli = match bottleneck::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                // clap's message is several lines; its first line names the argument.
                let text = e.to_string();
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("error: bad arguments");
                eprintln!("{first} (see bottleneck --help)");
                return std::process::ExitCode::from(2);
            }
        },
    };
    match bottleneck::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, most general first.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
