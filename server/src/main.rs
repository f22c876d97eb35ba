//! `hygie`: the Hygie server and its operator commands (one file per command group in `cli/`).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use hygie_server::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any configuration, runtime or thread: the child has nothing of the server.
    match &cli.command {
        Some(Command::PdfPage { page, width }) => return hygie_server::pdf::child_main(*page, *width),
        Some(Command::PdfProbe { file, connect }) => return hygie_server::pdf::probe_main(file, *connect),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hygie: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hygie: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hygie: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
