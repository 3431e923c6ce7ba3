//! The gateway websocket: HELLO, IDENTIFY with `shard` and `intents`, READY with the
//! connection's `shard`, heartbeat ACKs, and dispatches; following
//! `developers/events/gateway.mdx` and `developers/events/gateway-events.mdx`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{APP_ID, BOT_ID, Connection, FakeDiscord, GUILD_ID, user_json};

const GATEWAY_PAGE: &str = "developers/events/gateway.mdx";

/// Every intent bit `developers/events/gateway.mdx` ("List of Intents") defines.
const KNOWN_INTENTS: u64 = ((1 << 17) - 1) | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
/// Privileged intents (same page, "Privileged Intents"): GUILD_MEMBERS, GUILD_PRESENCES,
/// MESSAGE_CONTENT. The fake application has none of them enabled.
const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | (1 << 15);

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(1);

pub async fn gateway(State(fake): State<FakeDiscord>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(fake, socket))
}

async fn send(socket: &mut WebSocket, payload: &Value) -> bool {
    socket
        .send(Message::Text(payload.to_string().into()))
        .await
        .is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// What to do with an IDENTIFY: refuse it with a close code, or accept it as `[shard, total]`.
enum Identified {
    Close(u16, &'static str),
    /// Invalid Session (op 9), not resumable: identified too soon after another session.
    TooSoon,
    Ready([u32; 2]),
}

/// Checks an IDENTIFY (`developers/events/gateway-events.mdx`, "Identify Structure") and
/// records its `d`:
/// - a wrong token: close 4004 Authentication failed;
/// - `intents` missing or with undefined bits: close 4013 Invalid intent(s); privileged
///   intents the app has not enabled: close 4014 Disallowed intent(s)
///   (`developers/events/gateway.mdx`, "Gateway Intents"; close codes in
///   `developers/topics/opcodes-and-status-codes.mdx`);
/// - `shard` `[id, total]` with `id >= total`: close 4010 Invalid shard, and a violation
///   (`developers/events/gateway.mdx`, "Sharding": the first item is the zero-based shard id,
///   the second the total);
/// - fewer shards in total than `GET /gateway/bot` recommends when it recommends more than
///   one: close 4011 Sharding required (same page: 2500 servers per shard at most, the fake's
///   app being in as many servers as its recommendation implies);
/// - a session started less than 5 s (fake clock) after the previous one: Invalid Session
///   (op 9, `d: false`), as `max_concurrency` is 1 (`developers/events/gateway.mdx`, "Session
///   Start Limit Object": "Number of identify requests allowed per 5 seconds"; "Max
///   Concurrency": exceeding it is answered with Invalid Session). Not a violation: another
///   process may have started the previous session;
/// - two live connections identifying as the same `[id, total]`: a violation. Discord itself
///   allows duplicate sessions ("Sharding": "You can establish multiple sessions with the same
///   `[shard_id, num_shards]`"), but then each event reaches one of them; for tastebud, which
///   runs each shard once, it is a bug. This is a project rule.
async fn identify(fake: &FakeDiscord, d: &Value) -> Identified {
    let mut inner = fake.inner.lock().await;
    inner.identifies.push(d.clone());
    inner.sessions_remaining = inner.sessions_remaining.saturating_sub(1);
    let token = fake.token();
    if d["token"].as_str() != Some(token) && d["token"].as_str() != Some(&format!("Bot {token}")) {
        return Identified::Close(4004, "Authentication failed.");
    }
    let Some(intents) = d["intents"].as_u64() else {
        return Identified::Close(4013, "Invalid intent(s).");
    };
    if intents & !KNOWN_INTENTS != 0 {
        return Identified::Close(4013, "Invalid intent(s).");
    }
    if intents & PRIVILEGED_INTENTS != 0 {
        return Identified::Close(4014, "Disallowed intent(s).");
    }
    let shard = match d["shard"].as_array() {
        Some(pair) => [
            pair.first().and_then(Value::as_u64).unwrap_or(u64::MAX) as u32,
            pair.get(1).and_then(Value::as_u64).unwrap_or(0) as u32,
        ],
        None => [0, 1],
    };
    if shard[1] == 0 || shard[0] >= shard[1] {
        inner.violations.push(format!(
            "IDENTIFY with shard {shard:?}: the shard id must be below the total ({GATEWAY_PAGE}, \
             Sharding)"
        ));
        drop(inner);
        fake.changed.notify_waiters();
        return Identified::Close(4010, "Invalid shard.");
    }
    if inner.shards > 1 && shard[1] < inner.shards {
        return Identified::Close(4011, "Sharding required.");
    }
    let now = fake.clock(&inner);
    if let Some(last) = inner.last_session_start
        && now < last + Duration::from_secs(5)
    {
        return Identified::TooSoon;
    }
    inner.last_session_start = Some(now);
    if inner.connections.iter().any(|c| c.shard == shard) {
        inner.violations.push(format!(
            "two live gateway connections identified as shard {shard:?} (project rule: tastebud \
             runs each shard once; see {GATEWAY_PAGE}, Sharding)"
        ));
        drop(inner);
        fake.changed.notify_waiters();
    }
    Identified::Ready(shard)
}

async fn serve(fake: FakeDiscord, mut socket: WebSocket) {
    let id = CONNECTION_IDS.fetch_add(1, Ordering::Relaxed);
    let (events, mut outbox) = mpsc::unbounded_channel::<Value>();
    // `developers/events/gateway.mdx`, "Hello Event": the first message, with the interval.
    if !send(
        &mut socket,
        &json!({"op": 10, "d": {"heartbeat_interval": 41_250}}),
    )
    .await
    {
        return;
    }
    let mut seq = 0u64;
    let mut identified = false;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else {
                    close(&mut socket, 4002, "Error while decoding payload.").await;
                    break;
                };
                match payload["op"].as_u64() {
                    // Heartbeat → Heartbeat ACK ("Sending Heartbeats").
                    Some(1) => {
                        let sent = send(&mut socket, &json!({"op": 11})).await;
                        if !sent {
                            break;
                        }
                    }
                    Some(2) if identified => {
                        // "Already authenticated" (close code 4005).
                        close(&mut socket, 4005, "Already authenticated.").await;
                        break;
                    }
                    Some(2) => match identify(&fake, &payload["d"]).await {
                        Identified::Close(code, reason) => {
                            close(&mut socket, code, reason).await;
                            break;
                        }
                        Identified::TooSoon => {
                            let sent = send(&mut socket, &json!({"op": 9, "d": false})).await;
                            if !sent {
                                break;
                            }
                        }
                        Identified::Ready(shard) => {
                            identified = true;
                            seq += 1;
                            let on_shard = ((GUILD_ID >> 22) % u64::from(shard[1])) as u32
                                == shard[0];
                            let guilds = if on_shard {
                                json!([{"id": GUILD_ID.to_string(), "unavailable": true}])
                            } else {
                                json!([])
                            };
                            // "Ready": v, user, guilds, session_id, resume_gateway_url,
                            // shard, application {id, flags}.
                            let ready = json!({"op": 0, "t": "READY", "s": seq, "d": {
                                "v": 10, "user": user_json(BOT_ID, "tastebud", true),
                                "guilds": guilds,
                                "session_id": format!("fake-session-{id}"),
                                "resume_gateway_url": fake.base.replace("http://", "ws://") + "/ws",
                                "application": {"id": APP_ID.to_string(), "flags": 0},
                                "shard": shard
                            }});
                            if !send(&mut socket, &ready).await {
                                break;
                            }
                            let mut inner = fake.inner.lock().await;
                            inner.connections.push(Connection { id, shard, events: events.clone() });
                            inner.readies += 1;
                            drop(inner);
                            fake.changed.notify_waiters();
                        }
                    },
                    // Resume: the fake keeps no sessions; Invalid Session, not resumable.
                    Some(6) => {
                        let sent = send(&mut socket, &json!({"op": 9, "d": false})).await;
                        if !sent {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            Some(mut event) = outbox.recv() => {
                seq += 1;
                event["s"] = json!(seq);
                if !send(&mut socket, &event).await {
                    break;
                }
            }
        }
    }
    fake.inner.lock().await.connections.retain(|c| c.id != id);
    fake.changed.notify_waiters();
}
