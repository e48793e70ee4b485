//! The `--filter` / `filter=` expression of reports and analytics: CEL over the fields of a
//! record (`route`, `target`, `rule`, `key`, `team`, `status`, `error`, `stream`,
//! `cost_usd`, `latency_ms`, `episode`), true for the records to keep. An expression that
//! does not parse, names an unknown field or gives no boolean is refused when compiled (it is
//! tried on a sample record), so a typo is an error and not an empty report; at run time a
//! record on which it fails (a comparison with a missing value) is left out.

use std::sync::{Arc, OnceLock};

use cel::common::types::{CelBool, CelDouble, CelInt, CelNull, CelString};
use cel::common::value::CowVal;
use cel::context::VariableResolver;

use crate::records::OutcomeRow;

/// The fields an expression may read.
pub const FIELDS: [&str; 11] = [
    "route",
    "target",
    "rule",
    "key",
    "team",
    "status",
    "error",
    "stream",
    "cost_usd",
    "latency_ms",
    "episode",
];

/// A compiled filter.
pub struct Filter {
    program: cel::Program,
    source: String,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Filter").field(&self.source).finish()
    }
}

fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(cel::Env::stdlib())).clone()
}

struct Fields<'a>(&'a OutcomeRow);

fn opt_str(s: Option<&str>) -> CowVal<'_, '_> {
    match s {
        Some(s) => CowVal::owned(CelString::from(s)),
        None => CowVal::owned(CelNull),
    }
}

fn int(n: u64) -> CowVal<'static, 'static> {
    CowVal::owned(CelInt::from(i64::try_from(n).unwrap_or(i64::MAX)))
}

impl VariableResolver for Fields<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let r = self.0;
        Some(match variable {
            "route" => CowVal::owned(CelString::from(r.route.as_str())),
            "target" => opt_str(r.target.as_deref()),
            "rule" => opt_str(r.rule.as_deref()),
            "key" => opt_str(r.key.as_deref()),
            "team" => opt_str(r.team.as_deref()),
            "status" => match r.status {
                Some(s) => int(u64::from(s)),
                None => CowVal::owned(CelNull),
            },
            "error" => opt_str(r.error.as_deref()),
            "stream" => CowVal::owned(CelBool::from(r.stream)),
            "cost_usd" => match r.row.cost_usd {
                Some(c) => CowVal::owned(CelDouble::from(c)),
                None => CowVal::owned(CelNull),
            },
            "latency_ms" => int(r.row.latency_ms),
            "episode" => opt_str(r.row.episode.as_deref()),
            _ => return None,
        })
    }
}

impl Filter {
    /// Compiles `source`, or says what is wrong with it.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = cel::Program::compile(source)
            .map_err(|e| format!("filter {source:?} does not parse: {e}"))?;
        let filter = Self {
            program,
            source: source.to_owned(),
        };
        let sample = OutcomeRow {
            route: String::new(),
            target: Some(String::new()),
            rule: Some(String::new()),
            key: Some(String::new()),
            team: Some(String::new()),
            status: Some(200),
            error: Some(String::new()),
            row: crate::outcomes::RequestRow {
                cost_usd: Some(0.0),
                episode: Some(String::new()),
                ..Default::default()
            },
            ..Default::default()
        };
        filter
            .eval(&sample)
            .map_err(|e| format!("filter {source:?}: {e} (fields: {})", FIELDS.join(", ")))?;
        Ok(filter)
    }

    fn eval(&self, row: &OutcomeRow) -> Result<bool, String> {
        let fields = Fields(row);
        let mut ctx = cel::Context::with_env(env());
        ctx.set_variable_resolver(&fields);
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("gives {other:?}, not a boolean")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the record is kept (a record the expression fails on is not).
    pub fn matches(&self, row: &OutcomeRow) -> bool {
        self.eval(row).unwrap_or(false)
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(route: &str, cost: f64, status: u16) -> OutcomeRow {
        OutcomeRow {
            route: route.into(),
            status: Some(status),
            row: crate::outcomes::RequestRow {
                cost_usd: Some(cost),
                latency_ms: 120,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn keeps_what_the_expression_holds_for() {
        let f =
            Filter::compile("route == \"chat\" && cost_usd > 0.01 && latency_ms < 500").unwrap();
        assert!(f.matches(&row("chat", 0.02, 200)));
        assert!(!f.matches(&row("chat", 0.001, 200)));
        assert!(!f.matches(&row("code", 0.02, 200)));
        let f = Filter::compile("status != 200").unwrap();
        assert!(f.matches(&row("chat", 0.0, 502)));
    }

    #[test]
    fn refuses_bad_expressions() {
        let e = Filter::compile("route ==").unwrap_err();
        assert!(e.contains("does not parse"), "{e}");
        let e = Filter::compile("rout == \"chat\"").unwrap_err();
        assert!(e.contains("fields: route"), "{e}");
        let e = Filter::compile("latency_ms + 1").unwrap_err();
        assert!(e.contains("not a boolean"), "{e}");
    }
}
