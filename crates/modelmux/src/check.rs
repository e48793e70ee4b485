//! `modelmux check`: validate a config and print the resolved routes with their candidates
//! and retry settings. Exits 1 when the config has errors, each printed with its path.

use std::path::Path;
use std::process::ExitCode;

use modelmux_core::Config;
use modelmux_core::config::ConfigError;

use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match load(args.config.as_deref()) {
        Ok(config) => {
            print!("{}", render(&config));
            Ok(ExitCode::SUCCESS)
        }
        Err((name, e)) => Ok(failed(&name, &e)),
    }
}

/// The config as the gateway would start on it: read, validated, and its rules compiled as
/// `AppState::new` compiles them (a bad expression fails here, at `rules[i].when`). The
/// error comes with the name of the config it is about.
fn load(path: Option<&Path>) -> Result<Config, (String, ConfigError)> {
    let name = path.map_or_else(|| "embedded config".to_owned(), |p| p.display().to_string());
    let config = match path {
        Some(p) => Config::from_file(p).map_err(|e| (name.clone(), e))?,
        None => Config::embedded(&|k| std::env::var(k).ok()),
    };
    modelmux_core::policy::Compiled::new(&config).map_err(|e| (name, e))?;
    Ok(config)
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
        if p.kind == modelmux_core::config::ProviderKind::Anthropic {
            let _ = writeln!(out, "  calls POST {}/messages", p.base_url);
        }
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

#[cfg(test)]
mod tests {
    use super::load;

    #[test]
    fn a_bad_rule_is_refused_with_its_path() {
        let path = std::env::temp_dir().join(format!("modelmux-check-{}.toml", std::process::id()));
        let text = "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
            [[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n\
            [[rules]]\nname = \"a\"\nwhen = \"stream\"\nroute = \"c\"\n\
            [[rules]]\nname = \"b\"\nwhen = \"tokenz > 1\"\nroute = \"c\"\n\
            [[rules]]\nname = \"c\"\nwhen = \"intent ==\"\nroute = \"c\"\n";
        std::fs::write(&path, text).unwrap();
        let (_, e) = load(Some(&path)).unwrap_err();
        let _ = std::fs::remove_file(&path);
        let paths: Vec<&str> = e.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["rules[1].when", "rules[2].when"], "{e}");
        assert!(
            e.0[1].message.starts_with("not a valid CEL expression"),
            "{e}"
        );
    }
}
