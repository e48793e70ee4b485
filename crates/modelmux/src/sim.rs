//! `modelmux sim`: run one simulated OpenAI-format provider until interrupted. Its config
//! scripts latency, token speed and faults per model (see modelmux-sim).

use std::process::ExitCode;

use anyhow::Context;
use modelmux_sim::SimConfig;
use tokio::net::TcpListener;

use crate::cli::SimArgs;
use crate::signals;

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let config: SimConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("invalid simulator config {}: {e}", path.display()))?
        }
        None => SimConfig::default(),
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let sim = modelmux_sim::start(listener, config).await;
    println!("modelmux-sim listening on {}", sim.base_url());
    let tasks = modelmux_core::Tasks::new();
    signals::reached(signals::install(&tasks), 1).await;
    sim.shutdown();
    tasks.shutdown(std::time::Duration::from_secs(1)).await;
    Ok(ExitCode::SUCCESS)
}
