//! The native rule evaluator against the `cel` interpreter: random expressions from the
//! subset it models, over random features, must give the interpreter's boolean whenever the
//! native evaluator answers at all; and the expressions policy rules typically use must be
//! answered natively.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use modelmux_core::features::Features;
use modelmux_core::policy;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn interpret(program: &cel::Program, f: &Features) -> Result<cel::Value, String> {
    let mut ctx = cel::Context::with_env(Arc::new(cel::Env::stdlib()));
    ctx.set_variable_resolver(f);
    program.execute(&ctx).map_err(|e| e.to_string())
}

/// Native and interpreter agree on `expr` over `f`; returns whether native answered.
fn agree(expr: &str, f: &Features) -> Result<bool, TestCaseError> {
    let Ok(program) = cel::Program::compile(expr) else {
        return Ok(false);
    };
    let node = policy::compile(&program);
    prop_assert!(
        node.is_some(),
        "{expr} is in the subset but did not compile"
    );
    let native = node.and_then(|n| n.eval_bool(f));
    let interp = interpret(&program, f);
    if let Some(b) = native {
        prop_assert_eq!(
            interp.clone(),
            Ok(cel::Value::Bool(b)),
            "{} over {:?}",
            expr,
            f
        );
    }
    Ok(native.is_some())
}

/// Every variable a rule may use.
const VARS: &[&str] = modelmux_core::features::VARIABLES;

const WORDS: &[&str] = &["", "a", "support", "billing", "gpt-4o", "Ü", "team-a", "x"];

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "1000",
            "2000",
            "9223372036854775807",
            "-9223372036854775807",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec!["0u", "1u", "1000u", "18446744073709551615u"])
            .prop_map(str::to_owned),
        prop::sample::select(vec!["0.0", "1.5", "-2.5", "1000.0", "1e300", "-0.0"])
            .prop_map(str::to_owned),
        prop::sample::select(WORDS.to_vec()).prop_map(|w| format!("{w:?}")),
        prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_owned),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    let var = prop::sample::select(VARS.to_vec()).prop_map(str::to_owned);
    let word = prop::sample::select(WORDS.to_vec());
    prop_oneof![
        3 => var.clone(),
        3 => literal(),
        1 => var.clone().prop_map(|v| format!("size({v})")),
        1 => var.clone().prop_map(|v| format!("{v}.size()")),
        1 => word.clone().prop_map(|w| format!("metadata[{w:?}]")),
        1 => prop::sample::select(vec!["a", "team", "x"]).prop_map(|w| format!("metadata.{w}")),
        1 => prop::sample::select(vec!["0", "1", "-1", "0u", "5"])
            .prop_map(|i| format!("tags[{i}]")),
        1 => var.prop_map(|v| format!("{v}[\"a\"]")),
    ]
}

fn list() -> impl Strategy<Value = String> {
    prop::collection::vec(literal(), 0..4).prop_map(|l| format!("[{}]", l.join(", ")))
}

fn boolean() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let strfn = prop::sample::select(vec!["startsWith", "endsWith", "contains"]);
    let leaf = prop_oneof![
        4 => (scalar(), op, scalar()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        2 => (scalar(), list()).prop_map(|(a, l)| format!("{a} in {l}")),
        1 => scalar().prop_map(|a| format!("{a} in tags")),
        1 => scalar().prop_map(|a| format!("{a} in metadata")),
        1 => (scalar(), scalar()).prop_map(|(a, b)| format!("{a} in {b}")),
        1 => prop::sample::select(vec!["a", "team", "x"]).prop_map(|w| format!("has(metadata.{w})")),
        1 => (scalar(), strfn, scalar()).prop_map(|(a, f, b)| format!("{a}.{f}({b})")),
        1 => scalar(),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
}

fn features() -> impl Strategy<Value = Features> {
    let word = || prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned);
    let tokens = prop::sample::select(vec![0u64, 5, 1000, 1500, 2000, u64::MAX]);
    let budget = prop::sample::select(vec![0.0, 1.5, -2.5, 1000.0, f64::NAN, f64::INFINITY]);
    (
        (
            word(),
            tokens.clone(),
            prop::option::of(tokens.clone()),
            tokens,
        ),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (
            prop::sample::select(vec!["", "auto", "none", "required"]),
            prop::sample::select(vec!["", "text", "json_schema"]),
        ),
        prop::collection::vec(word(), 0..4),
        prop::collection::vec((prop::sample::select(vec!["a", "team", "x"]), word()), 0..4),
        (
            prop::option::of(word()),
            prop::option::of(word()),
            prop::option::of(word()),
            prop::option::of(budget),
        ),
        prop::sample::select(vec![0u64, 1, 2, 3, 1000, u64::MAX]),
    )
        .prop_map(
            |(
                (requested, input_tokens, max_output, messages),
                (images, tools, reasoning, stream),
                (tool_choice, output_format),
                tags,
                metadata,
                (key, team, intent, budget_remaining),
                episode_turn,
            )| Features {
                requested,
                format: "openai_chat",
                input_tokens,
                max_output,
                messages,
                images,
                tools,
                tool_choice,
                output_format,
                reasoning,
                stream,
                tags,
                metadata: metadata
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                key,
                team,
                intent,
                budget_remaining,
                episode_turn,
                expected_output: 1024,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn native_agrees_with_the_interpreter(expr in boolean(), f in features()) {
        agree(&expr, &f)?;
    }
}

/// Typical rules are answered natively, with the interpreter's answer.
#[test]
fn typical_rules_are_answered_natively() {
    let f = Features {
        requested: "support".into(),
        format: "openai_chat",
        input_tokens: 1200,
        max_output: Some(300),
        messages: 2,
        stream: true,
        tags: vec!["beta".into(), "eu".into()],
        metadata: vec![("team".into(), "growth".into())],
        key: Some("k1".into()),
        intent: Some("billing".into()),
        budget_remaining: Some(2.5),
        episode_turn: 3,
        expected_output: 1024,
        ..Features::default()
    };
    let cases = [
        (
            r#"requested == "support" && intent == "billing" && input_tokens < 2000 && !images"#,
            true,
        ),
        (
            r#"requested == "support" && intent == "x1" && input_tokens < 1001"#,
            false,
        ),
        ("input_tokens > 100000 || max_output >= 300", true),
        ("max_output > 4096", false),
        (r#""beta" in tags && "team" in metadata"#, true),
        (
            r#"metadata.team == "growth" && metadata["team"].startsWith("gro")"#,
            true,
        ),
        (r#"has(metadata.region)"#, false),
        (r#"intent in ["billing", "refund"]"#, true),
        ("size(tags) == 2 && tags.size() >= 1u", true),
        ("budget_remaining < 5 && budget_remaining > 1.0", true),
        ("episode_turn == 1", false),
        ("episode_turn > 1 && episode_turn <= 3u", true),
        (
            r#"team == null && key != null && requested.endsWith("port")"#,
            true,
        ),
        ("stream ? messages > 1 : false", true),
        (
            r#"tool_choice == "" && output_format != "json_schema" && !tools && !reasoning"#,
            true,
        ),
        (
            r#"format == "openai_chat" && requested.contains("pp")"#,
            true,
        ),
        ("input_tokens >= -1 && messages <= 2u", true),
    ];
    for (expr, want) in cases {
        let program = cel::Program::compile(expr).unwrap();
        let node = policy::compile(&program).unwrap_or_else(|| panic!("{expr} not compiled"));
        assert_eq!(node.eval_bool(&f), Some(want), "{expr}");
        assert_eq!(
            interpret(&program, &f),
            Ok(cel::Value::Bool(want)),
            "{expr}"
        );
    }
}

/// Where the interpreter fails, the native evaluator does not answer (the rule then runs in
/// the interpreter, which gives the error note).
#[test]
fn errors_are_left_to_the_interpreter() {
    let f = Features::default();
    for expr in [
        "max_output < 100",
        r#"metadata.missing == "x""#,
        "tags[0] == \"a\"",
        "requested",
        "!input_tokens",
        "key.startsWith(\"a\")",
        "budget_remaining > 1.0 && true",
    ] {
        let program = cel::Program::compile(expr).unwrap();
        let node = policy::compile(&program).unwrap();
        assert_eq!(node.eval_bool(&f), None, "{expr}");
        assert!(
            !matches!(interpret(&program, &f), Ok(cel::Value::Bool(_))),
            "{expr}"
        );
    }
    // Absorbed errors are answered: false && error, error && false, true || error.
    for (expr, want) in [
        ("images && max_output < 100", false),
        ("max_output < 100 && images", false),
        ("!images || max_output < 100", true),
        ("max_output < 100 || !images", true),
    ] {
        let program = cel::Program::compile(expr).unwrap();
        let node = policy::compile(&program).unwrap();
        assert_eq!(node.eval_bool(&f), Some(want), "{expr}");
        assert_eq!(
            interpret(&program, &f),
            Ok(cel::Value::Bool(want)),
            "{expr}"
        );
    }
}

/// Expressions outside the subset are not compiled (they run in the interpreter).
#[test]
fn outside_the_subset_is_not_compiled() {
    for expr in [
        "tags.exists(t, t == \"a\")",
        "input_tokens + 1 > 2",
        "requested.matches(\"^a\")",
        "tags == [\"a\"]",
        "int(budget_remaining) > 1",
    ] {
        let program = cel::Program::compile(expr).unwrap();
        assert!(policy::compile(&program).is_none(), "{expr}");
    }
}

/// The differential test means something only if the native evaluator answers often: over
/// a fixed sample, nearly every expression the interpreter answers with a boolean must be
/// answered natively, true and false alike (with the same answer).
#[test]
#[allow(clippy::print_stderr, reason = "the counts help when the bounds fail")]
fn the_native_evaluator_answers_most_generated_expressions() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut answered, mut truths, mut total, mut missed) = (0, 0, 0, 0);
    for _ in 0..2000 {
        let expr = boolean().new_tree(&mut runner).unwrap().current();
        let f = features().new_tree(&mut runner).unwrap().current();
        let Ok(program) = cel::Program::compile(&expr) else {
            continue;
        };
        total += 1;
        let native = policy::compile(&program).and_then(|n| n.eval_bool(&f));
        let interp = interpret(&program, &f);
        if let Some(b) = native {
            assert_eq!(interp, Ok(cel::Value::Bool(b)), "{expr} over {f:?}");
            answered += 1;
            truths += usize::from(b);
        } else if matches!(interp, Ok(cel::Value::Bool(_))) {
            // Left to the interpreter though it gives a boolean (list or map equality).
            missed += 1;
        }
    }
    eprintln!("{total} parsed, {answered} answered ({truths} true), {missed} missed");
    assert!(total > 1900, "{total} of 2000 parsed");
    // Random expressions mix types freely, so the interpreter fails on many of them; of
    // those it answers with a boolean, nearly all must be answered natively.
    assert!(answered * 5 > total, "{answered} of {total} answered");
    assert!(truths * 5 > answered, "{truths} of {answered} true");
    assert!(
        missed * 10 < answered,
        "{missed} left to the interpreter needlessly, {answered} answered"
    );
}
