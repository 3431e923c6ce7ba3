//! `multipart/form-data` bodies, as Discord reads them for uploads
//! (`developers/reference.mdx`, "Uploading Files"): a `payload_json` part and `files[n]` parts.

use serde_json::Value;

use super::Upload;

/// Splits a `multipart/form-data` body into its `payload_json` (parsed) and its files.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, Vec<Upload>) {
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
    else {
        return (Value::Null, Vec::new());
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let mut json = Value::Null;
    let mut files = Vec::new();
    for part in split_bytes(body, delimiter.as_bytes()).into_iter().skip(1) {
        // Each part: CRLF, headers, CRLF CRLF, content, CRLF; the last is "--" CRLF.
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]).to_string();
        let content = &part[split + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        let field = quoted(disposition, "name=").unwrap_or_default();
        match quoted(disposition, "filename=") {
            Some(filename) => files.push(Upload {
                field,
                filename,
                bytes: content.to_vec(),
            }),
            None if field == "payload_json" => {
                json = serde_json::from_slice(content).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (json, files)
}

/// The value of `key"…"` in a header line.
fn quoted(line: &str, key: &str) -> Option<String> {
    let at = line
        .match_indices(key)
        .find(|(i, _)| *i == 0 || matches!(line.as_bytes()[i - 1], b' ' | b';'))?
        .0;
    let rest = line[at + key.len()..].strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut bytes: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(bytes, delimiter) {
        out.push(&bytes[..at]);
        bytes = &bytes[at + delimiter.len()..];
    }
    out.push(bytes);
    out
}
