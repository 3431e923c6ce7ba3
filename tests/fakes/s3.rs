//! A strict fake S3-compatible object store on loopback (path-style requests, as MinIO and
//! Amazon S3 answer to a client given an endpoint), for the image store's tests.
//!
//! It copies what the real service does where tastebud can get it wrong (from the S3 API
//! reference: Signature Version 4, PutObject, GetObject, HeadObject, DeleteObject,
//! ListObjectsV2, and the error responses):
//!
//! - Every request must be signed (AWS4-HMAC-SHA256) with the one access key it knows and its
//!   secret: the signature is recomputed from the canonical request, and a wrong one is
//!   answered 403 `SignatureDoesNotMatch`, an unknown key 403 `InvalidAccessKeyId`, a missing
//!   one 403 `AccessDenied`, one signed more than 15 minutes off 403 `RequestTimeTooSkewed`.
//!   `x-amz-content-sha256` must be the body's hash (400
//!   `XAmzContentSHA256Mismatch`) unless it is `UNSIGNED-PAYLOAD`.
//! - One bucket; any other is 404 `NoSuchBucket`. A missing key is 404 `NoSuchKey` (GET) or a
//!   bare 404 (HEAD). DELETE of a missing key is 204, as S3's is.
//! - DeleteObjects (`POST /bucket?delete`, what a client deletes with) must carry a
//!   `Content-MD5` of its body (400 `InvalidRequest` without, `BadDigest` when wrong) and
//!   answers each key as `Deleted`, also keys that were not there.
//! - PUT replaces the object and sets its Last-Modified to now. Answers carry `ETag` (quoted
//!   MD5), `Last-Modified` (HTTP date) and `Content-Length`.
//! - ListObjectsV2 (`list-type=2`) returns keys in UTF-8 order, at most [`PAGE`] per page (S3's
//!   is 1,000; small here so that every listing pages), with `NextContinuationToken`.
//!
//! Controls: [`FakeS3::start`], [`FakeS3::endpoint`], [`FakeS3::settings`], [`FakeS3::keys`],
//! [`FakeS3::object`],
//! [`FakeS3::put_object`], [`FakeS3::requests`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const BUCKET: &str = "tastebud-images";
pub const ACCESS_KEY: &str = "AKIDTASTEBUDTEST";
pub const SECRET_KEY: &str = "fake-secret-for-loopback-tests";
pub const REGION: &str = "us-east-1";
/// Keys per ListObjectsV2 page.
pub const PAGE: usize = 3;

#[derive(Clone)]
struct Object {
    body: Bytes,
    modified: DateTime<Utc>,
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<String, Object>,
    /// Method and path of every request that passed the signature check.
    requests: Vec<String>,
}

pub struct FakeS3 {
    endpoint: String,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeS3 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeS3 {
    pub async fn start() -> FakeS3 {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeS3 {
            endpoint,
            inner,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every key in the bucket, in order.
    pub fn keys(&self) -> Vec<String> {
        self.inner.lock().unwrap().objects.keys().cloned().collect()
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        let inner = self.inner.lock().unwrap();
        inner.objects.get(key).map(|o| o.body.to_vec())
    }

    /// Puts (or replaces) an object directly, as another tool writing to the bucket would,
    /// with the given age.
    pub fn put_object(&self, key: &str, body: &[u8], age: std::time::Duration) {
        let modified = Utc::now() - chrono::Duration::from_std(age).unwrap();
        self.inner.lock().unwrap().objects.insert(
            key.to_string(),
            Object {
                body: Bytes::copy_from_slice(body),
                modified,
            },
        );
    }

    /// The `AWS_*` settings of a client of this server signing with `secret` (the right one
    /// is [`SECRET_KEY`]).
    pub fn settings(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", secret.into()),
        ]
    }

    /// "METHOD path" of every signed request, in order.
    pub fn requests(&self) -> Vec<String> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>fake</RequestId></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(body) => body,
        Err(_) => return error(StatusCode::BAD_REQUEST, "IncompleteBody", "body"),
    };
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    if let Err(refused) =
        check_signature(&parts.method, &raw_path, &raw_query, &parts.headers, &body)
    {
        return *refused;
    }
    let path = decode(raw_path.trim_start_matches('/'));
    let (bucket, key) = path.split_once('/').unwrap_or((path.as_str(), ""));
    if bucket != BUCKET {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    }
    let query: BTreeMap<String, String> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let mut inner = inner.lock().unwrap();
    inner.requests.push(format!("{} /{path}", parts.method));
    match (&parts.method, key.is_empty()) {
        (&Method::GET, true) if query.get("list-type").map(String::as_str) == Some("2") => {
            list(&inner, &query)
        }
        (&Method::POST, true) if query.contains_key("delete") => {
            delete_objects(&mut inner, &parts.headers, &body)
        }
        (&Method::PUT, false) => {
            let object = Object {
                body,
                modified: Utc::now(),
            };
            let etag = etag(&object.body);
            inner.objects.insert(key.to_string(), object);
            (StatusCode::OK, [(header::ETAG, etag)]).into_response()
        }
        (&Method::GET, false) | (&Method::HEAD, false) => match inner.objects.get(key) {
            Some(object) => {
                let headers = [
                    (header::ETAG, etag(&object.body)),
                    (
                        header::LAST_MODIFIED,
                        object
                            .modified
                            .format("%a, %d %b %Y %H:%M:%S GMT")
                            .to_string(),
                    ),
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                ];
                if parts.method == Method::HEAD {
                    let length = object.body.len().to_string();
                    (StatusCode::OK, headers, [(header::CONTENT_LENGTH, length)]).into_response()
                } else {
                    (StatusCode::OK, headers, object.body.clone()).into_response()
                }
            }
            None if parts.method == Method::HEAD => StatusCode::NOT_FOUND.into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
        },
        (&Method::DELETE, false) => {
            inner.objects.remove(key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented",
        ),
    }
}

fn list(inner: &Inner, query: &BTreeMap<String, String>) -> Response {
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let after = query.get("continuation-token").cloned();
    let matching: Vec<(&String, &Object)> = inner
        .objects
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k.as_str() > a.as_str()))
        .collect();
    let page = &matching[..matching.len().min(PAGE)];
    let truncated = matching.len() > PAGE;
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>{BUCKET}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount>\
         <MaxKeys>{PAGE}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(&prefix),
        page.len()
    );
    for (key, object) in page {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag>\
             <Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(key),
            object.modified.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            escape(&etag(&object.body)),
            object.body.len()
        ));
    }
    if truncated && let Some((last, _)) = page.last() {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(last)
        ));
    }
    xml.push_str("</ListBucketResult>");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        xml,
    )
        .into_response()
}

/// DeleteObjects: the keys of the `<Delete>` document, each answered as deleted.
fn delete_objects(inner: &mut Inner, headers: &HeaderMap, body: &[u8]) -> Response {
    use base64::Engine;
    let Some(md5) = headers.get("content-md5").and_then(|v| v.to_str().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Missing required header for this request: Content-MD5",
        );
    };
    let expected = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body));
    if md5 != expected {
        return error(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        );
    }
    let text = String::from_utf8_lossy(body);
    let mut answer = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    for part in text.split("<Key>").skip(1) {
        let Some((key, _)) = part.split_once("</Key>") else {
            return error(
                StatusCode::BAD_REQUEST,
                "MalformedXML",
                "The XML you provided was not well-formed",
            );
        };
        let key = unescape(key);
        inner.objects.remove(&key);
        answer.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", escape(&key)));
    }
    answer.push_str("</DeleteResult>");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        answer,
    )
        .into_response()
}

/// S3's ETag of a single-part upload: the quoted MD5 of the body.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex(&md5::Md5::digest(body)))
}

/// Recomputes the request's Signature Version 4 and compares it with the one it carries.
fn check_signature(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Box<Response>> {
    let denied = |code: &str, message: &str| Box::new(error(StatusCode::FORBIDDEN, code, message));
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(denied("AccessDenied", "Access Denied"));
    };
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(denied("AccessDenied", "Unsupported authorization type"));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name))
            .map(str::to_string)
    };
    let (Some(credential), Some(signed), Some(signature)) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    ) else {
        return Err(denied("AccessDenied", "Malformed authorization header"));
    };
    let mut scope = credential.splitn(2, '/');
    let key_id = scope.next().unwrap_or_default();
    let scope = scope.next().unwrap_or_default().to_string();
    if key_id != ACCESS_KEY {
        return Err(denied(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let payload = header("x-amz-content-sha256");
    if payload.is_empty() {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Missing required header for this request: x-amz-content-sha256",
        )));
    }
    if payload != "UNSIGNED-PAYLOAD" && payload != hex(&Sha256::digest(body)) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )));
    }
    let date = header("x-amz-date");
    // S3 refuses a request signed more than 15 minutes away from its own clock.
    let signed_at = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .map(|d| d.and_utc())
        .map_err(|_| {
            denied(
                "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header",
            )
        })?;
    if (Utc::now() - signed_at).num_seconds().abs() > 15 * 60 {
        return Err(denied(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        ));
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = signed
        .split(';')
        .map(|name| {
            let value = if name == "host" {
                header("host")
            } else {
                header(name)
            };
            format!("{name}:{value}\n")
        })
        .collect();
    let canonical =
        format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut parts = scope.split('/');
    let (day, region, service) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if expected != signature {
        return Err(denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-decoding (`+` is not a space in S3 paths and SigV4 queries).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .map_err(|_| ())
                .and_then(|h| u8::from_str_radix(h, 16).map_err(|_| ()))
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SigV4's URI encoding: unreserved characters as they are, every other byte as `%XX`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
