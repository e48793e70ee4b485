//! The AWS Bedrock Converse adapter: `POST {base}/model/{id}/converse` (or
//! `converse-stream`), the model id percent-encoded as boto3 does, signed with SigV4 (the
//! maintained `aws-sigv4` crate; service `bedrock`) from the configured or environment
//! credentials, or authenticated with a Bedrock API key as a bearer token.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::UpRequest;
use super::error::{ErrorKind, ProviderError};
use crate::config::ProviderConfig;
use crate::ids::ModelId;

pub(super) struct BedrockProvider {
    base_url: String,
    region: String,
    identity: Option<Identity>,
    api_key: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl BedrockProvider {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let b = config.bedrock.as_ref();
        let identity = b.and_then(|b| {
            let (id, secret) = (b.access_key_id.as_ref()?, b.secret_access_key.as_ref()?);
            let creds = Credentials::new(
                id.expose(),
                secret.expose(),
                b.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "modelmux-config",
            );
            Some(Identity::from(creds))
        });
        let api_key = config.api_key.as_ref().and_then(|k| {
            let mut v = HeaderValue::try_from(format!("Bearer {}", k.expose())).ok()?;
            v.set_sensitive(true);
            Some(v)
        });
        Self {
            base_url: config.base_url.clone(),
            region: b.map_or_else(|| "us-east-1".to_owned(), |b| b.region.clone()),
            identity,
            api_key,
            headers: config.headers.clone(),
        }
    }

    pub(super) fn request(
        &self,
        model: &ModelId,
        body: Bytes,
        stream: bool,
    ) -> Result<UpRequest, ProviderError> {
        let op = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        let url = format!(
            "{}{}/{op}",
            self.base_url,
            modelmux_wire::bedrock::model_path(model.as_str())
        );
        let mut req = UpRequest::post(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                if stream {
                    "application/vnd.amazon.eventstream"
                } else {
                    "application/json"
                },
            );
        for (name, value) in &self.headers {
            req = req.header(name.clone(), value.clone());
        }
        if let Some(k) = &self.api_key {
            return Ok(req
                .header(http::header::AUTHORIZATION, k.clone())
                .body(body));
        }
        let identity = self.identity.as_ref().ok_or_else(|| {
            ProviderError::new(ErrorKind::Auth, "no AWS credentials are configured")
        })?;
        let signing_error =
            |_| ProviderError::new(ErrorKind::Auth, "the request could not be signed");
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name("bedrock")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|_| ProviderError::new(ErrorKind::Auth, "invalid signing parameters"))?
            .into();
        let content_type = [("content-type", "application/json")];
        let signable = SignableRequest::new(
            "POST",
            &url,
            content_type.into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(signing_error)?;
        let (instructions, _) = sign(signable, &params).map_err(signing_error)?.into_parts();
        for (name, value) in instructions.headers() {
            let mut v = HeaderValue::try_from(value).map_err(|_| {
                ProviderError::new(ErrorKind::Auth, "the signature is not a valid header")
            })?;
            v.set_sensitive(
                name.eq_ignore_ascii_case("authorization")
                    || name.eq_ignore_ascii_case("x-amz-security-token"),
            );
            req = req.header_str(name, v);
        }
        Ok(req.body(body))
    }

    pub(super) fn classify(status: u16, headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
        let error_type = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok());
        let info = modelmux_wire::bedrock::classify_error(status, error_type, body);
        ProviderError {
            kind: info.kind,
            status: Some(status),
            retry_after: info.retry_after,
            message: info.message,
            body: None,
        }
    }
}
