//! Identifier newtypes. Providers, models, routes and requests are never bare strings in
//! the gateway's own signatures, so one cannot be passed where another is meant.

use std::fmt;
use std::sync::Arc;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(Arc::from(s.as_ref()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
    };
}

id_type!(
    /// The table key of a provider in the config (`[providers.<id>]`).
    ProviderId
);
id_type!(
    /// A model name as the provider knows it (for Azure: the deployment name).
    ModelId
);
id_type!(
    /// A route name: what a client sends as `model`.
    RouteName
);
id_type!(
    /// The gateway's id for one client request, sent back as `x-modelmux-request-id`.
    RequestId
);

impl RequestId {
    /// A fresh random id, `mmx-` and 24 alphanumerics.
    pub fn generate() -> Self {
        let mut s = String::with_capacity(28);
        s.push_str("mmx-");
        s.extend(std::iter::repeat_with(fastrand::alphanumeric).take(24));
        Self::new(s)
    }
}

/// One addressable target: a model on a provider, written `provider/model`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TargetRef {
    pub provider: ProviderId,
    pub model: ModelId,
}

impl TargetRef {
    pub fn new(provider: ProviderId, model: ModelId) -> Self {
        Self { provider, model }
    }

    /// Splits `provider/model` at the first slash (model names may hold more slashes, as
    /// OpenRouter's `meta-llama/llama-3-8b` does).
    pub fn parse(s: &str) -> Option<(&str, &str)> {
        let (p, m) = s.split_once('/')?;
        (!p.is_empty() && !m.is_empty()).then_some((p, m))
    }
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

impl fmt::Debug for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}
