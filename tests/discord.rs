//! End to end: the real bot (poise + serenity) against a Discord started on loopback.

mod common;
mod fake_discord;

use common::World;
use fake_discord::{FakeDiscord, TOKEN};
use serde_json::{Value, json};
use tastebud::discord::{self, Options, RunError};
use tastebud::domain::{Code, UserId};
use tokio::task::JoinHandle;

const ALICE: u64 = 111_111_111_111_111_111;
const BOB: u64 = 222_222_222_222_222_222;
const EPHEMERAL: u64 = 64;

fn start_bot(world: &World, fake: &FakeDiscord) -> JoinHandle<Result<(), RunError>> {
    // RUST_LOG=serenity=debug shows what the bot makes of the fake Discord.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let service = world.service.clone();
    let options = Options {
        token: TOKEN.to_string(),
        guild_id: Some(fake_discord::GUILD_ID),
        api_base: Some(fake.base.clone()),
    };
    tokio::spawn(discord::run(service, options))
}

/// The callback body of interaction `token`: (callback type, data).
async fn answer(fake: &FakeDiscord, token: &str) -> (u64, Value) {
    let r = fake.response(token).await;
    (r.json["type"].as_u64().unwrap_or(0), r.json["data"].clone())
}

fn content(data: &Value) -> &str {
    data["content"].as_str().unwrap_or("")
}

fn is_ephemeral(data: &Value) -> bool {
    data["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0
}

/// Every component custom id in a message, with its label or placeholder.
fn components(data: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in data["components"].as_array().into_iter().flatten() {
        for c in row["components"].as_array().into_iter().flatten() {
            let label = c["label"]
                .as_str()
                .or(c["placeholder"].as_str())
                .unwrap_or("");
            out.push((
                c["custom_id"].as_str().unwrap_or("").to_string(),
                label.to_string(),
            ));
        }
    }
    out
}

fn find_component(data: &Value, label_starts: &str) -> String {
    components(data)
        .into_iter()
        .find(|(_, label)| label.starts_with(label_starts))
        .unwrap_or_else(|| panic!("no component {label_starts:?} in {data}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_in_the_guild() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let bot = start_bot(&world, &fake);
    let registered = fake.wait_ready(1).await;
    let names: Vec<&str> = registered
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in ["settings", "profile", "list_personalize_codes"] {
        assert!(names.contains(&name), "{name} not registered: {names:?}");
    }
    let put = fake
        .wait_for("registration", |r| r.path.ends_with("/commands"))
        .await;
    assert!(
        put.path
            .contains(&format!("/guilds/{}/", fake_discord::GUILD_ID)),
        "{}",
        put.path
    );
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_clear_error() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let options = Options {
        token: "not.the.token".into(),
        guild_id: None,
        api_base: Some(fake.base.clone()),
    };
    let err = discord::run(world.service.clone(), options)
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::RejectedToken), "{err:?}");
    assert!(err.to_string().contains("rejected the bot token"));
    assert!(
        !format!("{err:?}").contains("not.the.token"),
        "the token leaked into the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_toggle_persists_and_survives_a_restart_and_others_cannot_click_it() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(1).await;

    let token = fake.slash(ALICE, "settings", json!([])).await;
    let (kind, panel) = answer(&fake, &token).await;
    assert_eq!(kind, 4, "an immediate message");
    assert!(is_ephemeral(&panel));
    assert!(
        content(&panel).contains("Personalization (automatic `--p`): **off**"),
        "{panel}"
    );
    let toggle = find_component(&panel, "Personalization: off");

    // Bob clicks Alice's toggle: refused privately, nothing changes.
    let token = fake.click(BOB, &toggle, None).await;
    let (kind, refusal) = answer(&fake, &token).await;
    assert_eq!(kind, 4);
    assert!(is_ephemeral(&refusal));
    assert!(
        content(&refusal).contains("belong to someone else"),
        "{refusal}"
    );
    let settings = world.service.settings(UserId(ALICE)).await.unwrap();
    assert!(!settings.settings.auto_personalize);
    assert!(
        !world
            .service
            .settings(UserId(BOB))
            .await
            .unwrap()
            .settings
            .auto_personalize
    );

    // Alice clicks it: saved, and the panel is redrawn in place.
    let token = fake.click(ALICE, &toggle, None).await;
    let (kind, redrawn) = answer(&fake, &token).await;
    assert_eq!(kind, 7, "the panel message is updated");
    assert!(content(&redrawn).contains("**on**"), "{redrawn}");
    find_component(&redrawn, "Personalization: on");
    assert!(
        world
            .service
            .settings(UserId(ALICE))
            .await
            .unwrap()
            .settings
            .auto_personalize
    );

    // A stylize preset and the version menu work the same way.
    let high = find_component(&redrawn, "High");
    let (_, after) = answer(&fake, &fake.click(ALICE, &high, None).await).await;
    assert!(
        content(&after).contains("Stylize: **High** (`--s 250`)"),
        "{after}"
    );
    let menu = find_component(&after, "Default version");
    let (_, after) = answer(&fake, &fake.click(ALICE, &menu, Some(vec!["6.1"])).await).await;
    assert!(
        content(&after).contains("Default version: **V6.1**"),
        "{after}"
    );

    // Restart the bot on the same database: the settings are still there.
    bot.abort();
    let _ = bot.await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(2).await;
    let token = fake.slash(ALICE, "settings", json!([])).await;
    let (_, panel) = answer(&fake, &token).await;
    assert!(
        content(&panel).contains("Personalization (automatic `--p`): **on**"),
        "{panel}"
    );
    assert!(content(&panel).contains("Stylize: **High**"), "{panel}");
    // Buttons made before the restart still work: their ids carry everything.
    let token = fake.click(ALICE, &toggle, None).await;
    let (kind, _) = answer(&fake, &token).await;
    assert_eq!(kind, 7);
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_profile_before_unlock_says_how_many_more_to_rank() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let bot = start_bot(&world, &fake);
    let registered = fake.wait_ready(1).await;
    let profile = registered
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "profile")
        .unwrap();
    let create = profile["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "create")
        .unwrap();
    let kind = create["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "kind")
        .unwrap();
    // The choice is sent the way it was registered.
    let ranked = kind["choices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ranked")
        .unwrap()["value"]
        .clone();
    let token = fake
        .slash(
            ALICE,
            "profile",
            json!([{"name": "create", "type": 1, "options": [
                {"name": "name", "type": 3, "value": "Moody"},
                {"name": "kind", "type": kind["type"], "value": ranked}
            ]}]),
        )
        .await;
    let (_, data) = answer(&fake, &token).await;
    assert!(is_ephemeral(&data));
    assert_eq!(
        content(&data),
        "Unlock your V7 global profile first: rank 200 more pairs with /rank."
    );
    assert_eq!(
        world
            .service
            .list_profiles(UserId(ALICE))
            .await
            .unwrap()
            .len(),
        4
    );
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_personalize_codes_lists_the_users_codes() {
    let world = World::new("").await;
    let global = world.global(UserId(ALICE), "7").await;
    world
        .store
        .insert_code(&Code {
            code: "q7w8e9r".into(),
            profile: global,
            owner: UserId(ALICE),
            version: "7".into(),
            space: "style-v1".into(),
            vector: vec![1.0],
            points: 200,
            created_at: 1_790_000_000_000,
        })
        .await
        .unwrap()
        .unwrap();
    let fake = FakeDiscord::start().await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(1).await;
    let (_, data) = answer(
        &fake,
        &fake.slash(ALICE, "list_personalize_codes", json!([])).await,
    )
    .await;
    assert!(is_ephemeral(&data));
    assert!(
        content(&data).contains("`q7w8e9r` · Global · V7 · 200 votes"),
        "{data}"
    );
    let (_, data) = answer(
        &fake,
        &fake.slash(BOB, "list_personalize_codes", json!([])).await,
    )
    .await;
    assert!(
        content(&data).starts_with("You have no codes yet."),
        "{data}"
    );
    bot.abort();
}
