//! What a hostile or just very busy user can do, through the service on real SQLite files:
//! moodboard codes that follow the image set, the moodboard cap under concurrency (also from
//! two processes on one database), per-user allowances and the cap on renders, garbage
//! collection that keeps everything a code needs, and image files that survive a bad write.

use std::time::{Duration, SystemTime};

use crate::common::{self, SMALL, World, moodboard, png};
use tastebud::domain::{Choice, Place, UserId};
use tastebud::render::backend::no_progress;
use tastebud::render::images::files::image_path;
use tastebud::service::MoodboardImage::{Generation, Upload};
use tastebud::service::{Error, GcOptions, Imagine, MOODBOARD_MAX_IMAGES, Service};

/// Allowances wide enough that only the tests about them meet them.
const WIDE: &str = "moodboard_adds_per_minute = 1000
rank_pairs_per_minute = 1000
likes_per_minute = 1000
profile_shows_per_minute = 1000
recents_per_minute = 1000
";

/// [`common::SMALL`] (unlock at 6, a small pool, 64 px pictures, no cooldown) with wide
/// allowances.
fn small() -> String {
    format!("{SMALL}{WIDE}")
}

const HERE: Place = Place::Guild(42);
const ALICE: UserId = UserId(2001);
const BOB: UserId = UserId(2002);

/// [`small`] with the `[limits]` keys in `extra` (lines `key = value`) set to other values.
fn limits(extra: &str) -> String {
    let mut config = small();
    for line in extra.lines() {
        let key = line.split('=').next().unwrap().trim();
        match config.lines().find(|l| l.starts_with(&format!("{key} ="))) {
            Some(old) => config = config.replace(old, line),
            None => config.push_str(&format!("{line}\n")),
        }
    }
    config
}

/// A small PNG whose colour is different for every `n`.
fn tile(n: u32) -> Vec<u8> {
    png(8, 8, [(n * 37) as u8, (n * 11) as u8, 200])
}

async fn imagine(
    service: &Service,
    user: UserId,
    prompt: &str,
) -> tastebud::service::Result<String> {
    service
        .imagine(user, Imagine::new(prompt, HERE), no_progress())
        .await
        .map(|mut g| g.remove(0).prompt_run)
}

#[tokio::test]
async fn a_moodboard_id_runs_the_code_of_the_images_it_holds_now() {
    let w = World::new(&small()).await;
    let id = moodboard(&w.service, ALICE, "Now").await;
    let one = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(1))])
        .await
        .unwrap();
    let first = one.code.unwrap().code;
    let two = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(2))])
        .await
        .unwrap();
    let second = two.code.unwrap().code;
    assert_ne!(first, second);
    let added = two.images[1].id;

    // Back to the first set: the moodboard shows its code and a prompt runs it, although
    // the second code is newer.
    let back = w.service.moodboard_remove(ALICE, &id, added).await.unwrap();
    assert_eq!(back.code.unwrap().code, first);
    assert_eq!(
        imagine(&w.service, ALICE, &format!("a fox --p {} --seed 3", id.0))
            .await
            .unwrap(),
        format!("a fox --p {first} --seed 3")
    );
    let taste = w.service.profile_taste(ALICE, &id).await.unwrap();
    assert_eq!(taste.code.as_deref(), Some(first.as_str()));

    // With no image left, the ID runs nothing and says why.
    let first_image = back.images[0].id;
    let empty = w
        .service
        .moodboard_remove(ALICE, &id, first_image)
        .await
        .unwrap();
    assert!(empty.code.is_none());
    let err = imagine(&w.service, ALICE, &format!("a fox --p {}", id.0))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Your moodboard \"Now\" has no images yet: add some with /moodboard add."
    );
    // The codes themselves still run: they are frozen.
    assert!(
        imagine(&w.service, ALICE, &format!("a fox --p {second}"))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_image_set_mints_one_code_however_many_ask_at_once() {
    let w = World::new(&small()).await;
    let id = moodboard(&w.service, ALICE, "Once").await;
    let mine = imagine(&w.service, ALICE, "a fox --seed 2").await;
    assert!(mine.is_ok());
    let generation = w
        .service
        .recent_generations(ALICE, 1)
        .await
        .unwrap()
        .remove(0)
        .images[0];
    // The add stores the new set; the views and the prompt ask for its code meanwhile.
    let p = format!("a fox --p {}", id.0);
    let (added, a, b, c) = tokio::join!(
        w.service
            .moodboard_add(ALICE, &id, vec![Upload(tile(3)), Generation(generation)]),
        w.service.moodboard(ALICE, &id),
        w.service.moodboard(ALICE, &id),
        imagine(&w.service, ALICE, &p),
    );
    added.unwrap();
    let _ = (a, b, c);
    let codes: Vec<_> = w
        .service
        .list_codes(ALICE)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.profile == id)
        .collect();
    assert_eq!(codes.len(), 1, "one set, one code: {codes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_adding_at_once_cannot_pass_the_cap() {
    let w = World::new(&small()).await;
    let id = moodboard(&w.service, ALICE, "Full").await;
    let mut n = 0;
    while n < MOODBOARD_MAX_IMAGES as u32 - 3 {
        let batch: Vec<_> = (n..n + 5)
            .take(MOODBOARD_MAX_IMAGES - 3 - n as usize)
            .map(|k| Upload(tile(k)))
            .collect();
        n += batch.len() as u32;
        w.service.moodboard_add(ALICE, &id, batch).await.unwrap();
    }
    // A second process on the same database file: its own memory and connections.
    let second = Service::new(
        w.another_store().await,
        tastebud::config::Config::with_overrides(&small()).unwrap(),
        w.dir.path(),
    )
    .expect("service");
    // Each request fits on its own (47 + 3 = 50); both together would make 53.
    let batch = |from: u32| {
        (from..from + 3)
            .map(|k| Upload(tile(k)))
            .collect::<Vec<_>>()
    };
    let (a, b) = tokio::join!(
        w.service.moodboard_add(ALICE, &id, batch(100)),
        second.moodboard_add(ALICE, &id, batch(200)),
    );
    let refused: Vec<_> = [&a, &b]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    let held = |r: &tastebud::service::Result<tastebud::service::Moodboard>| {
        r.as_ref()
            .map(|m| m.images.len())
            .map_err(|e| e.to_string())
    };
    assert_eq!(refused.len(), 1, "{:?} {:?}", held(&a), held(&b));
    assert_eq!(
        refused[0].to_string(),
        "A moodboard holds at most 50 images; remove some first."
    );
    let board = w.service.moodboard(ALICE, &id).await.unwrap();
    assert_eq!(board.images.len(), MOODBOARD_MAX_IMAGES);
}

#[tokio::test]
async fn one_user_adds_to_moodboards_one_request_at_a_time_and_so_often() {
    let w = World::new(&limits("moodboard_adds_per_minute = 2")).await;
    let id = moodboard(&w.service, ALICE, "Slow").await;
    let held = w.service.moodboard_add_begin(ALICE, &id, 1).await.unwrap();
    let err = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(1))])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "You are already adding images to a moodboard; wait for that to finish, then try again."
    );
    w.service
        .moodboard_add_finish(held, vec![Upload(tile(2))])
        .await
        .unwrap();
    w.service
        .moodboard_add(ALICE, &id, vec![Upload(tile(3))])
        .await
        .unwrap();
    let err = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(4))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SlowDown {
                seconds: 25..=30,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with(
        "You're going faster than tastebud can keep up with: you can add images to a moodboard again in "
    ));
    assert_eq!(
        w.service.moodboard(ALICE, &id).await.unwrap().images.len(),
        2
    );
    // Someone else's moodboard is refused before anything would be downloaded.
    let err = w
        .service
        .moodboard_add_begin(BOB, &id, 1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProfileNotFound(_)), "{err}");
}

#[tokio::test]
async fn a_webp_bomb_is_refused_and_changes_nothing() {
    let w = World::new(&small()).await;
    let id = moodboard(&w.service, ALICE, "Bombed").await;
    let bomb = common::bombs::webp_frame_bomb();
    let err = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(1)), Upload(bomb)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadImage(_)), "{err}");
    let board = w.service.moodboard(ALICE, &id).await.unwrap();
    assert!(board.images.is_empty() && board.code.is_none());
}

#[tokio::test]
async fn a_large_upload_is_kept_at_the_size_a_moodboard_needs() {
    let w = World::new(&small()).await;
    let id = moodboard(&w.service, ALICE, "Big").await;
    let board = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(png(3000, 1500, [30, 90, 200]))])
        .await
        .unwrap();
    let path = image_path(&w.images_folder(), &board.images[0].image.hash);
    let stored = image::open(&path).unwrap();
    assert_eq!(
        (stored.width(), stored.height()),
        (tastebud::service::STORED_UPLOAD_SIDE, 512)
    );
}

#[tokio::test]
async fn a_flood_of_rank_clicks_is_refused_before_any_vote_is_stored() {
    let w = World::new(&limits("rank_pairs_per_minute = 3")).await;
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(w.service.next_pair(ALICE, None).await.unwrap().pair.id);
    }
    let err = w.service.next_pair(ALICE, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "You're going faster than tastebud can keep up with: you can rank again in 20 seconds."
    );
    // A click on a pair shown earlier would lead to a fourth pair: refused, and not stored,
    // so the same click works later.
    let err = w
        .service
        .vote(ALICE, pairs[0], Choice::Left)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SlowDown { .. }), "{err}");
    assert_eq!(w.store.vote(pairs[0]).await.unwrap(), None);
    // Other users are not held up.
    w.service.next_pair(BOB, None).await.unwrap();
}

#[tokio::test]
async fn likes_profile_views_and_recent_have_allowances_too() {
    let w = World::new(&limits(
        "likes_per_minute = 1\nprofile_shows_per_minute = 1\nrecents_per_minute = 1",
    ))
    .await;
    let a = w.generated_in(BOB, HERE).await;
    let b = w.generated_in(BOB, HERE).await;
    w.service.like(ALICE, a).await.unwrap();
    let err = w.service.like(ALICE, b).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SlowDown {
                seconds: 55..=60,
                ..
            }
        ),
        "{err}"
    );
    let global = w.global(ALICE, "7").await;
    let points = w.service.profile(ALICE, &global).await.unwrap().points;
    assert_eq!(points, 1, "the refused like counted nothing");
    w.service.profile_taste(ALICE, &global).await.unwrap();
    let err = w.service.profile_taste(ALICE, &global).await.unwrap_err();
    assert!(matches!(err, Error::SlowDown { .. }), "{err}");
    w.service.recent_generations(BOB, 3).await.unwrap();
    let err = w.service.recent_generations(BOB, 3).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "You're going faster than tastebud can keep up with: you can see your recent pictures again in "
        ),
        "{err}"
    );
}

#[tokio::test]
async fn renders_for_everyone_together_are_capped() {
    let w = World::new(&limits("renders = 1").replace("size = 64", "size = 256")).await;
    let (a, b) = tokio::join!(
        imagine(&w.service, ALICE, "a fox --seed 1"),
        imagine(&w.service, BOB, "a fox --seed 2"),
    );
    let busy: Vec<_> = [&a, &b]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(busy.len(), 1, "{a:?} {b:?}");
    assert_eq!(
        busy[0].to_string(),
        "tastebud is already drawing as many pictures as it can at once (1); please try again in a minute."
    );
    // Once the first is done, the next may run.
    imagine(&w.service, BOB, "a fox --seed 2").await.unwrap();
}

/// Forty days from now: past every retention period of the defaults.
fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(40 * 24 * 3600)
}

#[tokio::test]
async fn garbage_collection_keeps_what_codes_votes_likes_and_moodboards_need() {
    let w = World::new(&small()).await;
    let dir = w.images_folder();
    let id = moodboard(&w.service, ALICE, "Keep").await;
    let global = w.global(ALICE, "7").await;
    // Generated pictures: one voted on, one liked, one on a moodboard, one nobody needs.
    let voted = w.generated_in(ALICE, HERE).await;
    let other = w.generated_in(ALICE, HERE).await;
    let answered = w
        .store
        .create_pair(ALICE, &global, voted, other, "a fox")
        .await
        .unwrap();
    w.service
        .vote(ALICE, answered.id, Choice::Left)
        .await
        .unwrap();
    let liked = w.generated_in(BOB, HERE).await;
    w.service.like(ALICE, liked).await.unwrap();
    let pinned = w.generated_in(ALICE, HERE).await;
    let unkept = w.generated_in(ALICE, HERE).await;
    let unkept_file = image_path(
        &dir,
        &w.store.image(unkept).await.unwrap().unwrap().image.hash,
    );
    let unanswered = w
        .store
        .create_pair(ALICE, &global, unkept, other, "a fox")
        .await
        .unwrap();
    // Uploads: one kept on the moodboard, one removed but named by a code's image set.
    w.service
        .moodboard_add(ALICE, &id, vec![Upload(tile(1)), Generation(pinned)])
        .await
        .unwrap();
    let board = w
        .service
        .moodboard_add(ALICE, &id, vec![Upload(tile(2))])
        .await
        .unwrap();
    let removed = board.images[2].id;
    w.service
        .moodboard_remove(ALICE, &id, removed)
        .await
        .unwrap();
    // A temporary file a crash left behind, and a file no row names.
    let temp = dir.join(".0123.99.0.tmp");
    std::fs::write(&temp, b"half a picture").unwrap();
    let stray =
        tastebud::render::images::files::save_png(&dir, &image::RgbImage::new(3, 3)).unwrap();

    let codes_before = w.service.list_codes(ALICE).await.unwrap();
    let now = SystemTime::now();
    // Today, nothing is old enough (the pictures were just made) but nothing is broken.
    let today = w
        .service
        .collect_garbage(GcOptions::default(), now)
        .await
        .unwrap();
    assert_eq!(
        (
            today.rows.images,
            today.rows.pairs,
            today.files,
            today.temp_files
        ),
        (0, 0, 0, 0),
        "{today}"
    );
    assert!(today.broken.is_empty(), "{today}");

    // Forty days on: a dry run says what would go and deletes nothing.
    let dry = w
        .service
        .collect_garbage(
            GcOptions {
                dry_run: true,
                verify: true,
            },
            later(),
        )
        .await
        .unwrap();
    assert_eq!(dry.rows.images, 1, "{dry}");
    assert_eq!(dry.rows.pairs, 1, "{dry}");
    assert_eq!(dry.rows.jobs, 1, "the unkept picture's job: {dry}");
    assert_eq!((dry.files, dry.temp_files), (2, 1), "{dry}");
    assert!(unkept_file.is_file() && temp.is_file() && stray.path.is_file());
    assert!(w.store.image(unkept).await.unwrap().is_some());

    let done = w
        .service
        .collect_garbage(GcOptions::default(), later())
        .await
        .unwrap();
    assert_eq!(
        (done.rows, done.files, done.temp_files),
        (dry.rows, dry.files, dry.temp_files),
        "{done}"
    );
    assert!(!unkept_file.exists() && !temp.exists() && !stray.path.exists());
    assert!(w.store.image(unkept).await.unwrap().is_none());
    assert!(w.store.pair(unanswered.id).await.unwrap().is_none());
    assert!(w.store.pair(answered.id).await.unwrap().is_some());
    for kept in [voted, other, liked, pinned, removed, board.images[1].id] {
        let image = w.store.image(kept).await.unwrap().expect("kept");
        assert!(image_path(&dir, &image.image.hash).is_file(), "{kept}");
    }
    // A second collection finds nothing more.
    let twice = w
        .service
        .collect_garbage(GcOptions::default(), later())
        .await
        .unwrap();
    assert_eq!(
        (
            twice.rows.images,
            twice.rows.pairs,
            twice.rows.jobs,
            twice.files
        ),
        (0, 0, 0, 0),
        "{twice}"
    );
    // Every code is still there and still runs; the moodboard still has its code.
    assert_eq!(w.service.list_codes(ALICE).await.unwrap(), codes_before);
    for code in &codes_before {
        imagine(&w.service, ALICE, &format!("a fox --p {}", code.code))
            .await
            .unwrap();
    }
    let again = w.service.moodboard(ALICE, &id).await.unwrap();
    assert_eq!(again.images.len(), 2);
    assert!(
        codes_before
            .iter()
            .any(|c| Some(&c.code) == again.code.as_ref().map(|c| &c.code))
    );
}

#[tokio::test]
async fn a_missing_or_damaged_file_is_reported_and_rewritten_when_saved_again() {
    let w = World::new(&small()).await;
    let dir = w.images_folder();
    let a = w.generated_in(ALICE, HERE).await;
    let b = w.generated_in(ALICE, HERE).await;
    let hash = |id| {
        let store = w.store.clone();
        async move { store.image(id).await.unwrap().unwrap().image.hash }
    };
    let (ha, hb) = (hash(a).await, hash(b).await);
    let good = std::fs::read(image_path(&dir, &ha)).unwrap();
    // A power cut can leave an empty file; a disk can lose one.
    std::fs::write(image_path(&dir, &ha), b"").unwrap();
    std::fs::remove_file(image_path(&dir, &hb)).unwrap();
    let report = w
        .service
        .collect_garbage(
            GcOptions {
                dry_run: true,
                verify: false,
            },
            SystemTime::now(),
        )
        .await
        .unwrap();
    let mut expected = vec![ha.clone(), hb];
    expected.sort();
    assert_eq!(report.broken, expected, "{report}");
    assert!(
        report
            .to_string()
            .contains("2 kept images have a missing or damaged file")
    );
    // Saving the same picture again rewrites the empty file instead of trusting it.
    let saved = tastebud::render::images::files::save_png_bytes(&dir, &good).unwrap();
    assert_eq!(saved.hash, ha);
    assert_eq!(std::fs::read(image_path(&dir, &ha)).unwrap(), good);
    // A file with other bytes under the name is found with `verify`.
    std::fs::write(image_path(&dir, &ha), b"not these bytes").unwrap();
    let report = w
        .service
        .collect_garbage(
            GcOptions {
                dry_run: true,
                verify: true,
            },
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert!(report.broken.contains(&ha), "{report}");
}
