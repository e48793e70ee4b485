//! `modelmux serve`: load the config (a file, or the embedded default from the
//! environment), report what is enabled and disabled, bind, print the listen address, and
//! serve until a signal; then drain in-flight requests and background work within the grace
//! period, and the record writer after them.

use std::process::ExitCode;

use anyhow::Context;
use modelmux_core::Config;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::signals;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("invalid config {}:\n{e}", path.display()))?,
        None => Config::embedded(&|k| std::env::var(k).ok()),
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    report(&config);
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    println!("modelmux listening on http://{addr}");
    tracing::info!(%addr, "modelmux listening");
    let grace = config.server.shutdown_grace;
    let tasks = modelmux_core::Tasks::new();
    let sig = signals::install(&tasks);
    let code = wait(listener, config, grace, sig).await;
    tasks.shutdown(std::time::Duration::from_secs(1)).await;
    code
}

/// Serves until the first signal, then drains; a second signal or the grace running out
/// ends the drain early.
async fn wait(
    listener: TcpListener,
    config: Config,
    grace: std::time::Duration,
    sig: tokio::sync::watch::Receiver<u32>,
) -> anyhow::Result<ExitCode> {
    // The gateway bounds its own drain: requests and background work within the grace of
    // the signal, then the record writer within a grace of its own. This is the backstop.
    let backstop = grace * 2 + std::time::Duration::from_secs(1);
    let first = signals::reached(sig.clone(), 1);
    let server = modelmux_core::serve(listener, config, first);
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => { r?; return Ok(ExitCode::SUCCESS); }
        _ = signals::reached(sig.clone(), 1) => {}
    }
    tokio::select! {
        r = &mut server => { r?; tracing::info!("drained; bye"); Ok(ExitCode::SUCCESS) }
        _ = signals::reached(sig, 2) => { tracing::warn!("second signal: exiting without waiting for in-flight requests"); Ok(ExitCode::from(130)) }
        _ = signals::grace_timer(backstop) => { tracing::warn!(?grace, "grace period over: exiting with requests still in flight"); Ok(ExitCode::FAILURE) }
    }
}

fn report(config: &Config) {
    match &config.source {
        modelmux_core::config::ConfigSource::File(p) => {
            tracing::info!(config = %p.display(), "config loaded")
        }
        _ => tracing::info!(
            "no --config given: using the embedded default (providers from environment keys)"
        ),
    }
    for p in config.providers.values() {
        tracing::info!(provider = %p.id, kind = p.kind.name(), base_url = %p.base_url, "provider enabled");
    }
    for (p, why) in &config.disabled {
        tracing::info!(provider = %p, "provider disabled: {why}");
    }
    for r in &config.routes {
        let c: Vec<String> = r.candidates.iter().map(ToString::to_string).collect();
        tracing::info!(route = %r.name, candidates = %c.join(" -> "), "route");
    }
    if config.providers.is_empty() {
        tracing::warn!(
            "no provider is configured: requests will be answered with an error. Set OPENAI_API_KEY (or another provider key), pass --config FILE, or run `modelmux demo` to try modelmux without keys"
        );
    }
}
