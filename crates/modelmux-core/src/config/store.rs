//! The `[store]` config section: where records go, how the writer batches them, what is
//! redacted, and which routes capture prompts and answers.
//!
//! ```toml
//! [store]
//! kind = "sqlite"                 # sqlite (default) | postgres | memory
//! data_dir = "./modelmux-data"    # default: $MODELMUX_DATA_DIR or ./modelmux-data;
//!                                 # holds records.sqlite and the spill file
//! url = "${DATABASE_URL}"         # postgres only; default: $DATABASE_URL
//! schema = "modelmux"             # postgres only; default: the connection's search_path
//! capture = ["support"]           # routes whose prompt and answer are kept (off elsewhere)
//! redact = ["\\b\\d{3}-\\d{2}-\\d{4}\\b"]   # extra patterns; API keys and bearer tokens always
//! batch_size = 64                 # records per write (smaller batches, shorter stalls)
//! flush_interval = "100ms"        # longest a record waits in a partial batch
//! queue = 8192                    # bounded channel between the request path and the writer
//! write_timeout = "5s"            # a write slower than this counts as an outage → spill
//! retry_interval = "1s"           # how often the spill is replayed while the store is down
//! ```

use std::path::PathBuf;
use std::time::Duration;

use regex_lite::Regex;
use serde::Deserialize;

use super::ConfigIssue;
use super::duration::DurationSpec;
use super::interpolate::expand;
use crate::secret::Secret;

/// `[store]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {
    pub kind: Option<String>,
    pub data_dir: Option<String>,
    pub url: Option<String>,
    pub schema: Option<String>,
    #[serde(default)]
    pub capture: Vec<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    pub batch_size: Option<u32>,
    pub flush_interval: Option<DurationSpec>,
    pub queue: Option<u32>,
    pub write_timeout: Option<DurationSpec>,
    pub retry_interval: Option<DurationSpec>,
}

/// Which backend holds the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// An embedded SQLite file in `data_dir` (WAL mode). Nothing to install.
    #[default]
    Sqlite,
    /// PostgreSQL at `url`, shared by several instances.
    Postgres,
    /// In process only, gone at exit (tests, demos).
    Memory,
}

impl StoreKind {
    pub const NAMES: [(&'static str, StoreKind); 3] = [
        ("sqlite", StoreKind::Sqlite),
        ("postgres", StoreKind::Postgres),
        ("memory", StoreKind::Memory),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Memory => "memory",
        }
    }
}

/// `[store]` validated.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// The SQLite file (`records.sqlite`) and the spill file (`spill.jsonl`) live here.
    pub data_dir: PathBuf,
    /// PostgreSQL connection string (may hold a password, hence `Secret`).
    pub url: Option<Secret>,
    /// PostgreSQL schema for the tables; created when missing.
    pub schema: Option<String>,
    /// Routes whose prompt and answer are captured (redacted) in their records.
    pub capture: Vec<String>,
    /// Extra redaction patterns, applied after the built-in secret shapes.
    pub redact: Vec<Regex>,
    /// Records per write. The writer shares the gateway's cores: a batch of 256 stalled
    /// requests long enough to double the p99 at 2,000 req/s; 64 costs ~4 % more CPU at
    /// saturation (bench/RESULTS.md).
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub queue: usize,
    pub write_timeout: Duration,
    pub retry_interval: Duration,
}

pub const DEFAULT_DATA_DIR: &str = "./modelmux-data";

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: StoreKind::Sqlite,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            url: None,
            schema: None,
            capture: Vec::new(),
            redact: Vec::new(),
            batch_size: 64,
            flush_interval: Duration::from_millis(100),
            queue: 8192,
            write_timeout: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
        }
    }
}

impl StoreConfig {
    /// An SQLite store in `dir`, other settings at their defaults.
    pub fn sqlite(dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: dir.into(),
            ..Self::default()
        }
    }

    /// Whether requests on `route` keep their prompt and answer (`[store] capture`).
    pub fn captures(&self, route: &str) -> bool {
        self.capture.iter().any(|r| r == route)
    }

    /// Issues for `[store] capture` entries that name no route; `validate` cannot see the
    /// routes, so whoever holds both calls this.
    pub fn check_capture_routes<'a>(
        &self,
        routes: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<ConfigIssue> {
        self.capture
            .iter()
            .enumerate()
            .filter(|(_, c)| !routes.clone().into_iter().any(|r| r == c.as_str()))
            .map(|(i, c)| ConfigIssue {
                path: format!("store.capture[{i}]"),
                message: format!("unknown route {c:?}"),
            })
            .collect()
    }

    /// The SQLite database file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("records.sqlite")
    }

    /// The append-only spill file.
    pub fn spill_path(&self) -> PathBuf {
        self.data_dir.join("spill.jsonl")
    }
}

pub fn validate(
    raw: &RawStoreConfig,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<ConfigIssue>,
) -> StoreConfig {
    let mut add = |path: &str, message: String| {
        issues.push(ConfigIssue {
            path: format!("store.{path}"),
            message,
        });
    };
    let text = |path: &str, s: &str, add: &mut dyn FnMut(&str, String)| match expand(s, env) {
        Ok(v) => Some(v),
        Err(e) => {
            add(path, e);
            None
        }
    };
    let d = StoreConfig::default();
    let kind = match raw.kind.as_deref() {
        None => StoreKind::Sqlite,
        Some(k) => match StoreKind::NAMES.iter().find(|(n, _)| *n == k) {
            Some((_, kind)) => *kind,
            None => {
                add(
                    "kind",
                    format!("unknown store kind {k:?}; expected sqlite, postgres or memory"),
                );
                StoreKind::Sqlite
            }
        },
    };
    let data_dir = match &raw.data_dir {
        Some(s) => text("data_dir", s, &mut add).unwrap_or_default(),
        None => env("MODELMUX_DATA_DIR").unwrap_or_default(),
    };
    let data_dir = if data_dir.trim().is_empty() {
        PathBuf::from(DEFAULT_DATA_DIR)
    } else {
        PathBuf::from(data_dir)
    };
    let url = match &raw.url {
        Some(s) => text("url", s, &mut add),
        None => env("DATABASE_URL"),
    }
    .filter(|u| !u.is_empty());
    if kind == StoreKind::Postgres {
        match &url {
            None => add(
                "url",
                "kind = \"postgres\" needs url (or DATABASE_URL in the environment)".into(),
            ),
            Some(u) if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) => add(
                "url",
                "expected a postgres:// or postgresql:// connection string".into(),
            ),
            Some(_) => {}
        }
    }
    let schema = raw.schema.clone().filter(|s| !s.is_empty());
    if let Some(s) = &schema
        && !valid_identifier(s)
    {
        add(
            "schema",
            format!("{s:?} is not a plain identifier (letters, digits, '_')"),
        );
    }
    let mut redact = Vec::new();
    for (i, p) in raw.redact.iter().enumerate() {
        match Regex::new(p) {
            Ok(re) => redact.push(re),
            Err(e) => add(
                &format!("redact[{i}]"),
                format!("not a valid regular expression: {e}"),
            ),
        }
    }
    for (i, c) in raw.capture.iter().enumerate() {
        if c.trim().is_empty() {
            add(&format!("capture[{i}]"), "must not be empty".into());
        }
    }
    let positive =
        |v: Option<u32>, dflt: usize, path: &str, add: &mut dyn FnMut(&str, String)| match v {
            None => dflt,
            Some(0) => {
                add(path, "must be at least 1".into());
                dflt
            }
            Some(n) => n as usize,
        };
    let batch_size = positive(raw.batch_size, d.batch_size, "batch_size", &mut add);
    let queue = positive(raw.queue, d.queue, "queue", &mut add);
    let mut dur = |v: Option<DurationSpec>, dflt: Duration, path: &str| match v {
        None => dflt,
        Some(DurationSpec(x)) if x.is_zero() => {
            add(path, "must be greater than zero".into());
            dflt
        }
        Some(DurationSpec(x)) => x,
    };
    StoreConfig {
        kind,
        data_dir,
        url: url.map(Secret::new),
        schema,
        capture: raw.capture.clone(),
        redact,
        batch_size,
        flush_interval: dur(raw.flush_interval, d.flush_interval, "flush_interval"),
        queue,
        write_timeout: dur(raw.write_timeout, d.write_timeout, "write_timeout"),
        retry_interval: dur(raw.retry_interval, d.retry_interval, "retry_interval"),
    }
}

/// A PostgreSQL identifier safe to splice into DDL unquoted.
pub(crate) fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str, env: &[(&str, &str)]) -> (StoreConfig, Vec<ConfigIssue>) {
        let raw: RawStoreConfig = toml::from_str(toml_text).unwrap();
        let env = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut issues = Vec::new();
        let c = validate(&raw, &env, &mut issues);
        (c, issues)
    }

    #[test]
    fn defaults_are_sqlite_in_the_data_dir() {
        let (c, issues) = parse("", &[]);
        assert!(issues.is_empty());
        assert_eq!(c.kind, StoreKind::Sqlite);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.batch_size, 64);
        let (c, _) = parse("", &[("MODELMUX_DATA_DIR", "/srv/mm")]);
        assert_eq!(c.sqlite_path(), PathBuf::from("/srv/mm/records.sqlite"));
    }

    #[test]
    fn postgres_takes_the_url_from_the_environment() {
        let (c, issues) = parse(
            "kind = \"postgres\"",
            &[("DATABASE_URL", "postgres://u@h/db")],
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(c.url.unwrap().expose(), "postgres://u@h/db");
        let (_, issues) = parse("kind = \"postgres\"", &[]);
        assert_eq!(issues[0].path, "store.url");
    }

    #[test]
    fn errors_name_their_path() {
        let (_, issues) = parse(
            "kind = \"mongo\"\nredact = [\"(\"]\nbatch_size = 0\nflush_interval = \"0s\"\nschema = \"a;b\"",
            &[],
        );
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "store.kind",
                "store.schema",
                "store.redact[0]",
                "store.batch_size",
                "store.flush_interval"
            ]
        );
    }

    #[test]
    fn capture_is_per_route_and_checked_against_routes() {
        let (c, _) = parse("capture = [\"support\", \"typo\"]", &[]);
        assert!(c.captures("support") && !c.captures("chat"));
        let issues = c.check_capture_routes(["support", "chat"]);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "store.capture[1]");
    }
}
