//! The routing decision as a value: the request's features, the rule that matched (or the
//! header or alias that chose the route), the strategy, and every candidate with why it was
//! kept or dropped and its score. It is returned whole by `POST /v1/route/explain`, sent in
//! compact form as `x-modelmux-decision` on every answer, and kept with the request's record.

use serde::Serialize;

use crate::features::Features;
use crate::strategy::Considered;

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub requested: String,
    pub features: Features,
    /// The policy rule that chose the route, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// How the route was chosen: `rule`, `header`, `route`, `alias`, `target` or `model`.
    pub chosen_by: &'static str,
    pub route: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub strategy: &'static str,
    /// Every candidate, in the order they will be tried, then the dropped ones.
    pub candidates: Vec<Considered>,
    /// Anything else worth knowing (a header route refused, a rule that failed to evaluate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Decision {
    /// `route=support;rule=billing-faq;strategy=cheapest;order=fast/m,strong/m;dropped=x/m(no tool support)`
    pub fn compact(&self) -> String {
        use std::fmt::Write;
        let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 8);
        let targets: usize = self
            .candidates
            .iter()
            .map(|c| c.target.provider.as_str().len() + c.target.model.as_str().len() + 2)
            .sum();
        let mut out = String::with_capacity(
            64 + self.route.len()
                + opt(&self.rule)
                + opt(&self.alias)
                + opt(&self.features.intent)
                + targets,
        );
        out.push_str("route=");
        out.push_str(&self.route);
        out.push_str(";by=");
        out.push_str(self.chosen_by);
        if let Some(r) = &self.rule {
            out.push_str(";rule=");
            out.push_str(r);
        }
        if let Some(a) = &self.alias {
            out.push_str(";alias=");
            out.push_str(a);
        }
        out.push_str(";strategy=");
        out.push_str(self.strategy);
        if let Some(i) = &self.features.intent {
            out.push_str(";intent=");
            out.push_str(i);
        }
        out.push_str(";order=");
        let push_target = |out: &mut String, c: &Considered| {
            out.push_str(c.target.provider.as_str());
            out.push('/');
            out.push_str(c.target.model.as_str());
        };
        for (n, c) in self.candidates.iter().filter(|c| c.kept).enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_target(&mut out, c);
        }
        for (n, c) in self.candidates.iter().filter(|c| !c.kept).enumerate() {
            out.push_str(if n == 0 { ";dropped=" } else { "," });
            push_target(&mut out, c);
            // Writing to a String cannot fail.
            let _ = write!(out, "({})", c.reason);
        }
        // Header values must be visible ASCII.
        if out.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return out;
        }
        out.chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ModelId, ProviderId, TargetRef};
    use crate::strategy::Reason;

    /// The header as it was first written, to hold the faster one to.
    fn reference(d: &Decision) -> String {
        let mut out = format!("route={};by={}", d.route, d.chosen_by);
        if let Some(r) = &d.rule {
            out.push_str(";rule=");
            out.push_str(r);
        }
        if let Some(a) = &d.alias {
            out.push_str(";alias=");
            out.push_str(a);
        }
        out.push_str(";strategy=");
        out.push_str(d.strategy);
        if let Some(i) = &d.features.intent {
            out.push_str(";intent=");
            out.push_str(i);
        }
        let kept: Vec<String> = d
            .candidates
            .iter()
            .filter(|c| c.kept)
            .map(|c| c.target.to_string())
            .collect();
        out.push_str(";order=");
        out.push_str(&kept.join(","));
        let dropped: Vec<String> = d
            .candidates
            .iter()
            .filter(|c| !c.kept)
            .map(|c| format!("{}({})", c.target, c.reason))
            .collect();
        if !dropped.is_empty() {
            out.push_str(";dropped=");
            out.push_str(&dropped.join(","));
        }
        out.chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    }

    fn considered(t: &str, kept: bool, reason: Reason) -> Considered {
        let (p, m) = TargetRef::parse(t).unwrap();
        Considered {
            target: TargetRef::new(ProviderId::new(p), ModelId::new(m)),
            kept,
            reason,
            score: None,
            est_cost: None,
        }
    }

    #[test]
    fn the_compact_form_is_unchanged() {
        let ranked = |rank| Reason::Ranked {
            rank,
            strategy: "cheapest",
        };
        let mut d = Decision {
            requested: "support".into(),
            features: Features::default(),
            rule: None,
            chosen_by: "route",
            route: "support".into(),
            alias: None,
            strategy: "cheapest",
            candidates: Vec::new(),
            notes: Vec::new(),
        };
        assert_eq!(d.compact(), reference(&d));
        d.candidates = vec![
            considered("a/m1", true, ranked(1)),
            considered(
                "b/m-2",
                true,
                Reason::Demoted("circuit open for 3s more".into()),
            ),
            considered("c/x", false, Reason::Dropped("no tool support".into())),
            considered("c/y", false, Reason::Dropped("context window 8 < 9".into())),
        ];
        assert_eq!(d.compact(), reference(&d));
        d.rule = Some("billing-faq".into());
        d.alias = Some("claude-*".into());
        d.features.intent = Some("billing".into());
        d.chosen_by = "rule";
        assert_eq!(d.compact(), reference(&d));
        d.route = "süpport\tx".into();
        d.features.intent = Some("zahlung ü".into());
        assert_eq!(d.compact(), reference(&d));
        assert!(d.compact().contains("s?pport?x"));
    }
}
