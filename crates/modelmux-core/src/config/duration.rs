//! Durations in config: a number of seconds (`30`, `0.5`) or a human string (`"500ms"`,
//! `"2s"`, `"1m 30s"`), as users write them in other gateways' configs.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationSpec(pub Duration);

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Int(n) => Ok(Self(Duration::from_secs(n))),
            Repr::Float(f) if f.is_finite() && f >= 0.0 => Ok(Self(Duration::from_secs_f64(f))),
            Repr::Float(_) => Err(serde::de::Error::custom("a duration must be a non-negative number of seconds")),
            Repr::Text(s) => humantime::parse_duration(s.trim()).map(Self).map_err(|e| {
                serde::de::Error::custom(format!("invalid duration {s:?}: {e} (write e.g. \"500ms\", \"30s\" or a number of seconds)"))
            }),
        }
    }
}
