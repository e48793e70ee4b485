//! Tests of `modelmux report` on a seeded SQLite file: table (80 columns), JSON (the same
//! numbers `GET /v1/analytics` serves), CSV, the CEL filter and bad flags.

use super::*;
use clap::Parser;
use modelmux_core::records::{Feedback, Record, SqliteStore, Store};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ReportArgs,
}

fn args(extra: &[&str], config: &Path) -> ReportArgs {
    let mut argv = vec![
        "report",
        "--config",
        config.to_str().unwrap(),
        "--since",
        "3650d",
    ];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().args
}

struct Seeded {
    dir: PathBuf,
    config: PathBuf,
}

impl Drop for Seeded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn record(id: &str, route: &str, ep: &str, cost: f64, lat: u64, failed: bool) -> Record {
    let mut r = Record::new(id, SystemTime::now() - Duration::from_secs(60));
    r.route = route.into();
    r.tenant = Some("key:k1".into());
    r.episode_id = Some(ep.into());
    r.cost_usd = Some(cost);
    r.latency_ms = lat;
    r.status = Some(if failed { 502 } else { 200 });
    if failed {
        r.error = Some("upstream".into());
    }
    r
}

fn fb(id: &str, ep: &str, value: f64) -> Feedback {
    Feedback {
        tenant: "key:k1".into(),
        id: id.into(),
        request_id: None,
        episode_id: Some(ep.into()),
        metric: "resolved".into(),
        value_num: Some(value),
        value_text: None,
        source: "user".into(),
        comment: None,
        tags: Vec::new(),
        time_ms: modelmux_core::records::record::to_unix_ms(SystemTime::now()),
    }
}

async fn seeded(tag: &str) -> Seeded {
    let dir = std::env::temp_dir().join(format!("mmx-report-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("records.sqlite"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut rows = Vec::new();
    for i in 0..6 {
        rows.push(record(
            &format!("a{i}"),
            "chat-with-a-rather-long-route-name",
            &format!("ea{}", i / 2),
            0.01,
            100 + i * 10,
            i == 5,
        ));
    }
    for i in 0..4 {
        rows.push(record(
            &format!("b{i}"),
            "cheap",
            &format!("eb{i}"),
            0.002,
            50,
            false,
        ));
    }
    store.write(&rows).await.unwrap();
    store
        .write_feedback(&[
            fb("f1", "ea0", 1.0),
            fb("f2", "ea1", 0.0),
            fb("f3", "eb0", 1.0),
            fb("f4", "eb1", 1.0),
            fb("f5", "nowhere", 1.0),
        ])
        .await
        .unwrap();
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\ndata_dir = \"{}\"\n[[metrics]]\nname = \"resolved\"\ntype = \"boolean\"\nlevel = \"episode\"\noptimize = \"max\"\n",
            dir.display()
        ),
    )
    .unwrap();
    Seeded { dir, config }
}

async fn text(s: &Seeded, extra: &[&str]) -> anyhow::Result<String> {
    let a = args(extra, &s.config);
    let setup = load(Some(&s.config)).unwrap().unwrap();
    Ok(produce(&a, &setup, SystemTime::now()).await?.unwrap())
}

#[tokio::test]
async fn table_json_and_csv_of_a_seeded_store() {
    let s = seeded("formats").await;
    let table = text(&s, &["--baseline", "cheap"]).await.unwrap();
    for line in table.lines() {
        assert!(
            line.chars().count() <= report_table::WIDTH,
            "too wide: {line:?}\n{table}"
        );
    }
    assert!(
        table.contains("== route chat-with-a-rather-long-route-name: 6 requests, 3 episodes"),
        "{table}"
    );
    assert!(table.contains("16.7 % ±"), "{table}");
    assert!(table.contains("(n=6)"), "{table}");
    assert!(
        table.contains("resolved") && table.contains("coverage"),
        "{table}"
    );
    assert!(table.contains("Δcost") && table.contains("p="), "{table}");
    assert!(
        table.contains("1 feedback values name no request"),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&text(&s, &["--format", "json"]).await.unwrap()).unwrap();
    let alias: serde_json::Value =
        serde_json::from_str(&text(&s, &["--json"]).await.unwrap()).unwrap();
    assert_eq!(json["groups"], alias["groups"]);
    let g = &json["groups"][0];
    assert_eq!(g["requests"], 6);
    assert_eq!(g["episodes"], 3);
    assert!((g["cost_usd"].as_f64().unwrap() - 0.06).abs() < 1e-9);
    // ea0 resolved, ea1 not, ea2 without feedback: 1 of 2, coverage 2 of 3.
    assert_eq!(g["metrics"][0]["estimate"]["mean"], 0.5);
    assert_eq!(g["metrics"][0]["covered"], 2);
    assert_eq!(json["orphan_feedback"], 1);

    let csv = text(&s, &["--format", "csv"]).await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("group,requests,episodes,cost_usd"));
    assert!(lines[0].contains("resolved_mean"));
    assert!(
        lines[1].starts_with("chat-with-a-rather-long-route-name,6,3,"),
        "{csv}"
    );
}

#[tokio::test]
async fn a_cel_filter_keeps_what_it_holds_for() {
    let s = seeded("filter").await;
    let json: serde_json::Value = serde_json::from_str(
        &text(
            &s,
            &["--json", "--filter", "route == \"cheap\" || status != 200"],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["group"], "cheap");
    assert_eq!(groups[0]["requests"], 4);
    assert_eq!(groups[1]["requests"], 1);
    let e = text(&s, &["--filter", "rout == \"x\""])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("filter") && e.contains("fields: route"), "{e}");
    let e = text(&s, &["--filter", "route =="])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not parse"), "{e}");
}

#[tokio::test]
async fn bad_values_are_clear_errors() {
    let s = seeded("bad").await;
    let e = text(&s, &["--metric", "nope"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown metric \"nope\"") && e.contains("resolved"),
        "{e}"
    );
    let e = text(&s, &["--baseline", "absent"])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("baseline \"absent\""), "{e}");
    let e = text(&s, &["--by", "experiment"])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no experiments configured"), "{e}");
    let cfg = s.config.to_str().unwrap();
    for bad in [
        &["--by", "colour"][..],
        &["--per", "week"],
        &["--format", "xml"],
    ] {
        let mut argv = vec!["report", "--config", cfg];
        argv.extend_from_slice(bad);
        let e = Cli::try_parse_from(argv).err().unwrap().to_string();
        assert!(
            e.contains("invalid value") && e.contains("possible values"),
            "{e}"
        );
    }
}

#[test]
fn only_store_and_metrics_are_read() {
    let dir = std::env::temp_dir().join(format!("mmx-report-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(
        &file,
        "[providers.openai]\nkind = \"openai\"\napi_key = \"${UNSET_KEY_FOR_REPORT}\"\n\
         [store]\ndata_dir = \"/srv/mm\"\n[[metrics]]\nname = \"thumbs\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\n",
    )
    .unwrap();
    let c = load(Some(&file)).unwrap().unwrap();
    assert_eq!(
        c.store.sqlite_path(),
        PathBuf::from("/srv/mm/records.sqlite")
    );
    assert_eq!(c.metrics.len(), 1);
    std::fs::write(&file, "[store]\nkind = \"mongo\"\n").unwrap();
    let issues = load(Some(&file)).unwrap().err().unwrap();
    assert!(issues[0].starts_with("store.kind"), "{issues:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
