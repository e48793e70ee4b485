//! The request path of a Bedrock model: `/model/<modelId>/converse` and `/converse-stream`.
//! Model ids and ARNs carry `:` and `/` (`anthropic.claude-3-5-sonnet-20240620-v1:0`,
//! `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic...`), and the path
//! must spell them exactly as boto3 does, because the SigV4 canonical URI is computed from the
//! same string (pitfall 31). botocore encodes a non-greedy URI label with `quote(value,
//! safe="-._~")`: every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex,
//! UTF-8), `/` included.

/// `/model/<percent-encoded id>`; append `/converse` or `/converse-stream`.
pub fn model_path(model_id: &str) -> String {
    let mut out = String::with_capacity(7 + model_id.len() * 3);
    out.push_str("/model/");
    for b in model_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}
