//! The routing decision for a typical request with 20 policy rules and 10 targets: scoring
//! the features, classifying the intent, evaluating the rules (the matching one last), the
//! capability filter, health and the strategy. Target (issue 4): under 5 µs median and 20 µs
//! p99. Also the decode of a typical Chat Completions body, which precedes it.

#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use modelmux_core::config::ConfigSource;
use modelmux_core::health::Health;
use modelmux_core::ingress::Inbound;
use modelmux_core::intent::RuleClassifier;
use modelmux_core::{Config, policy, routing};
use modelmux_wire::WireFormat;

fn config() -> Config {
    let mut toml =
        String::from("[providers.a]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n");
    for i in 0..10 {
        toml.push_str(&format!(
            "[providers.a.models.m{i}]\ncontext_window = 128000\nmax_output_tokens = 16384\ncapabilities = [\"tools\", \"vision\", \"json_schema\", \"streaming\"]\ninput_price = {}\noutput_price = {}\n",
            0.1 * (i + 1) as f64,
            0.4 * (i + 1) as f64
        ));
    }
    let targets: Vec<String> = (0..10).map(|i| format!("\"a/m{i}\"")).collect();
    toml.push_str(&format!(
        "[[routes]]\nname = \"support\"\ntargets = [{}]\nstrategy = \"cheapest\"\n",
        targets.join(", ")
    ));
    toml.push_str(&format!(
        "[[routes]]\nname = \"faq\"\ntargets = [{}]\nstrategy = \"cheapest\"\n",
        targets.join(", ")
    ));
    toml.push_str("[[intents]]\nname = \"billing\"\nkeywords = [\"invoice\", \"refund\", \"charge\", \"payment\"]\n");
    toml.push_str(
        "[[intents]]\nname = \"policy\"\npatterns = ['(?i)\\b(privacy|gdpr|legal)\\b']\n",
    );
    // 19 rules that do not match this request, then the one that does.
    for i in 0..19 {
        toml.push_str(&format!("[[rules]]\nname = \"r{i}\"\nwhen = 'requested == \"support\" && intent == \"x{i}\" && input_tokens < {}'\nroute = \"faq\"\n", 1000 + i));
    }
    toml.push_str("[[rules]]\nname = \"billing-faq\"\nwhen = 'requested == \"support\" && intent == \"billing\" && input_tokens < 2000 && !images'\nroute = \"faq\"\n");
    Config::from_toml(&toml, ConfigSource::Inline, &|_| None).unwrap()
}

const BODY: &str = r#"{"model":"support","messages":[{"role":"system","content":"You are a helpful support assistant for an online shop. Answer briefly."},{"role":"user","content":"Hi, I was charged twice for my last order. Can I get a refund for the second charge?"}],"temperature":0.3,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}"#;

fn bench(c: &mut Criterion) {
    let config = config();
    let rules = policy::Compiled::new(&config).unwrap();
    let health = Health::new(config.health);
    let classifier = RuleClassifier::new(config.intents.clone());
    let headers = HeaderMap::new();
    let outputs = modelmux_core::cost::OutputStats::new();
    let inputs = routing::Inputs {
        config: &config,
        rules: &rules,
        health: &health,
        classifier: &classifier,
        outputs: &outputs,
    };
    let inbound = Inbound::openai_chat(bytes::Bytes::from_static(BODY.as_bytes())).unwrap();
    let (plan, decision) = routing::decide(
        inputs,
        &inbound.summary,
        WireFormat::OpenAiChat,
        &headers,
        None,
    )
    .unwrap();
    assert_eq!(decision.rule.as_deref(), Some("billing-faq"));
    assert_eq!(plan.candidates.len(), 10);
    percentiles(&config, &rules, &health, &classifier, &inbound, &headers);
    c.bench_function("decision: 20 rules, 10 targets", |b| {
        b.iter(|| {
            routing::decide(
                inputs,
                &inbound.summary,
                WireFormat::OpenAiChat,
                &headers,
                None,
            )
            .unwrap()
        })
    });
    c.bench_function("decode: chat completions body", |b| {
        b.iter(|| Inbound::openai_chat(bytes::Bytes::from_static(BODY.as_bytes())).unwrap())
    });
    c.bench_function("decision + compact header", |b| {
        b.iter(|| {
            let (_, d) = routing::decide(
                inputs,
                &inbound.summary,
                WireFormat::OpenAiChat,
                &headers,
                None,
            )
            .unwrap();
            d.compact()
        })
    });
}

/// Times 100k decisions one by one and prints the median and p99 (criterion reports means
/// and medians of batches, not the tail of single decisions).
#[allow(clippy::print_stdout, reason = "benchmark output")]
fn percentiles(
    config: &Config,
    rules: &policy::Compiled,
    health: &Health,
    classifier: &RuleClassifier,
    inbound: &Inbound,
    headers: &HeaderMap,
) {
    const N: usize = 100_000;
    let outputs = modelmux_core::cost::OutputStats::new();
    let inputs = routing::Inputs {
        config,
        rules,
        health,
        classifier,
        outputs: &outputs,
    };
    let one = || {
        let t = std::time::Instant::now();
        let (_, d) = routing::decide(
            inputs,
            &inbound.summary,
            WireFormat::OpenAiChat,
            headers,
            None,
        )
        .unwrap();
        std::hint::black_box(d.compact());
        t.elapsed()
    };
    for _ in 0..N / 10 {
        one();
    }
    let mut times: Vec<std::time::Duration> = (0..N).map(|_| one()).collect();
    times.sort();
    let at = |q: f64| times[((N as f64 - 1.0) * q).round() as usize];
    println!(
        "decision + compact header, {N} single timings: median {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        at(0.999),
        times[N - 1]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
