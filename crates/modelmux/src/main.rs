//! The `modelmux` binary: a thin main that parses the command line and hands over to one
//! subcommand module (`serve`, `sim`, `demo`, `check`). All gateway logic lives in
//! modelmux-core; this crate only wires configuration, signals and terminal output.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its results"
)]

mod check;
mod cli;
mod demo;
mod keys;
mod logging;
mod models;
mod report;
mod report_table;
mod serve;
mod signals;
mod sim;

use std::process::ExitCode;

/// mimalloc: the request path allocates many small short-lived buffers, where it spends
/// markedly fewer instructions than the system allocator (bench/RESULTS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_with_version();
    let default_log = match cli.command {
        cli::Command::Demo(_) => "warn",
        _ => "info",
    };
    logging::init(cli.log.as_deref(), default_log);
    // One core (a container limit, `taskset`): the current-thread scheduler does the same
    // work without the cross-worker bookkeeping of the multi-thread one.
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modelmux: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(args).await,
            cli::Command::Sim(args) => sim::run(args).await,
            cli::Command::Demo(args) => demo::run(args).await,
            cli::Command::Check(args) => check::run(args),
            cli::Command::Models(args) => models::run(args),
            cli::Command::Keys(args) => keys::run(args).await,
            cli::Command::Report(args) => report::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("modelmux: {e:#}");
            ExitCode::FAILURE
        }
    }
}
