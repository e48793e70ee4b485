//! Command-line definitions (clap). Every subcommand that reads configuration takes
//! `--config FILE`, so one flag points them all at one deployment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "modelmux",
    version,
    about = "An LLM gateway and router: one OpenAI-compatible endpoint in front of every model provider."
)]
pub struct Cli {
    /// Log filter (e.g. `info`, `modelmux=debug`); defaults to RUST_LOG, else `info` (`warn`
    /// for `demo`, which shows its access log only when asked: `demo --log info`).
    #[arg(long, global = true)]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What `--version` prints: the crate version, the git commit it was built from, and the
/// version of the built-in model catalog (which prices every record).
pub fn version() -> String {
    format!(
        "{} (commit {}, catalog {})",
        env!("CARGO_PKG_VERSION"),
        env!("MODELMUX_GIT_COMMIT"),
        modelmux_core::catalog::Catalog::builtin().version
    )
}

impl Cli {
    /// Parses the command line, with the long version (commit, catalog) for `--version`.
    pub fn parse_with_version() -> Self {
        let matches = Self::command().version(version()).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the embedded default when no --config is given).
    Serve(ServeArgs),
    /// Run a simulated OpenAI-format provider with scripted latency and faults.
    Sim(SimArgs),
    /// A support assistant on simulated models: tickets, feedback, cost and resolution by route.
    Demo(DemoArgs),
    /// Validate a config and print the resolved routes; exits non-zero on errors.
    Check(CheckArgs),
    /// List the model catalog, and what a config's targets resolve to.
    Models(CheckArgs),
    /// Create, list, revoke and rotate virtual keys in the config's key store.
    Keys(crate::keys::KeysArgs),
    /// Requests, cost, latency, errors and fallbacks per route, target, key or team.
    Report(crate::report::ReportArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file (TOML). Without it: every well-known provider whose key is in the environment.
    #[arg(long, short, env = "MODELMUX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding `server.listen` (port 0 picks a free port).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Simulator config (TOML: api_key, [default], [models.NAME] behaviours).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How many support tickets to send (each 1-4 turns).
    #[arg(long, default_value_t = 600)]
    pub tickets: usize,
    /// How many tickets at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Share of turns that stream, in percent.
    #[arg(long, default_value_t = 30)]
    pub stream_percent: u32,
    /// Seed for the tickets and the simulated verdicts: the same seed prints the same table.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long, short, env = "MODELMUX_CONFIG")]
    pub config: Option<PathBuf>,
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_version_names_the_commit_and_the_catalog() {
        let v = super::version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(v.contains("(commit "), "{v}");
        let catalog = modelmux_core::catalog::Catalog::builtin().version.clone();
        assert!(v.ends_with(&format!("catalog {catalog})")), "{v}");
    }
}
