//! The fake Discord itself, checked with plain HTTP and websocket calls: it refuses what real
//! Discord refuses, with Discord's status codes and JSON bodies, and records violations.

mod fake_discord;

use std::time::Duration;

use fake_discord::{APP_ID, FakeDiscord, GUILD_ID, TOKEN};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const USER: u64 = 333_333_333_333_333_333;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the fake's gateway and identifies as `shard`; returns the socket and the READY
/// (or the close code).
async fn connect(fake: &FakeDiscord, shard: Option<[u32; 2]>) -> (Socket, Result<Value, u16>) {
    let url = fake.base.replace("http://", "ws://") + "/ws";
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let hello = next_json(&mut socket).await.expect("HELLO");
    assert_eq!(hello["op"], 10);
    let mut d = json!({"token": TOKEN, "intents": 1, "properties":
        {"os": "linux", "browser": "test", "device": "test"}});
    if let Some(shard) = shard {
        d["shard"] = json!(shard);
    }
    socket
        .send(Message::text(json!({"op": 2, "d": d}).to_string()))
        .await
        .unwrap();
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("\"op\":9") => {
                return (socket, Err(9));
            }
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["t"] == "READY" {
                    return (socket, Ok(v["d"].clone()));
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map(|f| u16::from(f.code)).unwrap_or(0);
                return (socket, Err(code));
            }
            Some(Ok(_)) => {}
            other => panic!("gateway ended: {other:?}"),
        }
    }
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// A request to the fake's REST API: status, headers, JSON body.
async fn call(
    fake: &FakeDiscord,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method, format!("{}/api/v10{path}", fake.base))
        .header("authorization", format!("Bot {TOKEN}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// A multipart message body: `payload_json` and one file of `size` bytes.
async fn call_with_file(
    fake: &FakeDiscord,
    path: &str,
    payload: Value,
    size: usize,
) -> (u16, Value) {
    let boundary = "fakeboundary0123456789";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\
             Content-Type: application/json\r\n\r\n{payload}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"files[0]\"; filename=\"big.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(std::iter::repeat_n(0u8, size));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{}/api/v10{path}", fake.base))
        .header("authorization", format!("Bot {TOKEN}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A fake with one connected gateway session and `/say text` (max 10 characters) registered
/// in the test guild.
async fn ready_fake() -> (FakeDiscord, Socket) {
    let fake = FakeDiscord::start().await;
    let (socket, ready) = connect(&fake, None).await;
    assert_eq!(ready.expect("READY")["shard"], json!([0, 1]));
    let (status, _, body) = call(
        &fake,
        Method::PUT,
        &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
        Some(
            json!([{"name": "say", "description": "Says something", "type": 1, "options": [
                {"type": 3, "name": "text", "description": "What to say", "max_length": 10}
            ]}]),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (fake, socket)
}

async fn say(fake: &FakeDiscord) -> (String, String) {
    let token = fake
        .slash(
            USER,
            "say",
            json!([{"name": "text", "type": 3, "value": "hi"}]),
        )
        .await;
    let id = token.trim_start_matches("tok").to_string();
    (id, token)
}

fn callback(id: &str, token: &str) -> String {
    format!("/interactions/{id}/{token}/callback")
}

#[tokio::test]
async fn a_message_over_2000_characters_is_refused_with_50035_and_recorded() {
    let (fake, _socket) = ready_fake().await;
    let (id, token) = say(&fake).await;
    let (status, headers, body) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 4, "data": {"content": "x".repeat(2001)}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 50035);
    assert_eq!(body["message"], "Invalid Form Body");
    assert_eq!(
        body["errors"]["data"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    assert!(headers.contains_key("x-ratelimit-bucket"));
    let violations = fake.violations().await;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("2000"), "{violations:?}");
    let requests = fake.requests().await;
    let last = requests.last().unwrap();
    assert_eq!(last.status, 400, "refused requests are recorded");

    // A refused callback does not count: a valid one is still accepted.
    let (status, _, _) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 4, "data": {"content": "ok"}})),
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn six_action_rows_and_a_shared_select_row_are_refused() {
    let (fake, _socket) = ready_fake().await;
    let (id, token) = say(&fake).await;
    let button =
        |n: usize| json!({"type": 2, "style": 1, "label": "b", "custom_id": format!("b{n}")});
    let rows: Vec<Value> = (0..6)
        .map(|n| json!({"type": 1, "components": [button(n)]}))
        .collect();
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 4, "data": {"content": "x", "components": rows}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"]["data"]["components"]["_errors"].is_array(),
        "{body}"
    );
    let select = json!({"type": 3, "custom_id": "menu", "options": [{"label": "a", "value": "a"}]});
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 4, "data": {"content": "x", "components": [
            {"type": 1, "components": [select, button(9)]}]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(fake.violations().await.len(), 2);
}

#[tokio::test]
async fn a_callback_after_3_seconds_gets_10062_and_a_second_one_40060() {
    let (fake, _socket) = ready_fake().await;
    let (id, token) = say(&fake).await;
    fake.advance(Duration::from_millis(3100)).await;
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 5})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"code": 10062, "message": "Unknown interaction"})
    );
    assert!(fake.violations().await[0].contains("3 s"));

    let (id, token) = say(&fake).await;
    let path = callback(&id, &token);
    let (status, _, _) = call(&fake, Method::POST, &path, Some(json!({"type": 5}))).await;
    assert_eq!(status, 204);
    let (status, _, body) = call(&fake, Method::POST, &path, Some(json!({"type": 5}))).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 40060);
    assert_eq!(fake.violations().await.len(), 2);
}

#[tokio::test]
async fn an_edit_before_the_callback_is_an_unknown_webhook() {
    let (fake, _socket) = ready_fake().await;
    let (_, token) = say(&fake).await;
    let (status, _, body) = call(
        &fake,
        Method::PATCH,
        &format!("/webhooks/{APP_ID}/{token}/messages/@original"),
        Some(json!({"content": "early"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 10015);
    assert_eq!(fake.violations().await.len(), 1);
}

#[tokio::test]
async fn fifteen_minutes_later_a_follow_up_gets_50027_and_is_no_violation() {
    let (fake, _socket) = ready_fake().await;
    let (id, token) = say(&fake).await;
    let (status, _, _) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 5})),
    )
    .await;
    assert_eq!(status, 204);
    let follow_up = format!("/webhooks/{APP_ID}/{token}");
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &follow_up,
        Some(json!({"content": "in time"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    fake.advance(Duration::from_secs(15 * 60 + 1)).await;
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &follow_up,
        Some(json!({"content": "too late"})),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"code": 50027, "message": "Invalid Webhook Token"})
    );
    fake.assert_no_violations().await;
    let last = fake.requests().await.pop().unwrap();
    assert_eq!(last.status, 401);
    assert!(last.at >= Duration::from_secs(15 * 60), "{:?}", last.at);
}

#[tokio::test]
async fn a_file_over_the_attachment_size_limit_gets_413() {
    let (fake, _socket) = ready_fake().await;
    let (id, token) = say(&fake).await;
    let (status, _, _) = call(
        &fake,
        Method::POST,
        &callback(&id, &token),
        Some(json!({"type": 5})),
    )
    .await;
    assert_eq!(status, 204);
    let path = format!("/webhooks/{APP_ID}/{token}");
    let (status, body) = call_with_file(
        &fake,
        &path,
        json!({"content": "big"}),
        10 * 1024 * 1024 + 1,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], 40005);
    assert_eq!(fake.violations().await.len(), 1);
    let (status, body) = call_with_file(&fake, &path, json!({"content": "fits"}), 1000).await;
    assert_eq!(status, 200, "{body}");
    // Both were recorded with their files; the waiting helpers would now panic, as the
    // bot broke a rule.
    let sent: Vec<_> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.path == format!("/api/v10{path}"))
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].status, sent[0].files.len()), (413, 1));
    assert_eq!((sent[1].status, sent[1].files[0].bytes.len()), (200, 1000));
    let waited = tokio::spawn(async move { fake.follow_up(&token, |_| true).await });
    assert!(waited.await.unwrap_err().is_panic());
}

#[tokio::test]
async fn a_429_carries_retry_after_and_the_body_and_an_early_retry_is_a_violation() {
    let fake = FakeDiscord::start().await;
    let (status, _, dm) = call(
        &fake,
        Method::POST,
        "/users/@me/channels",
        Some(json!({"recipient_id": USER.to_string()})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(dm["type"], 1);
    let path = format!("/channels/{}/messages", dm["id"].as_str().unwrap());
    let (status, headers, _) =
        call(&fake, Method::POST, &path, Some(json!({"content": "one"}))).await;
    assert_eq!(status, 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(headers.contains_key(h), "{h} missing: {headers:?}");
    }

    fake.rate_limit_next(Method::POST, "/messages", Duration::from_millis(1500))
        .await;
    let (status, headers, body) =
        call(&fake, Method::POST, &path, Some(json!({"content": "two"}))).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(body["retry_after"].as_f64(), Some(1.5));
    assert_eq!(body["global"], false);
    assert!(body["message"].as_str().unwrap().contains("rate limited"));
    fake.assert_no_violations().await;

    // Retrying at once: 429 again, and a violation.
    let (status, _, _) = call(&fake, Method::POST, &path, Some(json!({"content": "two"}))).await;
    assert_eq!(status, 429);
    assert_eq!(fake.violations().await.len(), 1);
    fake.advance(Duration::from_millis(1600)).await;
    let (status, _, _) = call(&fake, Method::POST, &path, Some(json!({"content": "two"}))).await;
    assert_eq!(status, 200);
    assert_eq!(fake.dm_messages(USER).await.len(), 2);
}

#[tokio::test]
async fn a_closed_dm_gets_50007_and_the_invite_lets_the_bot_post_in_its_channel() {
    let fake = FakeDiscord::start().await;
    fake.close_dms(USER).await;
    let (_, _, dm) = call(
        &fake,
        Method::POST,
        "/users/@me/channels",
        Some(json!({"recipient_id": USER.to_string()})),
    )
    .await;
    let (status, _, body) = call(
        &fake,
        Method::POST,
        &format!("/channels/{}/messages", dm["id"].as_str().unwrap()),
        Some(json!({"content": "hello"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"code": 50007, "message": "Cannot send messages to this user"})
    );
    // The invite link grants View Channel and Send Messages: a plain message is taken; a
    // channel the fake does not know is 10003.
    let (status, _, _) = call(
        &fake,
        Method::POST,
        &format!("/channels/{}/messages", fake_discord::CHANNEL_ID),
        Some(json!({"content": "hello"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = call(
        &fake,
        Method::POST,
        "/channels/42/messages",
        Some(json!({"content": "hello"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 10003);
    fake.assert_no_violations().await;
    assert!(fake.dm_messages(USER).await.is_empty());
}

#[tokio::test]
async fn registration_fails_on_request_and_bad_commands_are_refused() {
    let fake = FakeDiscord::start().await;
    fake.fail_registrations(1).await;
    let path = format!("/applications/{APP_ID}/commands");
    let good = json!([{"name": "ok", "description": "fine", "type": 1}]);
    let (status, _, _) = call(&fake, Method::PUT, &path, Some(good.clone())).await;
    assert_eq!(status, 500);
    let (status, _, _) = call(&fake, Method::PUT, &path, Some(good)).await;
    assert_eq!(status, 200);
    fake.assert_no_violations().await;
    let (status, _, body) = call(
        &fake,
        Method::PUT,
        &path,
        Some(
            json!([{"name": "Bad Name", "description": "d".repeat(101), "type": 1,
                      "options": [{"type": 3, "name": "s", "description": "s",
                                   "max_length": 7000}]}]),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 50035);
    let violations = fake.violations().await;
    assert_eq!(violations.len(), 1);
    assert!(violations[0].contains("max_length"), "{violations:?}");
    let (status, _, app) = call(&fake, Method::GET, "/oauth2/applications/@me", None).await;
    assert_eq!(status, 200);
    assert_eq!(app["id"], APP_ID.to_string());
}

#[tokio::test]
#[should_panic(expected = "max_length")]
async fn slash_refuses_an_option_longer_than_its_max_length() {
    let (fake, _socket) = ready_fake().await;
    fake.slash(
        USER,
        "say",
        json!([{"name": "text", "type": 3, "value": "more than ten"}]),
    )
    .await;
}

#[tokio::test]
async fn interactions_go_to_the_shard_discord_would_use() {
    let fake = FakeDiscord::start().await;
    fake.set_shards(2).await;
    let (_, _, gateway) = call(&fake, Method::GET, "/gateway/bot", None).await;
    assert_eq!(gateway["shards"], 2);
    assert_eq!(gateway["session_start_limit"]["max_concurrency"], 1);
    // One shard of one is not enough for an app that needs two.
    let (_, refused) = connect(&fake, None).await;
    assert_eq!(refused.unwrap_err(), 4011);
    let (_s0, ready0) = connect(&fake, Some([0, 2])).await;
    // max_concurrency 1: one session start per 5 s.
    let (_, too_soon) = connect(&fake, Some([1, 2])).await;
    assert_eq!(too_soon.unwrap_err(), 9, "Invalid Session");
    fake.advance(Duration::from_secs(5)).await;
    let (_s1, ready1) = connect(&fake, Some([1, 2])).await;
    assert_eq!(ready0.unwrap()["shard"], json!([0, 2]));
    assert_eq!(ready1.unwrap()["shard"], json!([1, 2]));
    assert_eq!(fake.identifies().await.len(), 4);
    assert_eq!(fake.identifies().await[1]["shard"], json!([0, 2]));
    let (status, _, _) = call(
        &fake,
        Method::PUT,
        &format!("/applications/{APP_ID}/commands"),
        Some(json!([{"name": "say", "description": "Says", "type": 1}])),
    )
    .await;
    assert_eq!(status, 200);
    let token = fake.slash(USER, "say", json!([])).await;
    let expected = ((GUILD_ID >> 22) % 2) as u32;
    assert_eq!(fake.shard_of(&token).await, Some([expected, 2]));
    let dm = fake
        .slash_from(&fake_discord::Place::dm(), USER, "say", json!([]), None)
        .await;
    assert_eq!(fake.shard_of(&dm).await, Some([0, 2]), "DMs go to shard 0");
    fake.assert_no_violations().await;
    fake.advance(Duration::from_secs(5)).await;
    let (_, invalid) = connect(&fake, Some([2, 2])).await;
    assert_eq!(invalid.unwrap_err(), 4010);
    assert_eq!(fake.violations().await.len(), 1);
}

#[tokio::test]
async fn an_attachment_is_served_only_at_its_signed_url() {
    let fake = FakeDiscord::start().await;
    let file = fake.attachment("a.png", "image/png", b"bytes").await;
    let url = file["url"].as_str().expect("url");
    let (unsigned, query) = url.split_once('?').expect("a query");
    let keys: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(key, _)| key))
        .collect();
    assert_eq!(keys, ["ex", "is", "hm"], "{url}");
    let get = |url: String| async move {
        let response = reqwest::get(url).await.expect("GET");
        (
            response.status().as_u16(),
            response.bytes().await.expect("body"),
        )
    };
    let (status, body) = get(url.to_string()).await;
    assert_eq!((status, &body[..]), (200, &b"bytes"[..]));
    assert_eq!(get(unsigned.to_string()).await.0, 404);
    let forged = url.replace("hm=", "hm=0");
    assert_eq!(get(forged).await.0, 404);
    assert_eq!(fake.downloads(&file).await, 3, "every try is recorded");
}
