//! Bedrock error classification (x-amzn-ErrorType header or `__type`, plus the message) and
//! the model path encoding.

// In a `bedrock` module so that `cargo test -p modelmux-wire bedrock` selects these tests.
#[cfg(test)]
mod bedrock {
    use modelmux_wire::bedrock::{classify_error, model_path};
    use modelmux_wire::codec::ErrorKind;

    #[test]
    fn every_documented_exception_maps_to_its_kind() {
        let cases = [
            ("ValidationException", 400, ErrorKind::BadRequest),
            ("AccessDeniedException", 403, ErrorKind::Auth),
            ("UnrecognizedClientException", 403, ErrorKind::Auth),
            ("ExpiredTokenException", 403, ErrorKind::Auth),
            ("InvalidSignatureException", 403, ErrorKind::Auth),
            ("ResourceNotFoundException", 404, ErrorKind::NotFound),
            ("ModelTimeoutException", 408, ErrorKind::Timeout),
            ("ThrottlingException", 429, ErrorKind::RateLimited),
            ("ModelNotReadyException", 429, ErrorKind::Overloaded),
            (
                "ServiceQuotaExceededException",
                400,
                ErrorKind::QuotaExceeded,
            ),
            ("ModelErrorException", 424, ErrorKind::UpstreamError),
            ("InternalServerException", 500, ErrorKind::UpstreamError),
            ("ServiceUnavailableException", 503, ErrorKind::Overloaded),
        ];
        for (ty, status, kind) in cases {
            let header = format!("{ty}:http://internal.amazon.com/coral/com.amazon.bedrock/");
            let info = classify_error(status, Some(&header), br#"{"message":"nope"}"#);
            assert_eq!(info.kind, kind, "{ty}");
            assert_eq!(info.message, "nope");
            assert_eq!(info.retry_after, None);
        }
    }

    #[test]
    fn pitfall_30_context_window_validation_errors_are_normalised() {
        for message in [
            "Input is too long for requested model.",
            "The model returned the following errors: too many tokens",
            "prompt is too long: 209353 tokens > 199999 maximum",
        ] {
            let body = serde_json::json!({ "message": message }).to_string();
            let info = classify_error(400, Some("ValidationException"), body.as_bytes());
            assert_eq!(info.kind, ErrorKind::ContextLengthExceeded, "{message}");
        }
        // The throttling message mentions tokens too, but it is throttling.
        let info = classify_error(
            429,
            Some("ThrottlingException"),
            br#"{"message":"Too many tokens, please wait before trying again."}"#,
        );
        assert_eq!(info.kind, ErrorKind::RateLimited);
    }

    #[test]
    fn body_type_is_used_when_the_header_is_missing() {
        let info = classify_error(
        400,
        None,
        br#"{"__type":"com.amazon.coral.service#ServiceQuotaExceededException","message":"quota"}"#,
    );
        assert_eq!(info.kind, ErrorKind::QuotaExceeded);
        let info = classify_error(
            403,
            None,
            br#"{"Message":"The security token included in the request is invalid."}"#,
        );
        assert_eq!(info.kind, ErrorKind::Auth);
        assert_eq!(
            info.message,
            "The security token included in the request is invalid."
        );
    }

    #[test]
    fn status_decides_when_the_type_is_unknown() {
        let cases = [
            (400, ErrorKind::BadRequest),
            (401, ErrorKind::Auth),
            (404, ErrorKind::NotFound),
            (408, ErrorKind::Timeout),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::UpstreamError),
            (502, ErrorKind::UpstreamError),
            (503, ErrorKind::Overloaded),
        ];
        for (status, kind) in cases {
            let info = classify_error(status, Some(""), b"<html>bad gateway</html>");
            assert_eq!(info.kind, kind, "{status}");
            assert_eq!(info.message, "<html>bad gateway</html>");
        }
        assert_eq!(
            classify_error(502, None, b"").message,
            "Bedrock returned HTTP 502"
        );
    }

    #[test]
    fn pitfall_31_model_path_is_encoded_as_boto3_does() {
        assert_eq!(
            model_path("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
        );
        assert_eq!(
            model_path(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
            ),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0"
        );
        assert_eq!(model_path("a b+c~_é"), "/model/a%20b%2Bc~_%C3%A9");
    }
}
