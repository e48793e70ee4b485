//! Media blocks of a Converse body: canonical images, documents and audio → Converse
//! `image{format, source{bytes}}`, `document{format, name, source{bytes|text}}` and
//! `audio{format, source{bytes}}`, used by `request` for message and tool-result content. Only
//! inline (base64 or data-URI) media travel; a URL, or a media type Converse does not list,
//! becomes a short text block saying what was there, so the model knows (pitfall 22).

use serde_json::{Value, json};

use crate::canonical::MediaSource;

pub(super) fn image_block(source: &MediaSource) -> Value {
    let inline = match source {
        MediaSource::Url(url) => MediaSource::from_data_uri(url),
        other => Some(other.clone()),
    };
    match inline {
        Some(MediaSource::Base64 { media_type, data }) => match image_format(&media_type) {
            Some(format) => json!({"image": {"format": format, "source": {"bytes": data}}}),
            None => json!({ "text": format!("[image: unsupported type {media_type}]") }),
        },
        _ => match source {
            MediaSource::Url(url) => json!({ "text": format!("[image: {url}]") }),
            MediaSource::Text(text) => json!({ "text": text }),
            MediaSource::Base64 { media_type, .. } => {
                json!({ "text": format!("[image: unsupported type {media_type}]") })
            }
        },
    }
}

fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

pub(super) fn document_block(source: &MediaSource, title: Option<&str>) -> Value {
    let name = document_name(title);
    let inline = match source {
        MediaSource::Url(url) => MediaSource::from_data_uri(url),
        other => Some(other.clone()),
    };
    match inline {
        Some(MediaSource::Text(text)) => {
            json!({"document": {"format": "txt", "name": name, "source": {"text": text}}})
        }
        Some(MediaSource::Base64 { media_type, data }) => match document_format(&media_type) {
            Some(format) => {
                json!({"document": {"format": format, "name": name, "source": {"bytes": data}}})
            }
            None => json!({ "text": format!("[document {name}: unsupported type {media_type}]") }),
        },
        _ => json!({ "text": format!("[document: {}]", source.to_url()) }),
    }
}

fn document_format(media_type: &str) -> Option<&'static str> {
    let mt = media_type.to_ascii_lowercase();
    let mt = mt.split(';').next().unwrap_or_default().trim();
    Some(match mt {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        _ => return None,
    })
}

/// Bedrock document names allow letters, digits, single spaces, hyphens, parentheses and
/// square brackets, 1–200 characters.
fn document_name(title: Option<&str>) -> String {
    let mut name = String::new();
    for c in title.unwrap_or_default().chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
            c
        } else {
            ' '
        };
        if c == ' ' && (name.is_empty() || name.ends_with(' ')) {
            continue;
        }
        name.push(c);
        if name.chars().count() >= 200 {
            break;
        }
    }
    let name = name.trim_end().to_owned();
    if name.is_empty() {
        "document".to_owned()
    } else {
        name
    }
}

pub(super) fn audio_block(format: &str, data: &str) -> Value {
    const FORMATS: &[&str] = &[
        "mp3", "opus", "wav", "aac", "flac", "mp4", "ogg", "mkv", "mka", "x-aac", "m4a", "mpeg",
        "mpga", "pcm", "webm",
    ];
    let f = format.to_ascii_lowercase();
    if FORMATS.contains(&f.as_str()) {
        json!({"audio": {"format": f, "source": {"bytes": data}}})
    } else {
        json!({ "text": format!("[audio: unsupported format {format}]") })
    }
}
