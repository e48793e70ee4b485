//! `modelmux check`: validate a config and print the resolved routes with their candidates
//! and retry settings. Exits 1 when the config has errors, each printed with its path.

use std::process::ExitCode;

use modelmux_core::Config;
use modelmux_core::config::ConfigError;

use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => return Ok(failed(&path.display().to_string(), &e)),
        },
        None => Config::embedded(&|k| std::env::var(k).ok()),
    };
    // Rules are compiled as the gateway compiles them at start: a bad expression fails here.
    if let Err(e) = modelmux_core::policy::Compiled::new(&config) {
        let name = args
            .config
            .as_ref()
            .map_or_else(|| "embedded config".to_owned(), |p| p.display().to_string());
        return Ok(failed(&name, &e));
    }
    print!("{}", render(&config));
    Ok(ExitCode::SUCCESS)
}

/// Prints each issue with its path; exit 1.
fn failed(name: &str, e: &ConfigError) -> ExitCode {
    eprintln!("{name}: {} error(s)", e.0.len());
    for issue in &e.0 {
        if issue.path.is_empty() {
            eprintln!("  error: {}", issue.message);
        } else {
            eprintln!("  error: {}: {}", issue.path, issue.message);
        }
    }
    ExitCode::FAILURE
}

fn render(config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config ok: {} provider(s), {} route(s)",
        config.providers.len(),
        config.routes.len()
    );
    for p in config.providers.values() {
        let _ = writeln!(out, "provider {} ({}) {}", p.id, p.kind.name(), p.base_url);
    }
    for (p, why) in &config.disabled {
        let _ = writeln!(out, "provider {p} disabled: {why}");
    }
    for r in &config.routes {
        let s = r.settings;
        let chain: Vec<String> = r.candidates.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "route {}: {}", r.name, chain.join(" -> "));
        let _ = writeln!(
            out,
            "  num_retries={} timeout={} total_timeout={} ttft_timeout={} max_retry_after={}",
            s.num_retries,
            humantime::format_duration(s.timeout),
            humantime::format_duration(s.total_timeout),
            humantime::format_duration(s.ttft_timeout),
            humantime::format_duration(s.max_retry_after)
        );
        let calls = r.candidates.len() as u32 * (s.num_retries + 1);
        let _ = writeln!(
            out,
            "  strategy {}; worst case: {calls} upstream call(s) per request ({} candidate(s) × {} attempt(s))",
            r.strategy.name(),
            r.candidates.len(),
            s.num_retries + 1
        );
        if let Some(h) = s.hedge_after {
            let _ = writeln!(
                out,
                "  hedge after {h} (at most {:.0}% of requests): the next candidate's first attempt starts early, so at most 2 calls run at once and the worst case above does not grow",
                s.hedge_max_share * 100.0
            );
        }
        for t in &r.candidates {
            let i = config.model_info(t);
            if i.price.is_none() {
                let _ = writeln!(
                    out,
                    "  warning: {t} has no price (cost and `cheapest` cannot use it)"
                );
            }
            if i.capabilities.is_none() || i.context_window.is_none() {
                let _ = writeln!(
                    out,
                    "  warning: {t} has unknown capabilities or context window (the capability filter keeps it)"
                );
            }
        }
    }
    for (i, rule) in config.rules.iter().enumerate() {
        let _ = writeln!(
            out,
            "rule {} ({}): when {} -> route {}",
            i, rule.name, rule.when, rule.route
        );
        if rule.when.trim() == "true" && i + 1 < config.rules.len() {
            let _ = writeln!(
                out,
                "  warning: always true; the {} rule(s) after it are unreachable",
                config.rules.len() - i - 1
            );
        }
        if config.rules[..i]
            .iter()
            .any(|r| r.when.trim() == rule.when.trim())
        {
            let _ = writeln!(
                out,
                "  warning: the same condition as an earlier rule; unreachable"
            );
        }
    }
    if config.providers.is_empty() {
        let _ = writeln!(
            out,
            "warning: no provider is configured; set a provider key or write a config (see README)"
        );
    }
    out
}
