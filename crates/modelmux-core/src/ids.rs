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
    /// A fresh id, `mmx-` and 24 characters: 8 base-62 digits of the Unix time in
    /// milliseconds, then 16 random alphanumerics. Ids sort by time, so the record stores'
    /// primary-key index grows at its end instead of taking writes all over (a random key
    /// dirtied about one index page per record in each SQLite commit).
    pub fn generate() -> Self {
        const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut time = [b'0'; 8];
        let mut rest = ms;
        for slot in time.iter_mut().rev() {
            *slot = DIGITS[(rest % 62) as usize];
            rest /= 62;
        }
        let mut s = String::with_capacity(28);
        s.push_str("mmx-");
        s.extend(time.iter().map(|&b| char::from(b)));
        s.extend(std::iter::repeat_with(fastrand::alphanumeric).take(16));
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

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn request_ids_sort_by_time_and_differ() {
        let a = RequestId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RequestId::generate();
        let c = RequestId::generate();
        assert_eq!(a.as_str().len(), 28);
        assert!(a.as_str().starts_with("mmx-"));
        assert!(a.as_str()[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(a.as_str() < b.as_str(), "{a:?} < {b:?}");
        assert_ne!(b.as_str(), c.as_str());
        // The time prefix is the same within a millisecond-ish window and orders by time.
        assert!(a.as_str()[..12] <= c.as_str()[..12]);
    }
}
