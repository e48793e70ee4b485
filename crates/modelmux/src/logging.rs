//! Log set-up: tracing to stderr, filtered by `--log` or `RUST_LOG` (else the subcommand's
//! default: `info`, `warn` for the demo). Stdout
//! stays free for what a subcommand prints (the demo's table, the listen address).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(filter: Option<&str>, default: &str) {
    let filter = filter
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
