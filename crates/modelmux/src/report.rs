//! `modelmux report`: per route, target, key or team over a window (`--since 24h`), the
//! requests, cost, p50/p95 latency and time to first token, error rate and fallback rate,
//! read from the record store that the config's `[store]` table names. Only `[store]` is
//! read, so provider keys need not be in the environment; without `--config` the defaults
//! apply (SQLite in `$MODELMUX_DATA_DIR` or `./modelmux-data`).

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use modelmux_core::records::config::{RawStoreConfig, StoreConfig, StoreKind, validate};
use modelmux_core::records::{self, GroupBy, ReportRow};
use serde::Deserialize;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Config file (TOML) whose `[store]` table locates the records.
    #[arg(long, short, env = "MODELMUX_CONFIG")]
    pub config: Option<PathBuf>,
    /// How far back to look (`1h`, `24h`, `7d`).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// What to group by.
    #[arg(long, value_enum, default_value_t = By::Route)]
    pub by: By,
    /// Print JSON rows instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    Route,
    Target,
    Key,
    Team,
}

impl From<By> for GroupBy {
    fn from(b: By) -> Self {
        match b {
            By::Route => GroupBy::Route,
            By::Target => GroupBy::Target,
            By::Key => GroupBy::Key,
            By::Team => GroupBy::Team,
        }
    }
}

/// The config file as far as this command cares: `[store]`, everything else ignored.
#[derive(Deserialize)]
struct StoreOnly {
    #[serde(default)]
    store: RawStoreConfig,
}

fn store_config(path: Option<&Path>) -> anyhow::Result<Result<StoreConfig, Vec<String>>> {
    let raw = match path {
        None => RawStoreConfig::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let file: StoreOnly =
                toml::from_str(&text).with_context(|| format!("{} is not valid", p.display()))?;
            file.store
        }
    };
    let mut issues = Vec::new();
    let config = validate(&raw, &|k| std::env::var(k).ok(), &mut issues);
    if issues.is_empty() {
        Ok(Ok(config))
    } else {
        Ok(Err(issues
            .into_iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()))
    }
}

pub async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = match store_config(args.config.as_deref())? {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                eprintln!("  error: {i}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let location = match config.kind {
        StoreKind::Sqlite => {
            let path = config.sqlite_path();
            if !path.exists() {
                println!("no records yet: {} does not exist", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            format!("sqlite {}", path.display())
        }
        StoreKind::Postgres => "postgres".to_owned(),
        StoreKind::Memory => bail!("[store] kind = \"memory\" keeps no records to report on"),
    };
    let store = records::open(&config, &modelmux_core::Tasks::new())
        .await
        .with_context(|| format!("cannot open the record store ({location})"))?;
    let since = SystemTime::now()
        .checked_sub(args.since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let by = GroupBy::from(args.by);
    let rows = store.report(by, since).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "records in {location} since {} (last {}), by {}",
            humantime::format_rfc3339_seconds(since),
            humantime::format_duration(args.since),
            by.name()
        );
        print!("{}", render(by, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The table: one line per group, then the totals.
fn render(by: GroupBy, rows: &[ReportRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no requests in this window\n");
        return out;
    }
    let width = rows
        .iter()
        .map(|r| r.group.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 48);
    let _ = writeln!(
        out,
        "{:<width$}  {:>8}  {:>12}  {:>7}  {:>7}  {:>8}  {:>8}  {:>7}  {:>9}",
        by.name(),
        "requests",
        "cost USD",
        "p50 ms",
        "p95 ms",
        "p50 ttft",
        "p95 ttft",
        "errors",
        "fallbacks"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<width$}  {:>8}  {:>12.6}  {:>7}  {:>7}  {:>8}  {:>8}  {:>7}  {:>9}",
            r.group,
            r.requests,
            r.cost_usd,
            r.p50_latency_ms,
            r.p95_latency_ms,
            ms(r.p50_ttft_ms),
            ms(r.p95_ttft_ms),
            percent(r.error_rate),
            percent(r.fallback_rate)
        );
    }
    let requests: u64 = rows.iter().map(|r| r.requests).sum();
    let cost: f64 = rows.iter().map(|r| r.cost_usd).sum();
    let weighted = |f: fn(&ReportRow) -> f64| {
        rows.iter().map(|r| f(r) * r.requests as f64).sum::<f64>() / requests.max(1) as f64
    };
    let _ = writeln!(
        out,
        "{:<width$}  {:>8}  {:>12.6}  {:>7}  {:>7}  {:>8}  {:>8}  {:>7}  {:>9}",
        "total",
        requests,
        cost,
        "",
        "",
        "",
        "",
        percent(weighted(|r| r.error_rate)),
        percent(weighted(|r| r.fallback_rate))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_line_per_group_and_totals() {
        let row = |g: &str, n, err| ReportRow {
            group: g.into(),
            requests: n,
            cost_usd: 0.5,
            p50_latency_ms: 120,
            p95_latency_ms: 900,
            p50_ttft_ms: Some(80),
            p95_ttft_ms: None,
            error_rate: err,
            fallback_rate: 0.0,
        };
        let text = render(GroupBy::Route, &[row("chat", 3, 0.0), row("code", 1, 1.0)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("route") && lines[0].contains("fallbacks"));
        assert!(lines[1].starts_with("chat") && lines[1].contains("0.500000"));
        assert!(lines[1].contains("120") && lines[1].contains("80"));
        assert!(lines[3].starts_with("total") && lines[3].contains("1.000000"));
        assert!(lines[3].contains("25.0%"), "{text}");
        assert_eq!(render(GroupBy::Key, &[]), "no requests in this window\n");
    }

    #[test]
    fn only_the_store_table_is_read() {
        let dir = std::env::temp_dir().join(format!("mmx-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[providers.openai]\nkind = \"openai\"\napi_key = \"${UNSET_KEY_FOR_REPORT}\"\n\
             [store]\ndata_dir = \"/srv/mm\"\n",
        )
        .unwrap();
        let c = store_config(Some(&file)).unwrap().unwrap();
        assert_eq!(c.sqlite_path(), PathBuf::from("/srv/mm/records.sqlite"));
        std::fs::write(&file, "[store]\nkind = \"mongo\"\n").unwrap();
        let issues = store_config(Some(&file)).unwrap().unwrap_err();
        assert!(issues[0].starts_with("store.kind"), "{issues:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
