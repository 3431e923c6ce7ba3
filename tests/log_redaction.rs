//! No secrets in a trace-level log: the real `tastebud run` binary, with `RUST_LOG=trace`,
//! against the fake Discord on loopback, through a session that makes every library print what
//! it sends and receives: IDENTIFY with the bot token, interactions with their tokens, a 429 on
//! an interaction's edit, a moodboard upload from a signed attachment URL, a result after the
//! interaction token expired (50027) and a click answered too late (10062). Its whole output
//! must hold none of those secrets, and must really be a trace-level log of those libraries.

mod common;
mod fake_discord;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use fake_discord::{APP_ID, CHANNEL_ID, FakeDiscord, GUILD_ID};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use common::QUICK;

const ALICE: u64 = 111_111_111_111_111_111;

/// A made-up bot token shaped like Discord's (base64 of a bot id, a timestamp, an HMAC), put
/// together here so that no token-shaped string is in the repository.
fn made_up_token() -> String {
    let id = ["OTAwMDAw", "MDAwMDAw", "MDAwMDAwNA"].concat();
    let hmac = ["fake", "_not-a-real-hmac_", "0123456789abcdefghi"].concat();
    format!("{id}.{}.{hmac}", "GtRzQx")
}

/// Everything a child process writes on one of its pipes.
fn collect(mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock().expect("output").extend_from_slice(&chunk[..n]);
        }
    });
    out
}

/// How interaction `token` was answered: 4 for a message (also a deferred one, once edited),
/// 7 for an update of the clicked message, with the message.
async fn answered(fake: &FakeDiscord, token: &str) -> (u64, Value) {
    let callback = fake.response(token).await;
    match callback.json["type"].as_u64().unwrap_or(0) {
        kind @ (5 | 6) => {
            let edit = fake.edit(token, |_| true).await;
            (if kind == 5 { 4 } else { 7 }, edit.json)
        }
        kind => (kind, callback.json["data"].clone()),
    }
}

fn content(data: &Value) -> &str {
    data["content"].as_str().unwrap_or("")
}

/// The custom id of the component whose label starts with `label`.
fn button(data: &Value, label: &str) -> String {
    data["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|c| c["label"].as_str().is_some_and(|l| l.starts_with(label)))
        .and_then(|c| c["custom_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no button {label:?} in {data}"))
}

/// A small PNG that decodes.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(48, 32, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 7) as u8, (x * y % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// The values of the `ex`, `is` and `hm` parameters of a signed URL.
fn signature_parts(url: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let parts: Vec<String> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| ["ex", "is", "hm"].contains(key))
        .map(|(_, value)| value.to_string())
        .collect();
    assert_eq!(parts.len(), 3, "a signed URL: {url}");
    parts
}

/// A slash command from Alice in the test guild: its token.
async fn slash(fake: &FakeDiscord, name: &str, options: Value) -> String {
    fake.slash(ALICE, name, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_level_bot_session_logs_no_token_and_no_signed_url() {
    let token = made_up_token();
    let fake = FakeDiscord::start_with_token(&token).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tastebud.toml");
    std::fs::write(
        &config,
        format!(
            "{QUICK}[discord]\nguild_id = {GUILD_ID}\nrest_proxy = \"{}\"\n",
            fake.base
        ),
    )
    .expect("write the config");
    let mut bot = tokio::process::Command::new(env!("CARGO_BIN_EXE_tastebud"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("DISCORD_TOKEN", &token)
        .env("RUST_LOG", "trace")
        .env_remove("TASTEBUD_DISCORD__REST_PROXY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tastebud");
    let stdout = collect(bot.stdout.take().expect("stdout"));
    let stderr = collect(bot.stderr.take().expect("stderr"));
    fake.wait_ready(1).await;

    // /settings, whose first edit Discord answers 429, and a click on its toggle.
    fake.rate_limit_next(
        Method::PATCH,
        "/messages/@original",
        Duration::from_millis(500),
    )
    .await;
    let (_, panel) = answered(&fake, &slash(&fake, "settings", json!([])).await).await;
    assert!(content(&panel).starts_with("**Settings**"), "{panel}");
    let toggle = button(&panel, "Personalization: off");
    let (kind, _) = answered(&fake, &fake.click(ALICE, &toggle, None).await).await;
    assert_eq!(kind, 7);

    // /rank and three votes: Alice's V7 profile unlocks.
    let rank = slash(&fake, "rank", json!([])).await;
    let mut pair = fake.edit(&rank, |r| !r.files.is_empty()).await.json;
    for _ in 0..3 {
        let vote = button(&pair, "1");
        pair = answered(&fake, &fake.click(ALICE, &vote, None).await)
            .await
            .1;
    }

    // A moodboard, and an image attached to /moodboard add: downloaded from its signed URL.
    let create = json!([{"name": "create", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "Dusk"}
    ]}]);
    let (_, created) = answered(&fake, &slash(&fake, "moodboard", create).await).await;
    let board = content(&created)
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no moodboard ID in {created}"))
        .to_string();
    let photo = fake.attachment("dusk.png", "image/png", &png()).await;
    let signed = signature_parts(photo["url"].as_str().unwrap_or(""));
    let add = json!([{"name": "add", "type": 1, "options": [
        {"name": "moodboard", "type": 3, "value": board},
        {"name": "image1", "type": 11, "value": photo["id"]}
    ]}]);
    let added = fake
        .slash_with(ALICE, "moodboard", add, Some(std::slice::from_ref(&photo)))
        .await;
    let (_, added) = answered(&fake, &added).await;
    assert!(content(&added).starts_with("Added 1 image"), "{added}");
    assert_eq!(fake.downloads(&photo).await, 1);

    // /imagine whose result comes after the token expired: refused with 50027, then posted in
    // the channel.
    let mut held = fake
        .hold_next(Method::POST, &format!("/webhooks/{APP_ID}/"))
        .await;
    let late = slash(
        &fake,
        "imagine",
        json!([{"name": "prompt", "type": 3, "value": "a fox in snow"}]),
    )
    .await;
    held.arrived().await;
    fake.advance(Duration::from_secs(15 * 60 + 1)).await;
    held.release();
    fake.channel_message(CHANNEL_ID, |r| !r.files.is_empty())
        .await;
    let expired = fake
        .wait_for("the expired follow-up", |r| {
            r.method == Method::POST && r.path.ends_with(&late)
        })
        .await;
    assert_eq!(expired.status, 401);

    // A click whose answer arrives after three seconds: 10062. The fake counts this as the
    // bot's fault, so nothing waits on the fake after it.
    let mut held = fake.hold_next(Method::POST, "/callback").await;
    let click = fake.click(ALICE, &toggle, None).await;
    held.arrived().await;
    fake.advance(Duration::from_secs(4)).await;
    held.release();
    let needle = format!("/{click}/callback");
    for _ in 0..100 {
        let requests = fake.requests().await;
        if requests
            .iter()
            .any(|r| r.path.ends_with(&needle) && r.status == 404)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for the bot to log what it makes of the refusal.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // SIGTERM, as `systemctl stop` sends it.
    let pid = bot.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), bot.wait())
        .await
        .expect("tastebud stops on SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    // The pipes are at their end once the process is gone; give the readers a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut output = String::from_utf8_lossy(&stderr.lock().expect("stderr")).into_owned();
    output.push_str(&String::from_utf8_lossy(&stdout.lock().expect("stdout")));
    // LOG_REDACTION_DUMP=FILE keeps the log for a look (not TASTEBUD_*: the bot would read
    // it as configuration).
    if let Some(path) = std::env::var_os("LOG_REDACTION_DUMP") {
        std::fs::write(path, &output).expect("dump the log");
    }

    // Not vacuous: a trace-level log of the websocket library and serenity (each line is
    // `time LEVEL spans: target: message`), with the frames and messages that carry the
    // secrets, in which the redaction had something to do.
    assert!(output.len() > 100_000, "{} bytes of log", output.len());
    for target in [" tungstenite::", " serenity::gateway::", " hyper_util::"] {
        let lines = output
            .lines()
            .filter(|l| l.contains(" TRACE ") && l.contains(target))
            .count();
        assert!(lines >= 3, "{lines} trace lines of {target:?}");
    }
    for needle in [
        "tungstenite::protocol: Sending frame",
        "tungstenite::protocol::frame: writing frame",
        "tungstenite::protocol: Received message",
        "serenity::gateway::ws: [ShardInfo { id: ShardId(0), total: 1 }] Identifying",
        "tastebud::discord::rest: Discord answered 429",
        "Unknown interaction",
        "shutting down",
    ] {
        assert!(output.contains(needle), "no {needle:?} in the log");
    }

    let interaction_tokens = fake.interaction_tokens().await;
    assert!(interaction_tokens.len() >= 10, "{interaction_tokens:?}");
    let hmac = token.rsplit('.').next().unwrap_or_default().to_string();
    let mut secrets = vec![("the bot token", token.clone()), ("its HMAC", hmac)];
    for t in interaction_tokens {
        secrets.push(("an interaction token", t));
    }
    for part in signed {
        secrets.push(("an attachment URL's signature", part));
    }
    for (what, secret) in &secrets {
        for (how, form) in encodings(secret) {
            if let Some(at) = output.find(form.as_str()) {
                let line_start = output[..at].rfind('\n').map_or(0, |n| n + 1);
                let line_end = output[at..].find('\n').map_or(output.len(), |n| at + n);
                panic!(
                    "{what} ({secret}) is in the log {how}:\n{}",
                    &output[line_start..line_end.min(line_start + 2000)]
                );
            }
        }
    }
    assert!(output.contains("[redacted]"), "nothing was redacted");
}

/// The ways a secret shows in a log: as text, and as the websocket library prints frame
/// payloads (hex, and `Debug` of the bytes).
fn encodings(secret: &str) -> Vec<(&'static str, String)> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let list: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
    vec![
        ("as text", secret.to_string()),
        ("in hex", hex.clone()),
        ("in hex", hex.to_uppercase()),
        ("as a byte list", list.join(", ")),
    ]
}
