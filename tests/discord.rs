//! End to end: the real bot (poise + serenity) against a Discord started on loopback.

mod common;
mod fake_discord;

use axum::http::Method;
use common::{QUICK, World};
use fake_discord::{FakeDiscord, Place, Request, TOKEN};
use serde_json::{Value, json};
use tastebud::discord::{self, Options, RunError};
use tastebud::domain::{Code, ProfileId, ProfileKind, UserId};
use tastebud::service::CreateProfile;
use tokio::task::JoinHandle;

const ALICE: u64 = 111_111_111_111_111_111;
const BOB: u64 = 222_222_222_222_222_222;
const CAROL: u64 = 333_333_333_333_333_333;
const EPHEMERAL: u64 = 64;

/// A running bot, stopped by [`Bot::stop`] (which closes its gateway connections).
struct Bot {
    task: JoinHandle<Result<(), RunError>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Bot {
    /// Checks that the bot broke no rule of Discord's, then shuts it down.
    async fn stop(self, fake: &FakeDiscord) {
        fake.assert_no_violations().await;
        let _ = self.stop.send(());
        let ended = self.task.await.expect("the bot task");
        assert!(ended.is_ok(), "the bot stopped with {ended:?}");
    }
}

fn options(fake: &FakeDiscord, guild: Option<u64>) -> Options {
    Options {
        token: TOKEN.to_string(),
        guild_id: guild,
        shards: None,
        rest_proxy: Some(fake.base.clone()),
    }
}

/// A world with `overrides` to its configuration, a fake Discord, and the bot connected to it
/// with its commands registered in the test guild.
async fn started(overrides: &str) -> (World, FakeDiscord, Bot) {
    let world = World::new(overrides).await;
    let fake = FakeDiscord::start().await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(1).await;
    (world, fake, bot)
}

fn start_bot(world: &World, fake: &FakeDiscord) -> Bot {
    start_bot_with(world, options(fake, Some(fake_discord::GUILD_ID)))
}

fn start_bot_with(world: &World, options: Options) -> Bot {
    // RUST_LOG=serenity=debug shows what the bot makes of the fake Discord.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = world.service.clone();
    let task = tokio::spawn(discord::run(service, options, async move {
        let _ = stopped.await;
    }));
    Bot { task, stop }
}

/// The callback body of interaction `token`: (callback type, data).
async fn answer(fake: &FakeDiscord, token: &str) -> (u64, Value) {
    let r = fake.response(token).await;
    (r.json["type"].as_u64().unwrap_or(0), r.json["data"].clone())
}

/// What interaction `token` was answered with: (4 for a new message, 7 for an update of the
/// clicked message, as if sent in the callback, data). A deferred answer (callback type 5 or
/// 6) is followed to the edit that completes it.
async fn seen(fake: &FakeDiscord, token: &str) -> (u64, Value) {
    let (kind, request) = answered(fake, token).await;
    (kind, request.json)
}

/// The request that carried interaction `token`'s answer (the callback, or the edit that
/// completed a deferred callback), with the answer's kind as in [`answer`]. A deferred
/// private answer keeps its flags.
async fn answered(fake: &FakeDiscord, token: &str) -> (u64, Request) {
    let callback = fake.response(token).await;
    match callback.json["type"].as_u64().unwrap_or(0) {
        kind @ (5 | 6) => {
            let mut edit = fake.edit(token, |_| true).await;
            if let Some(flags) = callback.json["data"].get("flags") {
                edit.json["flags"] = flags.clone();
            }
            (if kind == 5 { 4 } else { 7 }, edit)
        }
        kind => {
            let mut request = callback.clone();
            request.json = callback.json["data"].clone();
            (kind, request)
        }
    }
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
    for name in [
        "settings",
        "profile",
        "list_personalize_codes",
        "rank",
        "imagine",
        "explore",
        "moodboard",
    ] {
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
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_clear_error() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let options = Options {
        token: "not.the.token".into(),
        ..options(&fake, None)
    };
    let err = discord::run(world.service.clone(), options, std::future::pending())
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
    let (world, fake, bot) = started("").await;

    let token = fake.slash(ALICE, "settings", json!([])).await;
    let (kind, panel) = seen(&fake, &token).await;
    assert_eq!(kind, 4, "an immediate message");
    assert!(is_ephemeral(&panel));
    assert!(
        content(&panel).contains("Personalization (automatic `--p`): **off**"),
        "{panel}"
    );
    let toggle = find_component(&panel, "Personalization: off");

    // Bob clicks Alice's toggle: refused privately, nothing changes.
    let token = fake.click(BOB, &toggle, None).await;
    let (kind, refusal) = seen(&fake, &token).await;
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
    let (kind, redrawn) = seen(&fake, &token).await;
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
    let (_, after) = seen(&fake, &fake.click(ALICE, &high, None).await).await;
    assert!(
        content(&after).contains("Stylize: **High** (`--s 250`)"),
        "{after}"
    );
    let menu = find_component(&after, "Default version");
    let (_, after) = seen(&fake, &fake.click(ALICE, &menu, Some(vec!["6.1"])).await).await;
    assert!(
        content(&after).contains("Default version: **V6.1**"),
        "{after}"
    );

    // Restart the bot on the same database: the settings are still there.
    bot.stop(&fake).await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(2).await;
    let token = fake.slash(ALICE, "settings", json!([])).await;
    let (_, panel) = seen(&fake, &token).await;
    assert!(
        content(&panel).contains("Personalization (automatic `--p`): **on**"),
        "{panel}"
    );
    assert!(content(&panel).contains("Stylize: **High**"), "{panel}");
    // Buttons made before the restart still work: their ids carry everything.
    let token = fake.click(ALICE, &toggle, None).await;
    let (kind, _) = seen(&fake, &token).await;
    assert_eq!(kind, 7);
    bot.stop(&fake).await;
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
    let (_, data) = seen(&fake, &token).await;
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
    bot.stop(&fake).await;
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
    let (_, data) = seen(
        &fake,
        &fake.slash(ALICE, "list_personalize_codes", json!([])).await,
    )
    .await;
    assert!(is_ephemeral(&data));
    assert!(
        content(&data).contains("`q7w8e9r` · Global · V7 · 200 votes"),
        "{data}"
    );
    let (_, data) = seen(
        &fake,
        &fake.slash(BOB, "list_personalize_codes", json!([])).await,
    )
    .await;
    assert!(
        content(&data).starts_with("You have no codes yet."),
        "{data}"
    );
    bot.stop(&fake).await;
}

/// The names of a request's files, each checked to be a PNG.
fn png_files(r: &Request) -> Vec<String> {
    for f in &r.files {
        assert!(f.is_png(), "{f:?} is not a PNG");
        assert!(!f.bytes.is_empty());
    }
    r.files.iter().map(|f| f.filename.clone()).collect()
}

/// The names of a request's files, each checked to be a JPEG of at most `most` bytes.
fn jpeg_files(r: &Request, most: usize) -> Vec<String> {
    for f in &r.files {
        assert!(f.is_jpeg(), "{f:?} is not a JPEG");
        assert!(f.bytes.len() <= most, "{f:?} is over {most} bytes");
    }
    r.files.iter().map(|f| f.filename.clone()).collect()
}

/// Component labels of a message, in order.
fn labels(data: &Value) -> Vec<String> {
    components(data).into_iter().map(|(_, l)| l).collect()
}

/// The pair id in a `/rank` message's buttons.
fn pair_id(data: &Value) -> i64 {
    let id = find_component(data, "1");
    id.split(':')
        .nth(3)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{id}"))
}

async fn points(world: &World, user: u64) -> u32 {
    world
        .service
        .global_profile(UserId(user), "7")
        .await
        .unwrap()
        .points
}

/// `/rank` from `user`: its pair message once drawn.
async fn rank(fake: &FakeDiscord, user: u64) -> Request {
    rank_profile(fake, user, json!([])).await
}

/// `/rank` with `options` from `user`: its pair message once drawn.
async fn rank_profile(fake: &FakeDiscord, user: u64, options: Value) -> Request {
    let token = fake.slash(user, "rank", options).await;
    let (kind, data) = answer(fake, &token).await;
    assert_eq!(kind, 5, "acknowledged at once: {data}");
    assert!(is_ephemeral(&data));
    fake.edit(&token, |r| !r.files.is_empty()).await
}

/// A click by `user` on `/rank` button `custom_id`: the redrawn pair message (in the click's
/// callback, or in the edit after a deferred one).
async fn click_rank(fake: &FakeDiscord, user: u64, custom_id: &str) -> Request {
    let token = fake.click(user, custom_id, None).await;
    let (kind, redrawn) = answered(fake, &token).await;
    assert_eq!(kind, 7, "the pair message is redrawn in place");
    redrawn
}

/// `/imagine prompt` from `user`: the interaction token.
async fn imagine(fake: &FakeDiscord, user: u64, prompt: &str) -> String {
    imagine_from(fake, &FakeDiscord::test_guild(), user, prompt).await
}

/// `/imagine prompt` from `user` at `place`; returns the interaction's token.
async fn imagine_from(fake: &FakeDiscord, place: &Place, user: u64, prompt: &str) -> String {
    let options = json!([{"name": "prompt", "type": 3, "value": prompt}]);
    fake.slash_from(place, user, "imagine", options, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rank_shows_a_pair_and_each_click_votes_and_brings_the_next_pair() {
    let (world, fake, bot) = started(QUICK).await;

    let shown = rank(&fake, ALICE).await;
    // Pairs only need looking at: a JPEG within 80 KB (the stored pictures stay PNG).
    assert_eq!(jpeg_files(&shown, 80_000), ["pair.jpg"]);
    assert_eq!(labels(&shown.json), ["1", "2", "Skip"]);
    assert!(
        content(&shown.json).contains("0 of 3 to unlock your V7 profile"),
        "{}",
        shown.json
    );
    for (id, _) in components(&shown.json) {
        assert!(id.starts_with(&format!("rank:{ALICE}:")), "{id}");
    }
    let first = pair_id(&shown.json);
    let left = find_component(&shown.json, "1");

    // Bob clicks Alice's pair: refused privately, nothing stored.
    let token = fake.click(BOB, &left, None).await;
    let (kind, refusal) = seen(&fake, &token).await;
    assert_eq!(kind, 4);
    assert!(is_ephemeral(&refusal));
    assert!(content(&refusal).contains("belong to someone else"));
    assert_eq!(points(&world, ALICE).await, 0);
    assert_eq!(points(&world, BOB).await, 0);

    // Alice clicks 1: a vote, and the same message shows a new pair with a new image, in the
    // click's own callback (UpdateMessage): no edit, so no bucket shared with other answers.
    let token = fake.click(ALICE, &left, None).await;
    let callback = fake.response(&token).await;
    assert_eq!(callback.json["type"], 7, "{}", callback.json);
    assert!(fake.edits(&token).await.is_empty());
    let (_, next) = answered(&fake, &token).await;
    assert_eq!(points(&world, ALICE).await, 1);
    assert_eq!(jpeg_files(&next, 80_000), ["pair.jpg"]);
    assert_ne!(pair_id(&next.json), first);
    assert!(
        content(&next.json).contains("1 of 3 to unlock"),
        "{}",
        next.json
    );

    // A double click on 2: one vote is stored; the late click gets a note and a fresh pair.
    let right = find_component(&next.json, "2");
    let a = fake.click(ALICE, &right, None).await;
    let b = fake.click(ALICE, &right, None).await;
    let (_, a) = answered(&fake, &a).await;
    let (_, b) = answered(&fake, &b).await;
    assert_eq!(points(&world, ALICE).await, 2);
    let notes = [&a, &b]
        .iter()
        .filter(|r| {
            content(&r.json).starts_with("You already answered that pair. Here is a new one.")
        })
        .count();
    assert_eq!(notes, 1, "{} / {}", a.json, b.json);
    assert_ne!(pair_id(&a.json), pair_id(&next.json));

    // Skip is stored but earns nothing.
    let skip = find_component(&a.json, "Skip");
    let after = click_rank(&fake, ALICE, &skip).await;
    assert_eq!(points(&world, ALICE).await, 2);
    assert!(
        content(&after.json).contains("2 of 3 to unlock"),
        "{}",
        after.json
    );
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_needs_an_unlock_then_carries_the_code_and_the_grid_can_be_upscaled_and_liked() {
    let (world, fake, bot) = started(QUICK).await;

    // Before unlocking: the service's sentence, privately; the public response is removed.
    let token = imagine(&fake, ALICE, "a fox in snow --p").await;
    let (kind, thinking) = answer(&fake, &token).await;
    assert_eq!(kind, 5);
    assert!(
        !is_ephemeral(&thinking),
        "the generation is public: {thinking}"
    );
    let refusal = fake.follow_up(&token, |_| true).await;
    assert!(is_ephemeral(&refusal.json), "{}", refusal.json);
    assert_eq!(
        content(&refusal.json),
        "Unlock your V7 global profile first: rank 3 more pairs with /rank."
    );
    fake.deleted(&token).await;

    // Three clicks unlock the profile; the third says so, with the code.
    let mut message = rank(&fake, ALICE).await;
    for _ in 0..3 {
        message = click_rank(&fake, ALICE, &find_component(&message.json, "1")).await;
    }
    let codes = world.service.list_codes(UserId(ALICE)).await.unwrap();
    assert_eq!(codes.len(), 1);
    let code = &codes[0].code;
    let text = content(&message.json);
    assert!(
        text.contains("unlocked your V7 profile") && text.contains(&format!("`{code}`")),
        "{text}"
    );
    assert!(text.contains("3 rankings · next code at 5"), "{text}");

    // A pair of a profile deleted since: nothing stored, a note, and a global pair instead.
    let moody = world
        .service
        .create_profile(
            UserId(ALICE),
            CreateProfile {
                kind: ProfileKind::Ranked,
                version: Some("7".into()),
                name: "Moody".into(),
            },
        )
        .await
        .unwrap()
        .profile
        .id;
    let pair = rank_profile(
        &fake,
        ALICE,
        json!([{"name": "profile", "type": 3, "value": moody.0}]),
    )
    .await;
    assert!(
        content(&pair.json).contains("0 of 3 to unlock your V7 profile “Moody”"),
        "{}",
        pair.json
    );
    world
        .service
        .delete_profile(UserId(ALICE), &moody)
        .await
        .unwrap();
    let stale = click_rank(&fake, ALICE, &find_component(&pair.json, "1")).await;
    assert!(
        content(&stale.json).starts_with(
            "The profile \"Moody\" was deleted; it takes no new data. Here is a pair for your \
             global profile."
        ),
        "{}",
        stale.json
    );
    let global = world.global(UserId(ALICE), "7").await;
    assert!(find_component(&stale.json, "1").contains(&global.0));
    assert_eq!(points(&world, ALICE).await, 3);

    // Now --p works, and the prompt shown names the code, not the private profile ID. The grid
    // is a new message that mentions Alice (an edit would not notify her), and the progress
    // message goes.
    let token = imagine(&fake, ALICE, "a fox in snow --p").await;
    let grid = fake.follow_up(&token, |r| !r.files.is_empty()).await;
    assert!(
        content(&grid.json).contains(&format!("<@{ALICE}>")),
        "{}",
        grid.json
    );
    fake.deleted(&token).await;
    let files = png_files(&grid);
    assert_eq!(files.len(), 1);
    assert!(files[0].starts_with("tastebud-"), "{files:?}");
    let text = content(&grid.json);
    assert!(text.contains(&format!("--p {code}")), "{text}");
    assert!(!text.contains(&global.0), "{text}");
    assert!(!is_ephemeral(&grid.json));
    assert_eq!(
        grid.json["allowed_mentions"]["users"],
        json!([ALICE.to_string()]),
        "only the author may be pinged"
    );
    assert_eq!(grid.json["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        labels(&grid.json),
        ["U1", "U2", "U3", "U4", "🔄", "❤️1", "❤️2", "❤️3", "❤️4"]
    );
    // Every edit of the response was a progress line: its place in the queue until a worker
    // took it, then its rendering.
    for edit in fake.edits(&token).await {
        assert!(edit.files.is_empty());
        let line = content(&edit.json);
        assert!(
            line.contains("rendering…") || line.contains("waiting: next in the queue"),
            "{}",
            edit.json
        );
    }

    // U2 posts that one image, for anyone who clicks: "thinking…" first (reading and
    // uploading a picture can outlast three seconds), then the picture.
    let token = fake
        .click(BOB, &find_component(&grid.json, "U2"), None)
        .await;
    assert_eq!(fake.response(&token).await.json["type"], 5);
    let (kind, upscaled) = answered(&fake, &token).await;
    assert_eq!(kind, 4);
    assert!(!is_ephemeral(&upscaled.json));
    let files = png_files(&upscaled);
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("-2.png"), "{files:?}");
    assert!(
        content(&upscaled.json).contains("Image #2"),
        "{}",
        upscaled.json
    );

    // The upscale names the image's id, which puts it on its author's moodboard.
    let image: i64 = content(&upscaled.json)
        .split("Image id `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no image id in {}", upscaled.json));
    let foxes = world
        .service
        .create_profile(
            UserId(ALICE),
            CreateProfile {
                kind: ProfileKind::Moodboard,
                version: None,
                name: "Foxes".into(),
            },
        )
        .await
        .unwrap()
        .profile
        .id;
    let generation = json!({"name": "generation", "type": 4, "value": image});
    let said = moodboard_add(&fake, ALICE, &foxes, vec![generation.clone()], &[]).await;
    assert!(
        said.starts_with("Added 1 image to **Foxes**; it has 1 image now.\nCode: `"),
        "{said}"
    );
    let shown = moodboard_command(
        &fake,
        ALICE,
        "show",
        json!([{"name": "moodboard", "type": 3, "value": foxes.0}]),
    )
    .await;
    assert!(
        shown.contains(&format!("\n`{image}` · your generation *a fox in snow")),
        "{shown}"
    );
    // Bob can't add Alice's images to a moodboard, nor reach hers.
    let said = moodboard_add(&fake, BOB, &foxes, vec![generation], &[]).await;
    assert_eq!(said, format!("You have no profile {}.", foxes.0));

    // ❤️ by Bob counts for Bob; ❤️ by Alice on her own image is refused.
    let heart = find_component(&grid.json, "❤️2");
    let (_, liked) = seen(&fake, &fake.click(BOB, &heart, None).await).await;
    assert!(is_ephemeral(&liked));
    assert!(content(&liked).starts_with("❤️ Liked"), "{liked}");
    assert_eq!(points(&world, BOB).await, 1);
    let (_, own) = seen(&fake, &fake.click(ALICE, &heart, None).await).await;
    assert!(is_ephemeral(&own));
    assert_eq!(
        content(&own),
        "Likes of your own images don't count; like someone else's."
    );
    assert_eq!(points(&world, ALICE).await, 3);

    // The code is listed, and /profile show explains the taste behind it.
    let (_, list) = seen(
        &fake,
        &fake.slash(ALICE, "list_personalize_codes", json!([])).await,
    )
    .await;
    assert!(
        content(&list).contains(&format!("`{code}` · Global · V7 · 3 votes")),
        "{list}"
    );
    let token = fake
        .slash(
            ALICE,
            "profile",
            json!([{"name": "show", "type": 1, "options": [
                {"name": "profile", "type": 3, "value": global.0}
            ]}]),
        )
        .await;
    let (_, shown) = seen(&fake, &token).await;
    let text = content(&shown);
    assert!(text.contains("**Taste:**"), "{text}");
    assert!(text.contains(&format!("Code: `{code}`")), "{text}");
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reroll_is_the_authors_and_explore_shows_other_peoples_images_to_like() {
    let (world, fake, bot) = started(QUICK).await;

    // A prompt that expands to two jobs: two new messages, one grid each.
    let token = imagine(&fake, ALICE, "a {red, blue} bird").await;
    let first = fake
        .follow_up(&token, |r| content(&r.json).contains("(1 of 2)"))
        .await;
    let second = fake
        .follow_up(&token, |r| content(&r.json).contains("(2 of 2)"))
        .await;
    assert!(content(&first.json).contains("(1 of 2)"), "{}", first.json);
    assert!(
        content(&second.json).contains("(2 of 2)"),
        "{}",
        second.json
    );
    let (a, b) = (png_files(&first), png_files(&second));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a, b, "one file per job");
    assert!(
        content(&first.json).contains("a red bird"),
        "{}",
        first.json
    );
    assert!(
        content(&second.json).contains("a blue bird"),
        "{}",
        second.json
    );

    // 🔄 by Bob is refused; by Alice it runs the prompt again as a new message.
    let reroll = find_component(&first.json, "🔄");
    let (kind, refusal) = seen(&fake, &fake.click(BOB, &reroll, None).await).await;
    assert_eq!(kind, 4);
    assert!(content(&refusal).contains("belong to someone else"));
    let token = fake.click(ALICE, &reroll, None).await;
    let (kind, thinking) = answer(&fake, &token).await;
    assert_eq!(kind, 5, "a new message, thinking first");
    assert!(!is_ephemeral(&thinking));
    let again = fake.follow_up(&token, |r| !r.files.is_empty()).await;
    let c = png_files(&again);
    assert_eq!(c.len(), 1);
    assert!(c != a && c != b, "a new job: {c:?}");
    assert!(
        content(&again.json).contains("a red bird"),
        "{}",
        again.json
    );
    assert_ne!(find_component(&again.json, "🔄"), reroll);

    // Bob explores: Alice's newest images, each with a ❤️.
    let (_, explore) = answered(&fake, &fake.slash(BOB, "explore", json!([])).await).await;
    assert_eq!(
        png_files(&explore),
        [
            "explore-1.png",
            "explore-2.png",
            "explore-3.png",
            "explore-4.png",
            "explore-5.png"
        ]
    );
    let data = &explore.json;
    assert!(is_ephemeral(data));
    assert_eq!(labels(data), ["❤️1", "❤️2", "❤️3", "❤️4", "❤️5"]);
    let (_, liked) = seen(
        &fake,
        &fake.click(BOB, &find_component(data, "❤️1"), None).await,
    )
    .await;
    assert!(content(&liked).starts_with("❤️ Liked"), "{liked}");
    assert_eq!(points(&world, BOB).await, 1);

    // Alice has nobody else's images to explore.
    let (_, empty) = seen(&fake, &fake.slash(ALICE, "explore", json!([])).await).await;
    assert!(
        content(&empty).starts_with("Nothing to explore yet"),
        "{empty}"
    );
    bot.stop(&fake).await;
}

/// A small PNG that decodes: a 48×32 gradient.
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

/// A world whose global profiles unlock at 3 points, with the bot running and Alice's V7
/// global profile unlocked by 3 votes; Alice then creates the moodboard "Dusk" with
/// `/moodboard create`. Returns the bot and the moodboard's ID.
async fn alice_with_a_moodboard(world: &World, fake: &FakeDiscord) -> (Bot, ProfileId) {
    let bot = start_bot(world, fake);
    fake.wait_ready(1).await;
    let global = world.global(UserId(ALICE), "7").await;
    world.votes(UserId(ALICE), &global, 3).await;
    let token = fake
        .slash(
            ALICE,
            "moodboard",
            json!([{"name": "create", "type": 1, "options": [
                {"name": "name", "type": 3, "value": "Dusk"}
            ]}]),
        )
        .await;
    let (kind, data) = seen(fake, &token).await;
    assert_eq!(kind, 4);
    assert!(is_ephemeral(&data));
    assert!(
        content(&data).starts_with("Created **Dusk** · moodboard for V7 · ID `"),
        "{data}"
    );
    let boards: Vec<ProfileId> = world
        .service
        .list_profiles(UserId(ALICE))
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.profile.kind == ProfileKind::Moodboard)
        .map(|p| p.profile.id)
        .collect();
    assert_eq!(boards.len(), 1);
    assert!(content(&data).contains(&boards[0].0), "{data}");
    (bot, boards[0].clone())
}

/// `/moodboard add` from `user` with `options` (beside the moodboard) and `files` attached:
/// the text of the answer, which must come by editing a private "thinking…".
async fn moodboard_add(
    fake: &FakeDiscord,
    user: u64,
    board: &ProfileId,
    mut options: Vec<Value>,
    files: &[Value],
) -> String {
    options.insert(0, json!({"name": "moodboard", "type": 3, "value": board.0}));
    for (k, file) in files.iter().enumerate() {
        options.push(json!({"name": format!("image{}", k + 1), "type": 11, "value": file["id"]}));
    }
    let token = fake
        .slash_with(
            user,
            "moodboard",
            json!([{"name": "add", "type": 1, "options": options}]),
            Some(files),
        )
        .await;
    let (kind, thinking) = answer(fake, &token).await;
    assert_eq!(kind, 5, "acknowledged at once: {thinking}");
    assert!(is_ephemeral(&thinking));
    let edit = fake.edit(&token, |_| true).await;
    content(&edit.json).to_string()
}

/// `/moodboard <sub>` from `user` with `options`: the immediate private answer's text.
async fn moodboard_command(fake: &FakeDiscord, user: u64, sub: &str, options: Value) -> String {
    let token = fake
        .slash(
            user,
            "moodboard",
            json!([{"name": sub, "type": 1, "options": options}]),
        )
        .await;
    let (kind, data) = seen(fake, &token).await;
    assert_eq!(kind, 4, "{data}");
    assert!(is_ephemeral(&data), "{data}");
    content(&data).to_string()
}

async fn images_on(world: &World, board: &ProfileId) -> usize {
    world
        .service
        .moodboard(UserId(ALICE), board)
        .await
        .unwrap()
        .images
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_file_that_is_not_an_image_is_refused_and_the_moodboard_stays_empty() {
    let world = World::new(QUICK).await;
    let fake = FakeDiscord::start().await;
    let (bot, board) = alice_with_a_moodboard(&world, &fake).await;

    let notes = fake
        .attachment(
            "notes.txt",
            "text/plain; charset=utf-8",
            b"Shopping: eggs, milk, paint.\n",
        )
        .await;
    let said = moodboard_add(&fake, ALICE, &board, vec![], std::slice::from_ref(&notes)).await;
    assert_eq!(said, "That file is not an image (PNG, JPEG, WebP or GIF).");
    assert_eq!(
        fake.downloads(&notes).await,
        1,
        "fetched from Discord's URL"
    );
    let shown = world
        .service
        .moodboard(UserId(ALICE), &board)
        .await
        .unwrap();
    assert!(shown.images.is_empty());
    assert!(shown.code.is_none());
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_a_loopback_address_is_refused_without_being_fetched() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A real server on loopback with a real PNG behind the link.
    let hits = Arc::new(AtomicUsize::new(0));
    let served = hits.clone();
    let bytes = png();
    let app = axum::Router::new().route(
        "/x.png",
        axum::routing::get(move || {
            served.fetch_add(1, Ordering::SeqCst);
            let bytes = bytes.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "image/png")], bytes) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let link = format!("http://{}/x.png", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let check = reqwest::get(&link).await.unwrap();
    assert!(check.status().is_success());
    assert_eq!(
        hits.swap(0, Ordering::SeqCst),
        1,
        "the server serves the PNG"
    );

    let world = World::new(QUICK).await;
    let fake = FakeDiscord::start().await;
    let (bot, board) = alice_with_a_moodboard(&world, &fake).await;
    let said = moodboard_add(
        &fake,
        ALICE,
        &board,
        vec![json!({"name": "link", "type": 3, "value": link})],
        &[],
    )
    .await;
    assert_eq!(
        said,
        "That link points to a private or local address; tastebud only fetches images from \
         public addresses."
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the link was never fetched");
    assert_eq!(images_on(&world, &board).await, 0);
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_png_is_added_and_show_lists_it_with_the_moodboards_code() {
    let world = World::new(QUICK).await;
    let fake = FakeDiscord::start().await;
    let (bot, board) = alice_with_a_moodboard(&world, &fake).await;

    let (_, empty) = seen(
        &fake,
        &fake
            .slash(
                ALICE,
                "moodboard",
                json!([{"name": "list", "type": 1, "options": []}]),
            )
            .await,
    )
    .await;
    assert!(
        content(&empty).contains("**Dusk** · `")
            && content(&empty).contains("0 images · no code yet"),
        "{empty}"
    );

    let photo = fake.attachment("dusk.png", "image/png", &png()).await;
    let said = moodboard_add(&fake, ALICE, &board, vec![], std::slice::from_ref(&photo)).await;
    assert_eq!(fake.downloads(&photo).await, 1);
    let stored = world
        .service
        .moodboard(UserId(ALICE), &board)
        .await
        .unwrap();
    assert_eq!(stored.images.len(), 1);
    let image = stored.images[0].id;
    let code = stored.code.expect("a code for the new image set").code;
    assert_eq!(
        said,
        format!(
            "Added 1 image to **Dusk**; it has 1 image now.\nCode: `{code}` (anyone can use it: \
             `--p {code}`)"
        )
    );

    let shown = moodboard_command(
        &fake,
        ALICE,
        "show",
        json!([{"name": "moodboard", "type": 3, "value": board.0}]),
    )
    .await;
    assert!(shown.contains(&format!("Code: `{code}`")), "{shown}");
    assert!(shown.contains("**1 image**"), "{shown}");
    assert!(
        shown.contains(&format!("\n`{image}` · an uploaded file or link · <t:")),
        "{shown}"
    );
    let listed = moodboard_command(&fake, ALICE, "list", json!([])).await;
    assert!(
        listed.contains(&format!(
            "**Dusk** · `{}` · 1 image · code `{code}`",
            board.0
        )),
        "{listed}"
    );

    // The moodboard is Alice's alone.
    let (_, refused) = seen(
        &fake,
        &fake
            .slash(
                BOB,
                "moodboard",
                json!([{"name": "show", "type": 1, "options": [
                    {"name": "moodboard", "type": 3, "value": board.0}
                ]}]),
            )
            .await,
    )
    .await;
    assert_eq!(
        content(&refused),
        format!("You have no profile {}.", board.0)
    );

    // Removing the image empties it again.
    let removed = moodboard_command(
        &fake,
        ALICE,
        "remove",
        json!([{"name": "moodboard", "type": 3, "value": board.0},
               {"name": "image", "type": 4, "value": image}]),
    )
    .await;
    assert!(
        removed.starts_with(&format!(
            "Removed image `{image}` from **Dusk**; it has 0 images now."
        )),
        "{removed}"
    );
    assert_eq!(images_on(&world, &board).await, 0);
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_declared_too_large_is_refused_before_it_is_downloaded() {
    let world = World::new(QUICK).await;
    let fake = FakeDiscord::start().await;
    let (bot, board) = alice_with_a_moodboard(&world, &fake).await;

    let mut big = fake.attachment("big.png", "image/png", &png()).await;
    big["size"] = json!(11 * 1024 * 1024);
    let said = moodboard_add(&fake, ALICE, &board, vec![], std::slice::from_ref(&big)).await;
    assert_eq!(said, "“big.png” is 11 MB; images can be at most 10 MB.");
    assert_eq!(fake.downloads(&big).await, 0);
    assert_eq!(images_on(&world, &board).await, 0);

    // A file larger than declared is cut off at the limit.
    let mut liar = fake
        .attachment("liar.png", "image/png", &vec![0; 10 * 1024 * 1024 + 1])
        .await;
    liar["size"] = json!(1000);
    let said = moodboard_add(&fake, ALICE, &board, vec![], std::slice::from_ref(&liar)).await;
    assert_eq!(
        said,
        "“liar.png” is larger than 10 MB, the most an image can be."
    );
    assert_eq!(images_on(&world, &board).await, 0);

    // With nothing to add, the command says what it takes.
    let nothing = moodboard_command(
        &fake,
        ALICE,
        "add",
        json!([{"name": "moodboard", "type": 3, "value": board.0}]),
    )
    .await;
    assert!(nothing.starts_with("Give at least one image"), "{nothing}");
    bot.stop(&fake).await;
}

// Discord's rules: what real Discord does that a lenient fake never showed (issue 16).

/// The statuses the fake answered to the bot's command uploads, in order.
async fn registrations(fake: &FakeDiscord) -> Vec<u16> {
    fake.requests()
        .await
        .iter()
        .filter(|r| r.method == Method::PUT && r.path.ends_with("/commands"))
        .map(|r| r.status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_upload_that_fails_twice_is_tried_again_and_the_bot_then_answers() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    fake.fail_registrations(2).await;
    let bot = start_bot(&world, &fake);
    fake.wait_ready(1).await;
    assert_eq!(registrations(&fake).await, [500, 500, 200]);
    let (kind, panel) = seen(&fake, &fake.slash(ALICE, "settings", json!([])).await).await;
    assert_eq!(kind, 4);
    assert!(content(&panel).starts_with("**Settings**"), "{panel}");
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_upload_that_keeps_failing_ends_the_process_with_a_message() {
    let fake = FakeDiscord::start().await;
    fake.fail_registrations(u32::MAX).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tastebud"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("run")
        .env("DISCORD_TOKEN", TOKEN)
        .env("TASTEBUD_DISCORD__REST_PROXY", &fake.base)
        .env("TASTEBUD_DISCORD__REGISTER_ATTEMPTS", "2")
        .env("RUST_LOG", "info")
        .output()
        .await
        .expect("run tastebud");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it kept running: {stderr}");
    assert!(
        stderr.contains("could not register the slash commands with Discord"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "the token leaked: {stderr}");
    assert_eq!(registrations(&fake).await, [500, 500]);
    assert!(
        fake.identifies().await.is_empty(),
        "it never went online to answer nothing"
    );
    fake.assert_no_violations().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_an_edit_is_waited_out_for_its_retry_after_and_sent_again() {
    let (_world, fake, bot) = started("").await;
    let wait = std::time::Duration::from_millis(1500);
    fake.rate_limit_next(Method::PATCH, "/messages/@original", wait)
        .await;
    let token = fake.slash(ALICE, "settings", json!([])).await;
    let (_, panel) = seen(&fake, &token).await;
    assert!(content(&panel).starts_with("**Settings**"), "{panel}");
    let edits: Vec<Request> = fake
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method == Method::PATCH && r.path.contains(&token))
        .collect();
    let statuses: Vec<u16> = edits.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert!(
        edits[1].at - edits[0].at >= wait,
        "sent again after {:?}",
        edits[1].at - edits[0].at
    );
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_from_gateway_bot_each_answer_their_servers_and_ask_for_no_events() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    fake.set_shards(2).await;
    // Global commands, so that both servers have them.
    let bot = start_bot_with(&world, options(&fake, None));
    fake.wait_ready(1).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while fake.identifies().await.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "one shard only");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let identifies = fake.identifies().await;
    let mut shards: Vec<Value> = identifies.iter().map(|d| d["shard"].clone()).collect();
    shards.sort_by_key(|s| s[0].as_u64());
    assert_eq!(shards, [json!([0, 2]), json!([1, 2])]);
    for identify in &identifies {
        assert_eq!(identify["intents"], 0, "no gateway events are needed");
    }
    // A server on each shard: (guild_id >> 22) % 2.
    let here = fake_discord::GUILD_ID;
    let there = (1u64..)
        .map(|k| here + (k << 22))
        .find(|g| (g >> 22) % 2 != (here >> 22) % 2)
        .unwrap();
    let mut answered_on = Vec::new();
    for guild in [here, there] {
        let place = fake_discord::Place::guild(guild, guild + 1);
        let token = fake
            .slash_from(&place, ALICE, "settings", json!([]), None)
            .await;
        let (_, panel) = seen(&fake, &token).await;
        assert!(content(&panel).starts_with("**Settings**"), "{panel}");
        answered_on.push(fake.shard_of(&token).await.expect("dispatched")[0]);
    }
    answered_on.sort();
    assert_eq!(answered_on, [0, 1]);
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upscale_from_a_slow_disk_is_acknowledged_within_three_seconds() {
    let (world, fake, bot) = started(QUICK).await;
    let token = imagine(&fake, ALICE, "a fox in snow").await;
    let grid = fake.follow_up(&token, |r| !r.files.is_empty()).await;
    let u1 = find_component(&grid.json, "U1");
    let image: i64 = u1.rsplit(':').next().unwrap().parse().unwrap();
    let stored = world.store.image(image).await.unwrap().expect("stored");
    let path =
        tastebud::render::images::files::image_path(&world.images_folder(), &stored.image.hash);
    let png = std::fs::read(&path).unwrap();
    // A disk that takes four seconds to give the picture: a named pipe written late.
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let token = fake.click(BOB, &u1, None).await;
    assert_eq!(fake.response(&token).await.json["type"], 5);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let writer = std::thread::spawn(move || std::fs::write(&path, png));
    let (kind, upscaled) = answered(&fake, &token).await;
    writer.join().unwrap().unwrap();
    assert_eq!(kind, 4);
    assert_eq!(png_files(&upscaled).len(), 1);
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_character_prompt_is_answered_within_discords_limits() {
    let (_world, fake, bot) = started(QUICK).await;
    let mut prompt = "a fox in **deep** snow ".repeat(220);
    prompt.truncate(5000);
    let token = imagine(&fake, ALICE, &prompt).await;
    let grid = fake.follow_up(&token, |r| !r.files.is_empty()).await;
    let text = content(&grid.json);
    assert!(text.chars().count() <= 2000);
    assert!(text.contains('…'), "{text}");
    assert!(text.contains(r"\*\*deep\*\*"), "markdown escaped: {text}");
    assert!(text.contains(&format!("<@{ALICE}>")), "{text}");
    bot.stop(&fake).await;
}

/// `/imagine prompt` from `user` at `place`, whose token expires while the bot delivers the
/// result: its first follow-up is held until the fake clock is past fifteen minutes. Returns
/// the interaction's token.
async fn imagine_past_the_token(
    fake: &FakeDiscord,
    place: &Place,
    user: u64,
    prompt: &str,
) -> String {
    let mut held = fake
        .hold_next(
            Method::POST,
            &format!("/webhooks/{}/", fake_discord::APP_ID),
        )
        .await;
    let token = imagine_from(fake, place, user, prompt).await;
    held.arrived().await;
    fake.advance(std::time::Duration::from_secs(15 * 60 + 1))
        .await;
    held.release();
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_after_fifteen_minutes_is_posted_in_the_channel_mentioning_its_author() {
    let (_world, fake, bot) = started(QUICK).await;
    let here = FakeDiscord::test_guild();
    let token = imagine_past_the_token(&fake, &here, ALICE, "a fox in snow").await;
    let posted = fake
        .channel_message(fake_discord::CHANNEL_ID, |r| !r.files.is_empty())
        .await;
    assert!(
        content(&posted.json).contains(&format!("<@{ALICE}>")),
        "{}",
        posted.json
    );
    assert_eq!(
        posted.json["allowed_mentions"]["users"],
        json!([ALICE.to_string()])
    );
    let refused = fake
        .wait_for("the late follow-up", |r| {
            r.method == Method::POST && r.path.ends_with(&token)
        })
        .await;
    assert_eq!(refused.status, 401, "the token had expired");
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_channel_permission_a_late_result_goes_by_dm_and_else_waits_in_recent() {
    let (_world, fake, bot) = started(QUICK).await;
    let closed = FakeDiscord::test_guild().without_channel_permissions();
    imagine_past_the_token(&fake, &closed, ALICE, "a fox in snow").await;
    let dm = fake.dm(ALICE, |r| !r.files.is_empty()).await;
    assert!(content(&dm.json).contains("a fox in snow"), "{}", dm.json);
    assert!(
        fake.channel_messages(fake_discord::CHANNEL_ID)
            .await
            .is_empty(),
        "nothing is tried where the bot may not post"
    );

    // Bob's DMs are closed too: the result is kept, and /recent shows it to him.
    fake.close_dms(BOB).await;
    imagine_past_the_token(&fake, &closed, BOB, "a whale at dawn").await;
    let refused = fake
        .wait_for("Bob's refused DM", |r| {
            r.method == Method::POST && r.path.contains("/channels/") && r.status == 403
        })
        .await;
    assert!(refused.path.ends_with("/messages"), "{}", refused.path);
    let token = fake.slash(BOB, "recent", json!([])).await;
    let (kind, recent) = answered(&fake, &token).await;
    assert_eq!(kind, 4);
    assert!(is_ephemeral(&recent.json));
    assert!(
        content(&recent.json).contains("a whale at dawn"),
        "{}",
        recent.json
    );
    assert_eq!(png_files(&recent).len(), 1);
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_shows_pictures_made_in_this_server_only_and_never_dm_ones() {
    let world = World::new(QUICK).await;
    let fake = FakeDiscord::start().await;
    // Global commands, so that they work in DMs and in the second server.
    let bot = start_bot_with(&world, options(&fake, None));
    fake.wait_ready(1).await;
    let here = FakeDiscord::test_guild();
    let other_guild = fake_discord::GUILD_ID + 77;
    let there = Place::guild(other_guild, other_guild + 1);
    let dm = Place::dm();
    for (place, user, prompt) in [
        (&here, ALICE, "a red fox"),
        (&there, BOB, "a blue whale"),
        (&dm, BOB, "a secret garden"),
    ] {
        let token = imagine_from(&fake, place, user, prompt).await;
        fake.follow_up(&token, |r| !r.files.is_empty()).await;
    }
    let explore = |place: Place| {
        let fake = fake.clone();
        async move {
            let token = fake
                .slash_from(&place, CAROL, "explore", json!([]), None)
                .await;
            content(&seen(&fake, &token).await.1).to_string()
        }
    };
    let seen_here = explore(here.clone()).await;
    assert!(seen_here.contains("a red fox"), "{seen_here}");
    assert!(
        !seen_here.contains("whale") && !seen_here.contains("garden"),
        "{seen_here}"
    );
    let seen_there = explore(there.clone()).await;
    assert!(seen_there.contains("a blue whale"), "{seen_there}");
    assert!(
        !seen_there.contains("fox") && !seen_there.contains("garden"),
        "{seen_there}"
    );
    let seen_in_dm = explore(Place::dm()).await;
    assert!(seen_in_dm.contains("works in servers only"), "{seen_in_dm}");

    // Alice keeps her pictures out of /explore: gone from it, old ones included.
    world
        .service
        .set_explore_sharing(UserId(ALICE), false)
        .await
        .unwrap();
    let seen_here = explore(here).await;
    assert!(
        seen_here.starts_with("Nothing to explore yet"),
        "{seen_here}"
    );
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_profiles_are_listed_in_one_message_and_the_cap_is_clear() {
    let config = QUICK.replace("[limits]\n", "[limits]\nmax_profiles = 60\n");
    let (world, fake, bot) = started(&config).await;
    let global = world.global(UserId(ALICE), "7").await;
    world.votes(UserId(ALICE), &global, 3).await;
    for n in 0..60 {
        let request = CreateProfile {
            kind: ProfileKind::Ranked,
            version: Some("7".into()),
            name: format!("A profile with a long name {n:02}"),
        };
        world
            .service
            .create_profile(UserId(ALICE), request)
            .await
            .unwrap();
    }
    let list = json!([{"name": "list", "type": 1, "options": []}]);
    let (_, listed) = seen(&fake, &fake.slash(ALICE, "profile", list).await).await;
    let text = content(&listed);
    assert!(text.chars().count() <= 2000);
    assert!(text.contains("more; use a profile's name or ID"), "{text}");
    // The settings panel offers at most 25 of them as defaults (the fake checks the limit).
    let (_, panel) = seen(&fake, &fake.slash(ALICE, "settings", json!([])).await).await;
    assert!(content(&panel).starts_with("**Settings**"), "{panel}");
    // One more is refused with the cap named; a profile can be named instead of identified.
    let create = json!([{"name": "create", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "One too many"},
        {"name": "kind", "type": 4, "value": 0}
    ]}]);
    let (_, refused) = seen(&fake, &fake.slash(ALICE, "profile", create).await).await;
    assert!(content(&refused).contains("limit of 60"), "{refused}");
    let show = json!([{"name": "show", "type": 1, "options": [
        {"name": "profile", "type": 3, "value": "a profile with a long name 07"}
    ]}]);
    let (_, shown) = seen(&fake, &fake.slash(ALICE, "profile", show).await).await;
    assert!(
        content(&shown).starts_with("**A profile with a long name 07**"),
        "{shown}"
    );
    bot.stop(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_mid_job_the_restarted_bot_says_so_in_the_jobs_message() {
    let world = World::new("").await;
    let fake = FakeDiscord::start().await;
    let config = world.dir.path().join("slow.toml");
    // Large pictures, so that the job is still rendering when the process is killed.
    std::fs::write(&config, "[render]\nsize = 1024\n").unwrap();
    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_tastebud"))
        .arg("--data-dir")
        .arg(world.dir.path())
        .arg("--config")
        .arg(&config)
        .arg("run")
        .arg("--guild")
        .arg(fake_discord::GUILD_ID.to_string())
        .env("DISCORD_TOKEN", TOKEN)
        .env("TASTEBUD_DISCORD__REST_PROXY", &fake.base)
        .env("TASTEBUD_DATABASE__URL", &world.db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start tastebud");
    fake.wait_ready(1).await;
    // The first progress edit says the job is running; the process dies right then.
    let mut progress = fake.hold_next(Method::PATCH, "/messages/@original").await;
    let token = imagine(&fake, ALICE, "a lighthouse at dusk").await;
    progress.arrived().await;
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    progress.release();

    let bot = start_bot(&world, &fake);
    let told = fake
        .edit(&token, |r| content(&r.json).contains("restarted"))
        .await;
    assert!(
        content(&told.json).contains("a lighthouse at dusk"),
        "{}",
        told.json
    );
    assert_eq!(told.json["allowed_mentions"]["users"], json!([]));
    fake.wait_ready(2).await;
    bot.stop(&fake).await;
}
