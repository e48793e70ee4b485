//! `modelmux models`: the built-in catalog (context window, max output, capabilities, prices
//! per million tokens, source and date), and for a config, what each route target resolves
//! to after the config's overrides.

use std::fmt::Write;
use std::process::ExitCode;

use modelmux_core::Config;
use modelmux_core::catalog::{Capabilities, Catalog};

use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "catalog version {} ({} models; USD per million tokens)",
        catalog.version,
        catalog.models.len()
    );
    let _ = writeln!(
        out,
        "{:<10} {:<44} {:>9} {:>8} {:>7} {:>7} {:>7} {:>7}  {:<40} as of",
        "family", "model", "context", "output", "in", "out", "c.read", "c.write", "capabilities"
    );
    for e in &catalog.models {
        let p = e.price;
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
        let _ = writeln!(
            out,
            "{:<10} {:<44} {:>9} {:>8} {:>7.3} {:>7.3} {:>7} {:>7}  {:<40} {}",
            e.family,
            e.model,
            e.context_window,
            e.max_output,
            p.input,
            p.output,
            opt(p.cache_read),
            opt(p.cache_write),
            e.capabilities.join(","),
            e.as_of
        );
    }
    if let Some(path) = &args.config {
        let config = Config::from_file(path)
            .map_err(|e| anyhow::anyhow!("invalid config {}:\n{e}", path.display()))?;
        let _ = writeln!(out, "\ntargets of {}:", path.display());
        let mut seen = std::collections::BTreeSet::new();
        for r in &config.routes {
            for t in &r.candidates {
                if !seen.insert(t.to_string()) {
                    continue;
                }
                let i = config.model_info(t);
                let caps = i
                    .capabilities
                    .map_or("unknown".to_owned(), |c: Capabilities| c.names().join(","));
                let price = i.price.map_or("no price".to_owned(), |p| {
                    format!("{:.3}/{:.3}", p.input, p.output)
                });
                let _ = writeln!(
                    out,
                    "  {:<44} context {:>8} output {:>7} {:<14} {} {}",
                    t.to_string(),
                    i.context_window.map_or("?".into(), |v| v.to_string()),
                    i.max_output_tokens.map_or("?".into(), |v| v.to_string()),
                    price,
                    caps,
                    if i.from_catalog {
                        "(catalog)"
                    } else {
                        "(config)"
                    }
                );
            }
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
