//! `modelmux keys create|list|revoke|rotate`: virtual keys on the command line, in the same
//! key store the gateway reads (`[keys] file` of the config). Only the `[keys]` table is
//! read, so provider keys need not be in the environment. A created or rotated key is
//! printed once; the store keeps its hash. A running gateway sees the change within its
//! `reload_interval`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use modelmux_core::keys::{
    self, Budgets, Cap, KeySpec, KeyStore, KeysConfig, NewKey, StoredKey, manage,
};
use serde::Deserialize;

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Config file (TOML) whose `[keys] file` names the key store.
    #[arg(long, short, env = "MODELMUX_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once).
    Create(CreateArgs),
    /// List keys (never their values).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
    /// Give a key a new value (printed once); the old value stops working.
    Rotate { id: String },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub team: Option<String>,
    /// Route (or provider/model) glob the key may use; repeat it. None: every route.
    #[arg(long = "allow")]
    pub allowed: Vec<String>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm: Option<u64>,
    /// Hard daily budget in USD.
    #[arg(long)]
    pub daily: Option<f64>,
    #[arg(long)]
    pub daily_soft: Option<f64>,
    /// Hard monthly budget in USD.
    #[arg(long)]
    pub monthly: Option<f64>,
    #[arg(long)]
    pub monthly_soft: Option<f64>,
    /// Hard total budget in USD.
    #[arg(long)]
    pub total: Option<f64>,
    #[arg(long)]
    pub total_soft: Option<f64>,
}

pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let config = keys_config(args.config.as_deref())?;
    let store = keys::store_for(&config);
    match args.command {
        KeysCommand::Create(c) => {
            let k = manage::create(store.as_ref(), spec(c)).await?;
            print_new(&k, args.json);
        }
        KeysCommand::List => list(&store, args.json).await?,
        KeysCommand::Revoke { id } => {
            let k = manage::revoke(store.as_ref(), &id).await?;
            if args.json {
                println!("{}", keys::admin::view(&k));
            } else {
                println!("revoked {} ({})", k.info.id, k.info.name);
            }
        }
        KeysCommand::Rotate { id } => {
            let k = manage::rotate(store.as_ref(), &id).await?;
            print_new(&k, args.json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn spec(c: CreateArgs) -> KeySpec {
    let cap = |hard, soft| Cap { soft, hard };
    KeySpec {
        name: c.name,
        team: c.team,
        allowed: c.allowed,
        rpm: c.rpm,
        tpm: c.tpm,
        budgets: Budgets {
            daily: cap(c.daily, c.daily_soft),
            monthly: cap(c.monthly, c.monthly_soft),
            total: cap(c.total, c.total_soft),
        },
    }
}

/// The `[keys]` table of `path`, validated.
fn keys_config(path: Option<&Path>) -> anyhow::Result<KeysConfig> {
    let path = path.ok_or_else(|| {
        anyhow!("modelmux keys needs --config FILE (or MODELMUX_CONFIG) whose [keys] section names the key store")
    })?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    #[derive(Deserialize)]
    struct OnlyKeys {
        #[serde(default)]
        keys: Option<toml::Value>,
    }
    let only: OnlyKeys =
        toml::from_str(&text).with_context(|| format!("{}: invalid TOML", path.display()))?;
    let raw: keys::config::RawKeysConfig = match only.keys {
        Some(v) => v
            .try_into()
            .map_err(|e| anyhow!("{}: keys: {e}", path.display()))?,
        None => keys::config::RawKeysConfig::default(),
    };
    let mut issues = Vec::new();
    let config = keys::config::validate(&raw, &|k| std::env::var(k).ok(), &mut issues);
    if !issues.is_empty() {
        let text: Vec<String> = issues
            .iter()
            .map(|i| format!("{}: {}: {}", path.display(), i.path, i.message))
            .collect();
        bail!("{}", text.join("\n"));
    }
    if config.file.is_none() {
        bail!(
            "{}: [keys] names no `file`, so the gateway keeps keys in memory and this command cannot reach them. \
             Add `file = \"modelmux-keys.json\"` under [keys], or use the gateway's admin API (/admin/keys).",
            path.display()
        );
    }
    Ok(config)
}

fn print_new(k: &NewKey, json: bool) {
    if json {
        println!("{}", keys::admin::new_key_view(k));
        return;
    }
    let i = &k.stored.info;
    println!("id:   {}", i.id);
    println!("name: {}", i.name);
    println!("key:  {}", k.key.expose());
    println!();
    println!("Store this key now: modelmux keeps only its hash and cannot show it again.");
}

async fn list(store: &Arc<dyn KeyStore>, json: bool) -> anyhow::Result<()> {
    let all = store.list().await?;
    if json {
        let v: Vec<_> = all.iter().map(keys::admin::view).collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    if all.is_empty() {
        println!("no keys");
        return Ok(());
    }
    println!(
        "{:<18} {:<20} {:<12} {:<10} {:>6} {:>9}  {:<28} allowed",
        "id", "name", "team", "hint", "rpm", "tpm", "budgets (hard)"
    );
    for k in &all {
        println!("{}", row(k));
    }
    Ok(())
}

fn row(k: &StoredKey) -> String {
    let i = &k.info;
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let budgets: Vec<String> = keys::Period::ALL
        .iter()
        .filter_map(|p| i.budgets.cap(*p).hard.map(|h| format!("{} ${h}", p.name())))
        .collect();
    let hint: String = k.hint.chars().skip(5).collect();
    format!(
        "{:<18} {:<20} {:<12} {:<10} {:>6} {:>9}  {:<28} {}{}",
        i.id,
        i.name,
        dash(i.team.clone()),
        format!("…{hint}"),
        dash(i.rpm.map(|v| v.to_string())),
        dash(i.tpm.map(|v| v.to_string())),
        if budgets.is_empty() {
            "-".into()
        } else {
            budgets.join(", ")
        },
        if i.allowed.is_empty() {
            "*".into()
        } else {
            i.allowed.join(",")
        },
        if i.revoked { "  (revoked)" } else { "" },
    )
}
