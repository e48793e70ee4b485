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
        let mut out = format!("route={};by={}", self.route, self.chosen_by);
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
        let kept: Vec<&str> = self
            .candidates
            .iter()
            .filter(|c| c.kept)
            .map(|c| c.target.as_str())
            .collect();
        out.push_str(";order=");
        out.push_str(&kept.join(","));
        let dropped: Vec<String> = self
            .candidates
            .iter()
            .filter(|c| !c.kept)
            .map(|c| format!("{}({})", c.target, c.reason))
            .collect();
        if !dropped.is_empty() {
            out.push_str(";dropped=");
            out.push_str(&dropped.join(","));
        }
        // Header values must be visible ASCII.
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
