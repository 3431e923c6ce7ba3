//! The `tastebud` binary: `migrate`, `gc`, `servers`, `run` without a token, configuration
//! errors, `--help`.

#[path = "common/mod.rs"]
mod common;
#[path = "fakes/a1111.rs"]
mod fake_a1111;
#[path = "fakes/s3.rs"]
mod fake_s3;

use std::path::Path;
use std::process::{Command, Output};

use tastebud::domain::UserId;
use tastebud::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_tastebud");

/// Runs tastebud with `args`, with no TASTEBUD_* or DISCORD_TOKEN from the outer environment.
fn tastebud(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("DISCORD_TOKEN");
    for (key, _) in std::env::vars() {
        if key.starts_with("TASTEBUD_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run tastebud")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean_failure(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
}

#[test]
fn help_lists_every_command_and_option() {
    let out = tastebud(&["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["run", "migrate", "--config", "--data-dir"] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[tokio::test]
async fn migrate_creates_the_database_and_a_second_run_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let data_arg = data.to_str().unwrap();
    let out = tastebud(&["migrate", "--data-dir", data_arg], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let newest = newest_migration();
    assert!(
        text(&out.stdout).contains(&format!("schema version {newest}")),
        "{}",
        text(&out.stdout)
    );
    let db = data.join("tastebud.db");
    assert!(db.is_file());

    // Put something in, migrate again, and find it still there.
    let store = Store::open(&db).await.unwrap();
    store
        .ensure_user(UserId(7), &["7".to_string()])
        .await
        .unwrap();
    store.close().await;
    let out = tastebud(&["migrate", "--data-dir", data_arg], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = Store::open(&db).await.unwrap();
    assert!(
        store
            .global_profile(UserId(7), "7")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.schema_version().await.unwrap(), newest);
}

/// The version of the newest file in `migrations/` (named `NNNN_what.sql`).
fn newest_migration() -> i64 {
    migrations("sqlite").into_iter().max().unwrap()
}

/// The versions of the migrations for `engine` (`migrations/ENGINE/NNNN_what.sql`), sorted.
fn migrations(engine: &str) -> Vec<i64> {
    let dir = format!("{}/migrations/{engine}", env!("CARGO_MANIFEST_DIR"));
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .collect();
    versions.sort();
    versions
}

/// Everything a user has, as the store reads it back: to compare two databases.
async fn everything_of(store: &Store, user: UserId) -> String {
    let mut out = String::new();
    let settings = store.settings(user).await.unwrap();
    out += &format!("{settings:?}\n");
    for profile in store.live_profiles(user).await.unwrap() {
        let answered = store.answered_pairs(&profile.id, "style-v1").await.unwrap();
        let points = store.points(&profile).await.unwrap();
        let code = store.latest_code(&profile.id).await.unwrap();
        let board = store.moodboard_images(&profile.id).await.unwrap();
        out += &format!("{profile:?} {points} {answered:?} {code:?} {board:?}\n");
    }
    for code in store.codes_of(user).await.unwrap() {
        out += &format!("{code:?}\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_copies_every_table_into_an_empty_database_and_refuses_a_full_one() {
    use tastebud::domain::{Choice, Place};
    const ALICE: UserId = UserId(11);
    const BOB: UserId = UserId(12);
    // A database made by the SQLite version: votes up to the unlock (a code), a moodboard, a
    // generation Bob likes, settings.
    let source = common::World::on(common::db::TestDb::sqlite(), common::SMALL).await;
    common::moodboard(&source.service, ALICE, "Board").await;
    let picture = source.generated_in(ALICE, Place::Guild(5)).await;
    source.service.like(BOB, picture).await.unwrap();
    source.service.settings(BOB).await.unwrap();
    let mut settings = source.store.settings(BOB).await.unwrap();
    settings.auto_personalize = true;
    source.store.save_settings(BOB, &settings).await.unwrap();
    let before = source.store.table_counts().await.unwrap();
    let images: Vec<_> = (1..=picture + 1).collect();
    let mut expected = String::new();
    for user in [ALICE, BOB] {
        expected += &everything_of(&source.store, user).await;
    }
    for id in &images {
        expected += &format!("{:?}\n", source.store.image(*id).await.unwrap());
    }
    source.store.close().await;

    // The target: this run's PostgreSQL when the suite runs on it, else another SQLite file.
    let target_dir = tempfile::tempdir().unwrap();
    let target = match std::env::var(common::db::POSTGRES_VAR) {
        Ok(server) if !server.is_empty() => common::db::TestDb::postgres(&server).await,
        _ => common::db::TestDb::sqlite_file(&target_dir.path().join("copy.db")),
    };
    let data = source.dir.path().to_str().unwrap();
    let out = tastebud(&["--data-dir", data, "migrate", "--to", &target.url], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("votes: 6 rows"), "{stdout}");
    assert!(stdout.contains("as many rows in both"), "{stdout}");

    let copy = target.open(target_dir.path()).await;
    assert_eq!(copy.table_counts().await.unwrap(), before);
    let mut found = String::new();
    for user in [ALICE, BOB] {
        found += &everything_of(&copy, user).await;
    }
    for id in &images {
        found += &format!("{:?}\n", copy.image(*id).await.unwrap());
    }
    assert_eq!(found, expected);
    assert!(found.contains("auto_personalize: true"), "{found}");
    assert!(found.contains("Some(Code {"), "a code was copied: {found}");
    assert!(
        found.contains("origin: Generated"),
        "an image was copied: {found}"
    );

    // The copy is a working database: new rows get new ids after the copied ones.
    let service = tastebud::service::Service::new(
        copy.clone(),
        tastebud::config::Config::with_overrides(common::SMALL).unwrap(),
        source.dir.path(),
    )
    .unwrap();
    let global = copy.global_profile(ALICE, "7").await.unwrap().unwrap();
    let pair = copy
        .create_pair(ALICE, &global.id, 1, 2, "a lighthouse at dusk")
        .await
        .unwrap();
    let pairs_before = before.iter().find(|(t, _)| *t == "pairs").unwrap().1 as i64;
    assert!(pair.id > pairs_before, "{}", pair.id);
    service.vote(ALICE, pair.id, Choice::Left).await.unwrap();

    // A second copy into the now full database is refused and changes nothing there.
    let counts = copy.table_counts().await.unwrap();
    let out = tastebud(&["--data-dir", data, "migrate", "--to", &target.url], &[]);
    assert_clean_failure(&out, "already holds data");
    assert_eq!(copy.table_counts().await.unwrap(), counts);
    copy.close().await;
}

#[test]
fn both_engines_have_the_same_migrations() {
    assert!(!migrations("sqlite").is_empty());
    assert_eq!(migrations("sqlite"), migrations("postgres"));
}

#[test]
fn a_corrupt_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..16_384u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("tastebud.db"), &junk).unwrap();
    let out = tastebud(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert_clean_failure(&out, "is not a tastebud database");
    // The file is left as it was.
    assert_eq!(std::fs::read(dir.path().join("tastebud.db")).unwrap(), junk);
}

/// Runs `tastebud migrate` on `dir` as a user who may not write there. Root may write
/// anywhere, so as root the command runs as `nobody` through setpriv.
fn migrate_without_write_access(dir: &Path) -> Output {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        return tastebud(&["migrate", "--data-dir", dir.to_str().unwrap()], &[]);
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["migrate", "--data-dir", dir.to_str().unwrap()])
        .env_remove("DISCORD_TOKEN");
    cmd.output().expect("run setpriv")
}

#[tokio::test]
async fn a_read_only_database_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("data");
    let store = Store::open_in(&data).await.unwrap();
    store.close().await;
    for (path, mode) in [(outer.path(), 0o755), (data.as_path(), 0o555)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let db = data.join("tastebud.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&db).unwrap();
    let out = migrate_without_write_access(&data);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_clean_failure(&out, "read-only");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn run_without_a_token_checks_everything_and_explains_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let out = tastebud(&["run", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert_clean_failure(&out, "set DISCORD_TOKEN");
    assert!(text(&out.stdout).contains("versions: 6, 6.1, 7, niji 6"));
    assert!(dir.path().join("tastebud.db").is_file());
}

#[test]
fn environment_variables_override_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = tastebud(
        &["run", "--data-dir", dir.path().to_str().unwrap()],
        &[
            // Versions may be written as bare numbers, as people do in a shell.
            ("TASTEBUD_PERSONALIZATION__VERSIONS", "[6.1, \"7\"]"),
            ("TASTEBUD_PERSONALIZATION__DEFAULT_VERSION", "6.1"),
        ],
    );
    assert!(
        text(&out.stdout).contains("versions: 6.1, 7."),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn unknown_keys_and_bad_values_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let out = tastebud(
        &["migrate", "--data-dir", data],
        &[("TASTEBUD_COLOUR", "blue")],
    );
    assert_clean_failure(&out, "TASTEBUD_COLOUR: unknown field");
    let out = tastebud(
        &["migrate", "--data-dir", data],
        &[("TASTEBUD_PERSONALIZATION__UNLOCK_THRESHOLD", "lots")],
    );
    assert_clean_failure(
        &out,
        "TASTEBUD_PERSONALIZATION__UNLOCK_THRESHOLD: invalid type",
    );

    let file = dir.path().join("mine.toml");
    for (contents, expected) in [
        (
            "[prompt]\nmax_jobs = 4\nmax_jobz = 9\n",
            "prompt.max_jobz: unknown field",
        ),
        (
            "[personalization]\nunlock_threshold = 0\n",
            "personalization.unlock_threshold: must be at least 1",
        ),
        (
            "[personalization]\ndefault_version = \"5\"\n",
            "\"5\" is not one of personalization.versions",
        ),
        (
            "[ranking]\nard_rounds = 21\n",
            "ranking.ard_rounds: must be 0 to 20",
        ),
    ] {
        std::fs::write(&file, contents).unwrap();
        let out = tastebud(
            &[
                "--config",
                file.to_str().unwrap(),
                "migrate",
                "--data-dir",
                data,
            ],
            &[],
        );
        assert_clean_failure(&out, expected);
    }
    let out = tastebud(
        &[
            "--config",
            "/nonexistent/tastebud.toml",
            "migrate",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert_clean_failure(
        &out,
        "config file /nonexistent/tastebud.toml does not exist",
    );
    // Nothing was created by any of the refused runs.
    assert!(!Path::new(data).exists());
}

#[test]
fn gc_says_what_it_would_delete_then_deletes_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    // A temporary file a crash left behind, made old enough to be garbage.
    let temp = images.join(".abc.1.0.tmp");
    std::fs::write(&temp, b"half").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .append(true)
        .open(&temp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = tastebud(&["gc", "--dry-run", "--data-dir", data], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "Would delete 0 images, 0 unanswered pairs, 0 finished jobs, 0 image files and 1 \
         temporary files (0.0 MB)."
    );
    assert!(temp.exists());
    let out = tastebud(&["gc", "--data-dir", data], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Deleted 0 images"));
    assert!(!temp.exists());
}

#[tokio::test]
async fn servers_says_which_server_is_up_and_why_one_is_not() {
    let fake = fake_a1111::FakeA1111::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("servers.toml");
    std::fs::write(
        &config,
        format!(
            "[render.versions.\"7\"]\nbackend = \"automatic1111\"\nurl = \"{url}\"\n\
             model = \"dreamshaper_8.safetensors\"\n\
             [render.versions.\"8\"]\nbackend = \"automatic1111\"\nurl = \"{url}\"\n\
             model = \"juggernautXL_v9.safetensors\"\n",
            url = fake.url()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("path").to_string();
    let out = tokio::task::spawn_blocking(move || tastebud(&["--config", &config, "servers"], &[]))
        .await
        .expect("run");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    let seven = stdout
        .split("version")
        .find(|s| s.starts_with(" \"7\""))
        .expect("version 7");
    assert!(seven.contains(": up;"), "{stdout}");
    let eight = stdout
        .split("version")
        .find(|s| s.starts_with(" \"8\""))
        .expect("version 8");
    assert!(
        eight.contains("DOWN")
            && eight.contains("juggernautXL_v9")
            && eight.contains("dreamshaper_8"),
        "the cause names the missing model and the ones there are: {stdout}"
    );
    assert_eq!(fake.txt2img_calls(), 0, "checking renders nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_images_to_copies_every_picture_into_object_storage_verified() {
    use fake_s3::{BUCKET, FakeS3, SECRET_KEY};
    use tastebud::domain::Place;
    use tastebud::render::images::files::{FileKind, content_hash};
    // Pictures in the data directory's folder: a generation, uploads on a moodboard.
    let source = common::World::on(common::db::TestDb::sqlite(), common::SMALL).await;
    common::moodboard(&source.service, UserId(11), "Board").await;
    source.generated_in(UserId(11), Place::Private).await;
    let folder = source.dir.path().join("images");
    let files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| matches!(FileKind::of_name(n), FileKind::Image { .. }))
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    source.store.close().await;

    let fake = FakeS3::start().await;
    let data = source.dir.path().to_str().unwrap();
    let images_to = format!("s3://{BUCKET}/moved");
    let settings = fake.settings(SECRET_KEY);
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = tastebud(
        &["migrate", "--data-dir", data, "--images-to", &images_to],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("Copied {} image files", files.len())),
        "{}",
        text(&out.stdout)
    );
    let mut keys = fake.keys();
    keys.sort();
    let mut expected: Vec<String> = files.iter().map(|f| format!("moved/{f}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    for name in &files {
        let bytes = fake.object(&format!("moved/{name}")).unwrap();
        assert_eq!(format!("{}.png", content_hash(&bytes)), *name);
    }

    // A damaged file stops the copy and is named.
    let damaged = &files[0];
    std::fs::write(folder.join(damaged), b"not the picture").unwrap();
    let out = tastebud(
        &["migrate", "--data-dir", data, "--images-to", &images_to],
        &env,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(damaged.trim_end_matches(".png")),
        "{}",
        text(&out.stderr)
    );
}
