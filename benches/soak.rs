//! Soak: 100 simulated users for ten minutes against one service on a real SQLite file, with
//! the default limits, mixing `/rank` clicks, `/imagine`, `/moodboard add` (some of them
//! decompression bombs) and `/profile show`, each user pausing 0.5–3 s between actions.
//!
//! Run: `cargo bench --bench soak` (`SOAK_SECS` and `SOAK_USERS` change the length and the
//! crowd). It prints, every minute and at the end: actions done, refusals by kind (allowances,
//! busy renderer, bad images), errors on tastebud's side (which should be none), the process's
//! resident memory (now and peak) and the data folder's size; at the end, what `tastebud gc`
//! would delete forty days on.

#[path = "../tests/common/bombs.rs"]
mod bombs;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tastebud::config::Config;
use tastebud::domain::{Choice, Place, ProfileId, ProfileKind, UserId};
use tastebud::render::backend::no_progress;
use tastebud::service::{CreateProfile, Error, GcOptions, Imagine, MoodboardImage, Service};
use tastebud::store::Store;

/// Small enough to unlock moodboards during the run; otherwise the defaults.
const CONFIG: &str = "
[personalization]
unlock_threshold = 10
refresh_every = 10
";

/// Counts of outcomes by name.
type Tally = Arc<Mutex<BTreeMap<String, u64>>>;

fn count(tally: &Tally, what: impl Into<String>) {
    *tally.lock().unwrap().entry(what.into()).or_default() += 1;
}

/// What an error is, for the tally: refusals by kind, or "ERROR" for tastebud's own.
fn kind(e: &Error) -> String {
    if let Some(cause) = e.internal_cause() {
        eprintln!("error on tastebud's side: {cause}");
        return "ERROR".into();
    }
    let name = format!("{e:?}");
    name.split(['(', ' ', '{'])
        .next()
        .unwrap_or("?")
        .to_string()
}

/// A small picture, different for every `n`.
fn tile(n: u64) -> Vec<u8> {
    let image = image::RgbImage::from_fn(48, 48, |x, y| {
        image::Rgb([(n * 37) as u8, (x * 5 + n as u32) as u8, (y * 5) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Resident memory now and at its peak, in MB, from /proc.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes under `dir`.
fn size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn user_loop(service: Service, user: UserId, until: Instant, tally: Tally, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pair: Option<i64> = None;
    let mut board: Option<ProfileId> = None;
    let mut n = seed * 1000;
    while Instant::now() < until {
        let pause = rng.random_range(500..3000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let roll = rng.random_range(0..100);
        let outcome: Result<&str, Error> = if roll < 70 {
            // A click on the pair shown (or /rank for the first).
            let voted = match pair.take() {
                Some(p) => {
                    let choice = if rng.random_bool(0.5) {
                        Choice::Left
                    } else {
                        Choice::Right
                    };
                    service.vote(user, p, choice).await.map(|_| ())
                }
                None => Ok(()),
            };
            match voted {
                Ok(()) => service.next_pair(user, None).await.map(|next| {
                    pair = Some(next.pair.id);
                    "rank"
                }),
                Err(e) => Err(e),
            }
        } else if roll < 80 {
            let prompt = format!("a lighthouse at dusk --seed {}", rng.random_range(0..1000));
            service
                .imagine(user, Imagine::new(prompt, Place::Guild(1)), no_progress())
                .await
                .map(|_| "imagine")
        } else if roll < 95 {
            if board.is_none() {
                match service
                    .create_profile(
                        user,
                        CreateProfile {
                            kind: ProfileKind::Moodboard,
                            version: None,
                            name: "soak".into(),
                        },
                    )
                    .await
                {
                    Ok(p) => board = Some(p.profile.id),
                    Err(e) => {
                        count(&tally, format!("moodboard create: {}", kind(&e)));
                        continue;
                    }
                }
            }
            let id = board.clone().expect("a moodboard");
            n += 1;
            let bomb = rng.random_range(0..5) == 0;
            let bytes = if bomb {
                bombs::webp_frame_bomb()
            } else {
                tile(n)
            };
            let result = service
                .moodboard_add(user, &id, vec![MoodboardImage::Upload(bytes)])
                .await;
            match (&result, bomb) {
                (Err(Error::MoodboardFull(_)), _) => {
                    // Start over with a fresh moodboard.
                    let _ = service.delete_profile(user, &id).await;
                    board = None;
                }
                (Ok(_), true) => count(&tally, "BOMB ACCEPTED"),
                _ => {}
            }
            result.map(|_| {
                if bomb {
                    "bomb refused?"
                } else {
                    "moodboard add"
                }
            })
        } else {
            let global = service
                .global_profile(user, "7")
                .await
                .map(|g| g.profile.id);
            match global {
                Ok(id) => service
                    .profile_taste(user, &id)
                    .await
                    .map(|_| "profile show"),
                Err(e) => Err(e),
            }
        };
        match outcome {
            Ok(what) => count(&tally, what),
            Err(Error::BadImage(_)) => count(&tally, "moodboard add: bomb refused"),
            Err(e) => count(&tally, format!("refused: {}", kind(&e))),
        }
    }
}

fn main() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let users: u64 = std::env::var("SOAK_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::with_overrides(CONFIG).expect("config");
        let store = Store::open_in(dir.path()).await.expect("store");
        let service = Service::new(store, config, dir.path()).expect("service");
        eprintln!("drawing the pool…");
        service
            .build_pool("7", None, &|_, _| {})
            .await
            .expect("pool");
        let start_size = size(dir.path());
        let tally: Tally = Arc::default();
        let started = Instant::now();
        let until = started + Duration::from_secs(secs);
        let tasks: Vec<_> = (1..=users)
            .map(|u| {
                tokio::spawn(user_loop(
                    service.clone(),
                    UserId(10_000 + u),
                    until,
                    tally.clone(),
                    u,
                ))
            })
            .collect();
        let report = |label: &str| {
            let (now, peak) = rss();
            let grown = size(dir.path()) as f64 - start_size as f64;
            eprintln!(
                "{label}: RSS {now:.0} MB (peak {peak:.0} MB), data folder +{:.1} MB; {:?}",
                grown / 1e6,
                tally.lock().unwrap()
            );
        };
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(60).min(until - Instant::now())).await;
            report(&format!("{:>4.0} s", started.elapsed().as_secs_f64()));
        }
        for task in tasks {
            task.await.expect("user task");
        }
        report("end");
        let later = SystemTime::now() + Duration::from_secs(40 * 24 * 3600);
        let gc = service
            .collect_garbage(
                GcOptions {
                    dry_run: true,
                    verify: false,
                },
                later,
            )
            .await
            .expect("gc");
        eprintln!("forty days on, gc would: {gc}");
    });
}
