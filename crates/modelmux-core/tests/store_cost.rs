//! Cost in records: each provider's usage shape, read through the wire crate into the
//! canonical `Usage` (input includes cache, output includes reasoning), priced with the
//! built-in catalog, equals a hand-computed figure; the record keeps the catalog version, and
//! the store's report sums the costs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod store_support;

use std::time::{Duration, SystemTime};

use modelmux_core::catalog::{Catalog, Price};
use modelmux_core::records::{GroupBy, Record, Store};
use modelmux_wire::Usage;
use store_support::{TempDir, record};

fn price(family: &str, model: &str) -> Price {
    Catalog::builtin()
        .models
        .iter()
        .find(|e| e.family == family && e.model == model)
        .unwrap_or_else(|| panic!("{family}/{model} is not in the catalog"))
        .price
}

fn priced(id: &str, usage: Usage, p: &Price) -> Record {
    let mut r = record(id);
    r.price(usage, Some(p), &Catalog::builtin().version);
    r
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

fn openai_usage(json: &str) -> Usage {
    serde_json::from_str::<modelmux_wire::openai::OpenAiUsage>(json)
        .unwrap()
        .to_canonical()
}

#[test]
fn openai_cached_tokens_are_priced_at_the_cache_rate() {
    // gpt-4o: 2.50 in, 10.00 out, 1.25 cached.
    let p = price("openai", "gpt-4o");
    assert_eq!((p.input, p.output, p.cache_read), (2.5, 10.0, Some(1.25)));
    let u = openai_usage(
        r#"{"prompt_tokens":2000,"completion_tokens":300,"total_tokens":2300,
            "prompt_tokens_details":{"cached_tokens":1500}}"#,
    );
    let r = priced("oa", u, &p);
    assert_eq!((r.tokens.input, r.tokens.cache_read), (2000, 1500));
    // 500 plain × 2.50 + 1500 cached × 1.25 + 300 × 10.00, per million.
    close(r.cost_usd.unwrap(), 0.006_125);
    assert_eq!(
        r.catalog_version.as_deref(),
        Some(Catalog::builtin().version.as_str())
    );
}

#[test]
fn o_series_reasoning_tokens_are_priced_as_output() {
    // o4-mini: 1.10 in, 4.40 out.
    let p = price("openai", "o4-mini");
    let u = openai_usage(
        r#"{"prompt_tokens":1000,"completion_tokens":2000,
            "completion_tokens_details":{"reasoning_tokens":1500}}"#,
    );
    let r = priced("o", u, &p);
    assert_eq!((r.tokens.output, r.tokens.reasoning), (2000, 1500));
    // 1000 × 1.10 + 500 visible × 4.40 + 1500 reasoning × 4.40.
    close(r.cost_usd.unwrap(), 0.0099);
}

#[test]
fn anthropic_cache_writes_and_reads_are_priced_apart() {
    // claude-sonnet-4-5: 3.00 in, 15.00 out, 0.30 cache read, 3.75 cache write.
    let p = price("anthropic", "claude-sonnet-4-5");
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
        "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,
        "usage":{"input_tokens":200,"output_tokens":500,
                 "cache_read_input_tokens":10000,"cache_creation_input_tokens":2000}}"#;
    let u = modelmux_wire::anthropic::response_from_anthropic(body)
        .unwrap()
        .usage;
    let r = priced("an", u, &p);
    // Canonical input counts every prompt token: 200 + 10000 + 2000.
    assert_eq!(r.tokens.input, 12_200);
    // 200 × 3.00 + 10000 × 0.30 + 2000 × 3.75 + 500 × 15.00.
    close(r.cost_usd.unwrap(), 0.0186);
}

#[test]
fn gemini_thoughts_are_output_and_cached_content_is_a_cache_read() {
    // gemini-2.5-flash: 0.30 in, 2.50 out, 0.075 cached.
    let p = price("gemini", "gemini-2.5-flash");
    let body = br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},
        "finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":1000,"candidatesTokenCount":200,
        "thoughtsTokenCount":800,"cachedContentTokenCount":400,"totalTokenCount":2000},
        "modelVersion":"gemini-2.5-flash"}"#;
    let u = modelmux_wire::gemini::response_from_gemini(body)
        .unwrap()
        .usage;
    let r = priced("ge", u, &p);
    assert_eq!(
        (
            r.tokens.input,
            r.tokens.output,
            r.tokens.reasoning,
            r.tokens.cache_read
        ),
        (1000, 1000, 800, 400)
    );
    // 600 × 0.30 + 400 × 0.075 + 200 × 2.50 + 800 thoughts × 2.50.
    close(r.cost_usd.unwrap(), 0.002_71);
}

#[test]
fn an_unpriced_target_has_no_cost_rather_than_zero() {
    let mut r = record("np");
    r.price(
        Usage {
            input: 10,
            output: 10,
            ..Usage::default()
        },
        None,
        "v",
    );
    assert_eq!(r.cost_usd, None);
    assert_eq!(r.catalog_version, None);
    assert_eq!(r.tokens.input, 10);
}

#[tokio::test]
async fn the_report_sums_the_recorded_costs() {
    let dir = TempDir::new("cost");
    let store = store_support::sqlite(&dir).await;
    let usage = Usage {
        input: 2000,
        output: 300,
        cache_read: 1500,
        ..Usage::default()
    };
    let p = price("openai", "gpt-4o");
    let records: Vec<Record> = (0..4)
        .map(|i| priced(&format!("c-{i}"), usage, &p))
        .collect();
    store.write(&records).await.unwrap();
    let rows = store
        .report(GroupBy::Route, SystemTime::now() - Duration::from_secs(60))
        .await
        .unwrap();
    close(rows[0].cost_usd, 4.0 * 0.006_125);
    let back = store.get("c-0").await.unwrap().unwrap();
    assert_eq!(back.catalog_version, records[0].catalog_version);
}
