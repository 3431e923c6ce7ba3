//! Image files in S3-compatible object storage (`images.url = "s3://…"`), on a strict fake S3
//! that checks every request's signature and pages every listing.

use std::time::{Duration, SystemTime};

use tastebud::domain::{Choice, Place, UserId};
use tastebud::render::backend::no_progress;
use tastebud::render::images::files::content_hash;
use tastebud::render::images::storage::ImageStore;
use tastebud::service::{GcOptions, Imagine};

use crate::common::{SMALL, World};
use crate::fake_s3::{BUCKET, FakeS3, PAGE, SECRET_KEY};

const ALICE: UserId = UserId(1001);

/// The image store on `fake`, below `pics/`, signed with `secret`.
fn on_fake(fake: &FakeS3, dir: &std::path::Path, secret: &str) -> ImageStore {
    ImageStore::open_with(
        &format!("s3://{BUCKET}/pics"),
        dir,
        fake.settings(secret)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    )
    .expect("image store")
}

async fn world_on(fake: &FakeS3) -> World {
    let mut w = World::new(SMALL).await;
    let images = on_fake(fake, w.dir.path(), SECRET_KEY);
    w.service = w.service.clone().with_images(images);
    w
}

#[tokio::test]
async fn generations_and_the_ranking_pool_keep_their_files_in_object_storage() {
    let fake = FakeS3::start().await;
    let w = world_on(&fake).await;
    let made = w
        .service
        .imagine(
            ALICE,
            Imagine::new("a lighthouse --v 7", Place::Private),
            no_progress(),
        )
        .await
        .expect("a generation");
    let first = made[0].images[0];
    let image = w.store.image(first).await.unwrap().unwrap();
    let key = format!("pics/{}.png", image.image.hash);
    let stored = fake.object(&key).expect("the picture is in the bucket");
    assert_eq!(content_hash(&stored), image.image.hash);
    // Posted as stored.
    let file = w.service.image_file(first).await.unwrap();
    assert_eq!(file.file.bytes, stored);
    // The ranking pool is drawn into the bucket too, and pairs are composed from it.
    let next = w.service.next_pair(ALICE, None).await.expect("a pair");
    assert!(!next.image.bytes.is_empty());
    w.service
        .vote(ALICE, next.pair.id, Choice::Left)
        .await
        .expect("vote");
    let pool = w.service.ranking_pool("7").await.unwrap();
    for image in &pool {
        assert!(
            fake.object(&format!("pics/{}.png", image.image.hash))
                .is_some()
        );
    }
    let keys = fake.keys();
    assert_eq!(keys.len(), 4 + pool.len(), "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with("pics/") && k.ends_with(".png")),
        "{keys:?}"
    );
    // Nothing was written to the data directory's folder.
    assert!(!w.dir.path().join("images").exists());
    // Every request was signed (the fake refuses others) and went to the one bucket.
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.contains(&format!(" /{BUCKET}"))),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn garbage_collection_reads_every_page_and_deletes_only_old_unnamed_files() {
    let fake = FakeS3::start().await;
    let w = world_on(&fake).await;
    let kept = w.generated_in(ALICE, Place::Private).await;
    let kept_hash = w.store.image(kept).await.unwrap().unwrap().image.hash;
    // More strays than a listing page holds: old ones, one young one, and a key that is not a
    // picture (left alone).
    let day = Duration::from_secs(24 * 3600);
    let strays: Vec<String> = (0..2 * PAGE as u8 + 1)
        .map(|n| {
            let bytes = [n; 10];
            let key = format!("pics/{}.png", content_hash(&bytes));
            fake.put_object(&key, &bytes, 2 * day);
            key
        })
        .collect();
    let young = format!("pics/{}.png", content_hash(b"young"));
    fake.put_object(&young, b"young", Duration::ZERO);
    fake.put_object("pics/notes.txt", b"someone else's", 2 * day);
    // A picture-named key in a folder below the prefix is not one of ours either.
    let nested = format!("pics/old/{}.png", content_hash(&[0u8; 10]));
    fake.put_object(&nested, &[0u8; 10], 2 * day);

    let report = w
        .service
        .collect_garbage(GcOptions::default(), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(report.files, strays.len() as u64, "{report}");
    assert!(report.broken.is_empty(), "{report}");
    let keys = fake.keys();
    for stray in &strays {
        assert!(!keys.contains(stray), "{stray} deleted");
    }
    assert!(keys.contains(&young) && keys.contains(&"pics/notes.txt".to_string()));
    assert!(keys.contains(&nested), "{keys:?}");
    assert!(keys.contains(&format!("pics/{kept_hash}.png")));

    // A kept picture whose object holds other bytes is found by a verifying collection.
    fake.put_object(&format!("pics/{kept_hash}.png"), b"damaged", Duration::ZERO);
    let verified = w
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
    assert_eq!(verified.broken, vec![kept_hash], "{verified}");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_named_and_nothing_is_stored() {
    let fake = FakeS3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let images = on_fake(&fake, dir.path(), "not-the-secret");
    let refused = images
        .save_png(b"\x89PNG not really".to_vec())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("s3://{BUCKET}/pics")),
        "names the store: {refused}"
    );
    assert!(
        refused.contains("SignatureDoesNotMatch") || refused.contains("403"),
        "says why: {refused}"
    );
    assert!(fake.keys().is_empty());
    assert!(!refused.contains("not-the-secret"), "{refused}");
}

#[test]
fn a_bad_images_url_is_refused_with_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("ftp://host/x", "s3://bucket/prefix"),
        ("s3:///pics", "no bucket"),
        ("file://relative/dir", "absolute"),
    ] {
        let error = ImageStore::open_with(url, dir.path(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains(says), "{url}: {error}");
    }
    let folder = ImageStore::open_with("file:///srv/pictures", dir.path(), Vec::new()).unwrap();
    assert_eq!(
        folder.folder_path(),
        Some(std::path::Path::new("/srv/pictures"))
    );
    let default = ImageStore::open_with("", dir.path(), Vec::new()).unwrap();
    assert_eq!(
        default.folder_path(),
        Some(dir.path().join("images").as_path())
    );
}
