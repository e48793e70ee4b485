//! `[providers.*]` → `ProviderConfig`: the kind, key, base URL, headers and model overrides
//! of one provider, with the Vertex AI and Bedrock credentials, each problem at its path
//! (`providers.x.base_url`); and the "did you mean" for an unknown provider name.

use std::collections::BTreeMap;

use http::{HeaderName, HeaderValue};

use super::Issues;
use crate::config::raw::RawProvider;
use crate::config::{
    BedrockSettings, ModelInfo, ProviderConfig, ProviderKind, ServiceAccount, VertexSettings,
    defaults,
};
use crate::ids::{ModelId, ProviderId};
use crate::secret::Secret;

pub(super) fn provider(
    id: &str,
    p: RawProvider,
    path: &str,
    issues: &mut Issues,
    text: &mut dyn FnMut(&str, &str, &mut Issues) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ProviderConfig> {
    let kind = match ProviderKind::ALL.iter().find(|(n, _)| *n == p.kind) {
        Some((_, k)) => *k,
        None => {
            let names: Vec<_> = ProviderKind::ALL.iter().map(|(n, _)| *n).collect();
            issues.add(
                format!("{path}.kind"),
                format!(
                    "unknown kind {:?}; expected one of {}",
                    p.kind,
                    names.join(", ")
                ),
            );
            return None;
        }
    };
    let mut opt = |field: &str, v: &Option<String>, issues: &mut Issues| -> Option<String> {
        v.as_ref()
            .and_then(|s| text(&format!("{path}.{field}"), s, issues))
            .filter(|s| !s.is_empty())
    };
    let api_key = opt("api_key", &p.api_key, issues).map(Secret::new);
    let vertex = if kind == ProviderKind::Vertex {
        vertex(&p, path, issues, &mut opt, env)
    } else {
        None
    };
    let bedrock = if kind == ProviderKind::Bedrock {
        bedrock(&p, path, issues, &mut opt, env, api_key.is_some())
    } else {
        None
    };
    let base_url = match opt("base_url", &p.base_url, issues) {
        Some(u) => u,
        None => match (kind, &vertex, &bedrock) {
            (ProviderKind::Vertex, Some(v), _) if v.location == "global" => {
                "https://aiplatform.googleapis.com/v1".to_owned()
            }
            (ProviderKind::Vertex, Some(v), _) => {
                format!("https://{}-aiplatform.googleapis.com/v1", v.location)
            }
            (ProviderKind::Bedrock, _, Some(b)) => {
                format!("https://bedrock-runtime.{}.amazonaws.com", b.region)
            }
            (ProviderKind::Vertex | ProviderKind::Bedrock, _, _) => return None,
            _ => match defaults::default_base_url(id, kind) {
                Some(u) => u.to_owned(),
                None => {
                    issues.add(
                        format!("{path}.base_url"),
                        format!("required for kind {:?}", p.kind),
                    );
                    return None;
                }
            },
        },
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        issues.add(
            format!("{path}.base_url"),
            format!("expected an http:// or https:// URL, got {base_url:?}"),
        );
        return None;
    }
    if p.allow_link_local != Some(true)
        && let Some(why) = link_local(&base_url)
    {
        issues.add(
            format!("{path}.base_url"),
            format!(
                "{base_url:?} is {why}, which serves cloud credentials; set allow_link_local = true on this provider if that is really meant"
            ),
        );
        return None;
    }
    if kind == ProviderKind::Azure && api_key.is_none() {
        issues.add(format!("{path}.api_key"), "Azure OpenAI needs an api_key");
    }
    let mut headers = Vec::new();
    for (name, value) in &p.headers {
        let hpath = format!("{path}.headers.{name}");
        let Some(v) = text(&hpath, value, issues) else {
            continue;
        };
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(v),
        ) {
            (Ok(n), Ok(v)) => headers.push((n, v)),
            _ => issues.add(hpath, "not a valid HTTP header"),
        }
    }
    let mut models = BTreeMap::new();
    for (m, info) in p.models {
        let mpath = format!("{path}.models.{m}");
        let capabilities = match &info.capabilities {
            None => None,
            Some(names) => {
                match crate::catalog::Capabilities::from_names(names.iter().map(String::as_str)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        issues.add(format!("{mpath}.capabilities"), e);
                        None
                    }
                }
            }
        };
        let price = match (info.input_price, info.output_price) {
            (Some(input), Some(output)) => Some(crate::catalog::Price {
                input,
                output,
                cache_read: info.cache_read_price,
                cache_write: info.cache_write_price,
                reasoning: None,
            }),
            (None, None) if info.cache_read_price.is_none() && info.cache_write_price.is_none() => {
                None
            }
            _ => {
                issues.add(
                    &mpath,
                    "set both input_price and output_price (USD per million tokens)",
                );
                None
            }
        };
        for (field, v) in [
            ("input_price", info.input_price),
            ("output_price", info.output_price),
            ("cache_read_price", info.cache_read_price),
            ("cache_write_price", info.cache_write_price),
        ] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                issues.add(format!("{mpath}.{field}"), "must be a non-negative number");
            }
        }
        models.insert(
            ModelId::new(m),
            ModelInfo {
                context_window: info.context_window,
                max_output_tokens: info.max_output_tokens,
                capabilities,
                price,
                from_catalog: false,
            },
        );
    }
    Some(ProviderConfig {
        id: ProviderId::new(id),
        kind,
        base_url: normalise_base_url(kind, &base_url),
        api_key,
        api_version: p.api_version,
        headers,
        models,
        legacy_max_tokens: p.legacy_max_tokens.unwrap_or(false),
        responses_api: p.responses_api.unwrap_or(false),
        anthropic_version: p.anthropic_version,
        vertex,
        bedrock,
    })
}

type Opt<'a> = dyn FnMut(&str, &Option<String>, &mut Issues) -> Option<String> + 'a;

fn vertex(
    p: &RawProvider,
    path: &str,
    issues: &mut Issues,
    opt: &mut Opt<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<VertexSettings> {
    let Some(project) = opt("project", &p.project, issues) else {
        issues.add(
            format!("{path}.project"),
            "Vertex AI needs the Google Cloud project",
        );
        return None;
    };
    let location = opt("location", &p.location, issues).unwrap_or_else(|| "us-central1".to_owned());
    let access_token = opt("access_token", &p.access_token, issues).map(Secret::new);
    let key_file = opt("credentials_file", &p.credentials_file, issues)
        .or_else(|| env("GOOGLE_APPLICATION_CREDENTIALS"));
    let token_url = opt("token_url", &p.token_url, issues);
    let service_account = match (&access_token, key_file) {
        (Some(_), _) => None,
        (None, Some(file)) => match read_service_account(&file, token_url) {
            Ok(sa) => Some(sa),
            Err(e) => {
                issues.add(format!("{path}.credentials_file"), e);
                return None;
            }
        },
        (None, None) => {
            issues.add(path, "Vertex AI needs access_token or credentials_file (or GOOGLE_APPLICATION_CREDENTIALS)");
            return None;
        }
    };
    Some(VertexSettings {
        project,
        location,
        access_token,
        service_account,
    })
}

fn read_service_account(file: &str, token_url: Option<String>) -> Result<ServiceAccount, String> {
    #[derive(serde::Deserialize)]
    struct KeyFile {
        client_email: String,
        private_key: String,
        #[serde(default)]
        token_uri: Option<String>,
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let k: KeyFile = serde_json::from_str(&text)
        .map_err(|e| format!("{file} is not a service-account key file: {e}"))?;
    Ok(ServiceAccount {
        client_email: k.client_email,
        private_key: Secret::new(k.private_key),
        token_uri: token_url
            .or(k.token_uri)
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned()),
    })
}

fn bedrock(
    p: &RawProvider,
    path: &str,
    issues: &mut Issues,
    opt: &mut Opt<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    has_api_key: bool,
) -> Option<BedrockSettings> {
    let Some(region) = opt("region", &p.region, issues)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    else {
        issues.add(
            format!("{path}.region"),
            "Bedrock needs a region (or AWS_REGION)",
        );
        return None;
    };
    let access_key_id = opt("access_key_id", &p.access_key_id, issues)
        .or_else(|| env("AWS_ACCESS_KEY_ID"))
        .map(Secret::new);
    let secret_access_key = opt("secret_access_key", &p.secret_access_key, issues)
        .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
        .map(Secret::new);
    let session_token = opt("session_token", &p.session_token, issues)
        .or_else(|| env("AWS_SESSION_TOKEN"))
        .map(Secret::new);
    if !has_api_key && (access_key_id.is_none() || secret_access_key.is_none()) {
        issues.add(path, "Bedrock needs access_key_id and secret_access_key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or a Bedrock api_key");
        return None;
    }
    Some(BedrockSettings {
        region,
        access_key_id,
        secret_access_key,
        session_token,
    })
}

pub(super) fn unknown_provider<'a>(
    name: &str,
    known: impl Iterator<Item = &'a ProviderId>,
) -> String {
    let known: Vec<&str> = known.map(ProviderId::as_str).collect();
    let close = known.iter().find(|k| edit_distance(k, name) <= 2);
    match close {
        Some(k) => format!("unknown provider {name:?} (did you mean {k:?}?)"),
        None if known.is_empty() => {
            format!("unknown provider {name:?}: no providers are configured")
        }
        None => format!(
            "unknown provider {name:?}; configured: {}",
            known.join(", ")
        ),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The base URL requests are built on. An Anthropic base URL may be written as the Anthropic
/// SDK and `ANTHROPIC_BASE_URL` write it (`https://api.anthropic.com`, or a proxy's prefix)
/// or with the API version (`https://api.anthropic.com/v1`): both call `{base}/v1/messages`.
fn normalise_base_url(kind: ProviderKind, url: &str) -> String {
    let url = url.trim_end_matches('/');
    if kind == ProviderKind::Anthropic && !url.ends_with("/v1") {
        return format!("{url}/v1");
    }
    url.to_owned()
}

#[cfg(test)]
mod base_url_tests {
    use super::*;

    #[test]
    fn anthropic_base_urls_as_users_write_them() {
        let a = ProviderKind::Anthropic;
        for (written, called) in [
            ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
            ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
            (
                "https://api.anthropic.com/v1",
                "https://api.anthropic.com/v1",
            ),
            (
                "https://api.anthropic.com/v1/",
                "https://api.anthropic.com/v1",
            ),
            (
                "http://proxy:8080/anthropic",
                "http://proxy:8080/anthropic/v1",
            ),
        ] {
            assert_eq!(normalise_base_url(a, written), called, "{written}");
        }
        assert_eq!(
            normalise_base_url(ProviderKind::OpenAi, "http://127.0.0.1:8000/v1/"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            normalise_base_url(ProviderKind::OpenAi, "http://127.0.0.1:8000"),
            "http://127.0.0.1:8000",
            "OpenAI-compatible servers keep the path they are given"
        );
    }
}

/// Why a URL's host is a link-local or instance-metadata address, if it is one:
/// 169.254.0.0/16, fe80::/10, AWS's `fd00:ec2::254`, or a metadata host name.
fn link_local(url: &str) -> Option<&'static str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let host = host.to_ascii_lowercase();
    if matches!(
        host.as_str(),
        "metadata.google.internal" | "metadata" | "instance-data" | "instance-data.ec2.internal"
    ) {
        return Some("a cloud metadata host");
    }
    match host.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) if v4.octets()[..2] == [169, 254] => {
            Some("a link-local address (169.254.0.0/16)")
        }
        std::net::IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => {
            Some("a link-local address (fe80::/10)")
        }
        std::net::IpAddr::V6(v6)
            if v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) =>
        {
            Some("the EC2 metadata address")
        }
        _ => None,
    }
}

#[cfg(test)]
mod link_local_tests {
    use super::link_local;

    #[test]
    fn metadata_and_link_local_hosts_are_named() {
        for url in [
            "http://169.254.169.254/latest",
            "http://169.254.1.2:8080/v1",
            "http://[fd00:ec2::254]/v1",
            "http://[fe80::1]:80/v1",
            "http://metadata.google.internal/computeMetadata/v1",
            "http://user:pw@169.254.169.254/",
        ] {
            assert!(link_local(url).is_some(), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:8000/v1",
            "http://10.0.0.5/v1",
            "http://[::1]:4000/v1",
            "http://169.253.1.1/v1",
        ] {
            assert!(link_local(url).is_none(), "{url}");
        }
    }
}
