//! Config errors name their exact path, `${VAR}` interpolation works, and settings resolve
//! with route values over `[router]` defaults over built-in defaults.

use std::time::Duration;

use modelmux_core::Config;
use modelmux_core::config::ConfigSource;

fn parse(toml: &str) -> Result<Config, String> {
    let env = |k: &str| match k {
        "KEY" => Some("sk-from-env".to_owned()),
        _ => None,
    };
    let config = Config::from_toml(toml, ConfigSource::Inline, &env).map_err(|e| e.to_string())?;
    // Rules are compiled where the gateway compiles them (the app state, `modelmux check`).
    modelmux_core::policy::Compiled::new(&config).map_err(|e| e.to_string())?;
    Ok(config)
}

const BASE: &str = "[providers.openai]\nkind = \"openai\"\napi_key = \"${KEY}\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\n";

#[test]
fn errors_name_their_path() {
    let cases = [
        (
            "[server]\nlisten = \"nowhere\"",
            "server.listen: expected an address",
        ),
        ("[server]\nlisten = 5", "server.listen: invalid type"),
        ("[sever]\nlisten = \"x\"", "sever: unknown field `sever`"),
        (
            "[providers.x]\nkind = \"openai\"\nbase_ur = \"http://a\"",
            "providers.x.base_ur: unknown field `base_ur`, expected one of `kind`, `base_url`",
        ),
        (
            "[providers.x]\nkind = \"opneai\"",
            "providers.x.kind: unknown kind \"opneai\"",
        ),
        (
            "[providers.x]\nkind = \"openai\"\napi_key = \"${MISSING}\"",
            "providers.x.api_key: environment variable MISSING is not set",
        ),
        (
            "[providers.x]\nkind = \"openai\"\nbase_url = \"ftp://a\"",
            "providers.x.base_url: expected an http:// or https:// URL",
        ),
        (
            "[providers.x]\nkind = \"azure\"\nbase_url = \"https://r.openai.azure.com\"",
            "providers.x.api_key: Azure OpenAI needs an api_key",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"openai/gpt-4o\", \"opneai/gpt-4o\"]",
            "routes[0].targets[1]: unknown provider \"opneai\" (did you mean \"openai\"?)",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"gpt-4o\"]",
            "routes[0].targets[0]: expected \"provider/model\"",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = []",
            "routes[0].targets: a route needs at least one target",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\nstrategy = \"quickest\"",
            "routes[0].strategy: unknown strategy \"quickest\"; expected one of priority, weighted, cheapest, fastest, least-busy",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\ntimeout = \"soon\"",
            "routes[0].timeout: invalid duration \"soon\"",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\ntaregts = []",
            "routes[0].taregts: unknown field `taregts`",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\nfallbacks = [\"nope\"]",
            "routes[0].fallbacks[0]: unknown route \"nope\"",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]",
            "routes[1].name: duplicate route name \"c\"",
        ),
        (
            "[[routes]]\nname = \"a\"\ntargets = [\"local/m\"]\nfallbacks = [\"b\"]\n[[routes]]\nname = \"b\"\ntargets = [\"local/n\"]\nfallbacks = [\"a\"]",
            "routes: fallback cycle: a -> b -> a",
        ),
        (
            "[router]\nnum_retries = 50",
            "router.num_retries: at most 10",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\ntimeout = 0",
            "routes[0].timeout: must be greater than zero",
        ),
        (
            "[server]\nmax_body_bytes = \"big\"",
            "server.max_body_bytes: invalid type",
        ),
        ("[[routes]\nname = 1", "invalid TOML"),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n[[rules]]\nname = \"r\"\nwhen = \"intent ==\"\nroute = \"c\"",
            "rules[0].when: not a valid CEL expression",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n[[rules]]\nname = \"r\"\nwhen = \"tokenz < 5\"\nroute = \"c\"",
            "rules[0].when: unknown variable(s) tokenz",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n[[rules]]\nname = \"r\"\nwhen = \"stream\"\nroute = \"d\"",
            "rules[0].route: unknown route \"d\"",
        ),
        (
            "[[intents]]\nname = \"x\"\npatterns = [\"(unclosed\"]",
            "intents[0].patterns[0]: not a valid regular expression",
        ),
        (
            "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\nweights = { \"local/n\" = 2 }",
            "routes[0].weights.local/n: not one of the route's targets",
        ),
        (
            "[providers.local.models.m]\ncapabilities = [\"telepathy\"]",
            "providers.local.models.m.capabilities: unknown capability \"telepathy\"",
        ),
        (
            "[providers.local.models.m]\ninput_price = 1.0",
            "providers.local.models.m: set both input_price and output_price",
        ),
    ];
    for (extra, expected) in cases {
        let err = parse(&format!("{BASE}{extra}")).expect_err(extra);
        assert!(
            err.contains(expected),
            "config:\n{extra}\nexpected {expected:?}\ngot {err:?}"
        );
    }
}

#[test]
fn several_errors_are_reported_at_once() {
    let err = parse("[[routes]]\nname = \"\"\ntargets = [\"x/y\", \"z\"]").unwrap_err();
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn interpolation_and_defaults() {
    let c = parse(&format!(
        "{BASE}[router]\nnum_retries = 1\nttft_timeout = 12\n[[routes]]\nname = \"chat\"\ntargets = [\"openai/gpt-4o-mini\", \"local/qwen\"]\ntimeout = \"1m 30s\"\nfallbacks = [\"other\"]\n[[routes]]\nname = \"other\"\ntargets = [\"local/llama\"]\nnum_retries = 4\n"
    ))
    .unwrap();
    let openai = c
        .providers
        .values()
        .find(|p| p.id.as_str() == "openai")
        .unwrap();
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), "sk-from-env");
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    let chat = c.route("chat").unwrap();
    assert_eq!(chat.settings.num_retries, 1);
    assert_eq!(chat.settings.timeout, Duration::from_secs(90));
    assert_eq!(chat.settings.ttft_timeout, Duration::from_secs(12));
    assert_eq!(chat.settings.max_retry_after, Duration::from_secs(10));
    let chain: Vec<String> = chat.candidates.iter().map(ToString::to_string).collect();
    assert_eq!(chain, ["openai/gpt-4o-mini", "local/qwen", "local/llama"]);
    assert_eq!(c.route("other").unwrap().settings.num_retries, 4);
    assert!(
        !format!("{c:?}").contains("sk-from-env"),
        "a secret in Debug output"
    );
}

#[test]
fn example_configs_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") && !path.to_string_lossy().contains("sim")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            // Keys get a placeholder; URL variables fall back to the example's defaults.
            let env = |k: &str| (!k.ends_with("_URL")).then(|| "placeholder".to_owned());
            Config::from_toml(&text, ConfigSource::File(path.clone()), &env)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 1, "no example configs in {}", dir.display());
}

const RULES: &str = "[[routes]]\nname = \"c\"\ntargets = [\"local/m\"]\n[[rules]]\nname = \"a\"\nwhen = \"stream\"\nroute = \"c\"\n[[rules]]\nname = \"b\"\nwhen = \"intent == 'x'\"\nroute = \"c\"\n[[rules]]\nname = \"bad\"\nwhen = \"intent ==\"\nroute = \"c\"\n";

#[test]
fn config_keeps_rule_sources_and_compiling_names_the_bad_one() {
    // The config holds the source text; compiling (at start, in `check`) refuses it.
    let config = Config::from_toml(&format!("{BASE}{RULES}"), ConfigSource::Inline, &|_| {
        Some("sk-test".to_owned())
    })
    .unwrap();
    assert_eq!(config.rules[2].when, "intent ==");
    let err = modelmux_core::policy::Compiled::new(&config).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].path, "rules[2].when");
    assert!(
        err.0[0].message.starts_with("not a valid CEL expression"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_rule_refuses_the_start() {
    let text = format!("{BASE}{RULES}[store]\nkind = \"memory\"\n");
    let config =
        Config::from_toml(&text, ConfigSource::Inline, &|_| Some("sk-test".to_owned())).unwrap();
    let err = modelmux_core::spawn(config).await.unwrap_err();
    assert!(err.to_string().contains("rules[2].when"), "{err}");
}

#[test]
fn a_base_url_on_the_metadata_service_is_refused_unless_allowed() {
    let toml = |extra: &str| {
        format!(
            "[providers.meta]\nkind = \"openai\"\nbase_url = \"http://169.254.169.254/v1\"\n{extra}\n\
             [[routes]]\nname = \"r\"\ntargets = [\"meta/m\"]\n"
        )
    };
    let err = parse(&toml("")).unwrap_err();
    assert!(err.contains("providers.meta.base_url"), "{err}");
    assert!(err.contains("link-local"), "{err}");
    assert!(parse(&toml("allow_link_local = true")).is_ok());
}
