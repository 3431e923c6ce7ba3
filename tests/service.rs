//! The foundation's rules, through the service, on real SQLite files in temp dirs.

mod common;
#[path = "fakes/a1111.rs"]
mod fake_a1111;
#[path = "fakes/s3.rs"]
mod fake_s3;
/// Hostile or very busy users (a module here rather than a test binary of its own: one link
/// fewer in CI).
#[path = "service/hostile.rs"]
mod hostile;
/// Image files in object storage.
#[path = "service/images.rs"]
mod images;
/// The generation queue between processes.
#[path = "service/queue.rs"]
mod queue;
/// A version on a (fake) Stable Diffusion server.
#[path = "service/servers.rs"]
mod servers;

use common::World;
use tastebud::domain::{Choice, Code, ProfileId, ProfileKind, StylizePreset, UserId};
use tastebud::service::{CreateProfile, Error};

const ALICE: UserId = UserId(1001);
const BOB: UserId = UserId(2002);
/// A small unlock threshold keeps the tests quick; the rules do not depend on its size.
const SMALL: &str = "personalization.unlock_threshold = 3\npersonalization.refresh_every = 2";

fn ranked(name: &str) -> CreateProfile {
    CreateProfile {
        kind: ProfileKind::Ranked,
        version: Some("7".into()),
        name: name.into(),
    }
}

#[tokio::test]
async fn every_user_has_one_global_profile_per_configured_version() {
    let w = World::new("").await;
    let profiles = w.service.list_profiles(ALICE).await.unwrap();
    let mut versions: Vec<_> = profiles.iter().map(|p| p.profile.version.clone()).collect();
    versions.sort();
    assert_eq!(versions, ["6", "6.1", "7", "niji 6"]);
    assert!(
        profiles
            .iter()
            .all(|p| p.profile.kind == ProfileKind::Global)
    );
    assert!(profiles.iter().all(|p| p.threshold == 200 && p.points == 0));
    // Asking again creates nothing new.
    assert_eq!(w.service.list_profiles(ALICE).await.unwrap().len(), 4);
}

#[tokio::test]
async fn concurrent_first_calls_create_one_global_profile_per_version() {
    let w = World::new("").await;
    let calls = (0..20).map(|_| {
        let service = w.service.clone();
        tokio::spawn(async move { service.list_profiles(ALICE).await })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(w.service.list_profiles(ALICE).await.unwrap().len(), 4);
}

#[tokio::test]
async fn settings_survive_closing_and_reopening_the_database() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let moody = w
        .service
        .create_profile(ALICE, ranked("Moody"))
        .await
        .unwrap();
    w.service.set_personalization(ALICE, true).await.unwrap();
    w.service
        .set_default_version(ALICE, Some("6.1"))
        .await
        .unwrap();
    w.service
        .set_stylize_preset(ALICE, StylizePreset::VeryHigh)
        .await
        .unwrap();
    w.service
        .set_default_profiles(ALICE, "7", &[moody.profile.id.clone(), global.clone()])
        .await
        .unwrap();

    let w = w.reopen(SMALL).await;
    let view = w.service.settings(ALICE).await.unwrap();
    assert!(view.settings.auto_personalize);
    assert_eq!(view.settings.default_version.as_deref(), Some("6.1"));
    assert_eq!(view.version, "6.1");
    assert_eq!(view.settings.stylize, StylizePreset::VeryHigh);
    assert_eq!(view.settings.stylize.stylize(), 750);
    // The panel shows the defaults of the default version (6.1: none chosen, so its global).
    assert_eq!(view.default_profiles.len(), 1);
    assert_eq!(view.default_profiles[0].kind, ProfileKind::Global);
    assert_eq!(view.default_profiles[0].version, "6.1");
    // The V7 defaults were kept, in the order chosen.
    w.service.set_default_version(ALICE, None).await.unwrap();
    let view = w.service.settings(ALICE).await.unwrap();
    assert_eq!(view.version, "7");
    let ids: Vec<_> = view.default_profiles.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, [moody.profile.id, global]);
}

#[tokio::test]
async fn new_users_get_sensible_default_settings() {
    let w = World::new("").await;
    let view = w.service.settings(BOB).await.unwrap();
    assert!(!view.settings.auto_personalize);
    assert_eq!(view.settings.default_version, None);
    assert_eq!(view.version, "7");
    assert_eq!(view.settings.stylize.stylize(), 100);
    assert_eq!(view.versions, ["6", "6.1", "7", "niji 6"]);
}

#[tokio::test]
async fn stylize_presets_are_low_med_high_very_high() {
    let values: Vec<u32> = StylizePreset::ALL.iter().map(|p| p.stylize()).collect();
    assert_eq!(values, [50, 100, 250, 750]);
    let w = World::new("").await;
    for preset in StylizePreset::ALL {
        let view = w.service.set_stylize_preset(ALICE, preset).await.unwrap();
        assert_eq!(view.settings.stylize, preset);
    }
}

#[tokio::test]
async fn an_unknown_version_is_refused_and_changes_nothing() {
    let w = World::new("").await;
    let err = w
        .service
        .set_default_version(ALICE, Some("5.2"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownVersion { .. }));
    assert_eq!(
        err.to_string(),
        "\"5.2\" is not a version personalization works with; choose one of: 6, 6.1, 7, niji 6."
    );
    assert_eq!(
        w.service
            .settings(ALICE)
            .await
            .unwrap()
            .settings
            .default_version,
        None
    );
}

#[tokio::test]
async fn the_global_profile_cannot_be_deleted_renamed_or_created() {
    let w = World::new("").await;
    let global = w.global(ALICE, "7").await;
    let err = w.service.delete_profile(ALICE, &global).await.unwrap_err();
    assert!(matches!(err, Error::CannotDeleteGlobal), "{err}");
    let err = w
        .service
        .rename_profile(ALICE, &global, "Other")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CannotRenameGlobal), "{err}");
    let err = w
        .service
        .create_profile(
            ALICE,
            CreateProfile {
                kind: ProfileKind::Global,
                version: Some("7".into()),
                name: "Second".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CannotCreateGlobal), "{err}");
    let after = w.service.global_profile(ALICE, "7").await.unwrap();
    assert_eq!(after.profile.id, global);
    assert_eq!(after.profile.name, "Global");
    assert_eq!(after.profile.deleted_at, None);
}

#[tokio::test]
async fn a_ranked_profile_cannot_be_created_before_unlock() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 1).await;
    let err = w
        .service
        .create_profile(ALICE, ranked("Early"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::GlobalLocked { remaining: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Unlock your V7 global profile first: rank 2 more pairs with /rank."
    );
    // A moodboard needs the same.
    let err = w
        .service
        .create_profile(
            ALICE,
            CreateProfile {
                kind: ProfileKind::Moodboard,
                version: None,
                name: "Board".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::GlobalLocked { .. }), "{err:?}");
    assert_eq!(w.service.list_profiles(ALICE).await.unwrap().len(), 4);

    w.votes(ALICE, &global, 2).await;
    let made = w
        .service
        .create_profile(ALICE, ranked("Early"))
        .await
        .unwrap();
    assert_eq!(made.profile.kind, ProfileKind::Ranked);
    assert_eq!(made.profile.version, "7");
    assert_eq!((made.points, made.threshold), (0, 3));
    assert!(!made.unlocked());
}

#[tokio::test]
async fn unlocking_one_version_does_not_unlock_another() {
    let w = World::new(SMALL).await;
    let v7 = w.global(ALICE, "7").await;
    w.votes(ALICE, &v7, 3).await;
    let err = w
        .service
        .create_profile(
            ALICE,
            CreateProfile {
                version: Some("6.1".into()),
                ..ranked("Old")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unlock your V6.1 global profile first: rank 3 more pairs with /rank."
    );
}

#[tokio::test]
async fn profiles_are_renamed_and_names_stay_unique_per_version() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let a = w
        .service
        .create_profile(ALICE, ranked("Moody"))
        .await
        .unwrap();
    let b = w
        .service
        .create_profile(ALICE, ranked("Bright"))
        .await
        .unwrap();
    let err = w
        .service
        .create_profile(ALICE, ranked("  moody "))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "You already have a V7 profile named \"moody\"."
    );
    let err = w
        .service
        .rename_profile(ALICE, &b.profile.id, "MOODY")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NameTaken { .. }), "{err:?}");
    let renamed = w
        .service
        .rename_profile(ALICE, &a.profile.id, "  Noir  ")
        .await
        .unwrap();
    assert_eq!(renamed.profile.name, "Noir");
    let shown = w.service.profile(ALICE, &a.profile.id).await.unwrap();
    assert_eq!(shown.profile.name, "Noir");
    // Another user may use any name; the same name is fine once the old profile is deleted.
    w.service
        .delete_profile(ALICE, &b.profile.id)
        .await
        .unwrap();
    w.service
        .create_profile(ALICE, ranked("Bright"))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_names_are_refused_with_the_reason() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    for (name, message) in [
        ("   ", "A profile name can't be empty."),
        (
            "this name is far too long for a profile",
            "A profile name can be at most 32 characters long.",
        ),
        (
            "tab\there",
            "A profile name can't contain control characters.",
        ),
    ] {
        let err = w
            .service
            .create_profile(ALICE, ranked(name))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(w.service.list_profiles(ALICE).await.unwrap().len(), 4);
}

#[tokio::test]
async fn profile_ids_are_private_to_their_owner() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let a = w
        .service
        .create_profile(ALICE, ranked("Mine"))
        .await
        .unwrap();
    for err in [
        w.service.profile(BOB, &a.profile.id).await.unwrap_err(),
        w.service
            .rename_profile(BOB, &a.profile.id, "Stolen")
            .await
            .unwrap_err(),
        w.service
            .delete_profile(BOB, &a.profile.id)
            .await
            .unwrap_err(),
        w.service
            .set_default_profiles(BOB, "7", std::slice::from_ref(&a.profile.id))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(
            err.to_string(),
            format!("You have no profile {}.", a.profile.id)
        );
    }
    let still = w.service.profile(ALICE, &a.profile.id).await.unwrap();
    assert_eq!(still.profile.name, "Mine");
    assert_eq!(still.profile.deleted_at, None);
    // Profile IDs may be typed in capitals.
    let upper = ProfileId(a.profile.id.0.to_uppercase());
    assert_eq!(
        w.service.profile(ALICE, &upper).await.unwrap().profile.id,
        a.profile.id
    );
}

#[tokio::test]
async fn a_deleted_profile_leaves_lists_and_defaults_takes_no_data_and_its_codes_resolve() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let moody = w
        .service
        .create_profile(ALICE, ranked("Moody"))
        .await
        .unwrap();
    let id = moody.profile.id.clone();
    let pending = w.pair(ALICE, &id).await;
    w.service
        .set_default_profiles(ALICE, "7", std::slice::from_ref(&id))
        .await
        .unwrap();
    let code = Code {
        code: "k3x9q2z".into(),
        profile: id.clone(),
        owner: ALICE,
        version: "7".into(),
        space: "style-v1".into(),
        vector: vec![0.5, -1.25, 2.0],
        points: 3,
        created_at: 1,
    };
    w.store.insert_code(&code).await.unwrap().unwrap();

    let deleted = w.service.delete_profile(ALICE, &id).await.unwrap();
    assert_eq!(deleted.name, "Moody");

    let listed = w.service.list_profiles(ALICE).await.unwrap();
    assert!(listed.iter().all(|p| p.profile.id != id));
    let view = w.service.settings(ALICE).await.unwrap();
    assert_eq!(view.default_profiles.len(), 1);
    assert_eq!(view.default_profiles[0].id, global);
    let err = w
        .service
        .vote(ALICE, pending.id, Choice::Left)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The profile \"Moody\" was deleted; it takes no new data."
    );
    assert_eq!(w.store.vote(pending.id).await.unwrap(), None);
    let err = w.service.delete_profile(ALICE, &id).await.unwrap_err();
    assert!(matches!(err, Error::ProfileDeleted(_)), "{err:?}");

    // The code still resolves, for anyone, in any case, and survives a reopen.
    let w = w.reopen(SMALL).await;
    assert_eq!(w.service.code("k3x9q2z").await.unwrap(), code);
    assert_eq!(w.service.code(" K3X9Q2Z ").await.unwrap(), code);
    // Beside it, the code the global profile froze when it unlocked.
    let codes = w.service.list_codes(ALICE).await.unwrap();
    assert_eq!(codes.len(), 2);
    assert!(codes.contains(&code));
    assert!(codes.iter().any(|c| c.profile == global && c.points == 3));
    let err = w.service.code("zzzzzzz").await.unwrap_err();
    assert_eq!(err.to_string(), "There is no code zzzzzzz.");
}

#[tokio::test]
async fn codes_are_listed_newest_first_and_never_overwritten() {
    let w = World::new("").await;
    let global = w.global(ALICE, "7").await;
    let make = |code: &str, at: i64| Code {
        code: code.into(),
        profile: global.clone(),
        owner: ALICE,
        version: "7".into(),
        space: "style-v1".into(),
        vector: vec![at as f32],
        points: 200,
        created_at: at,
    };
    w.store
        .insert_code(&make("aaaaaaa", 10))
        .await
        .unwrap()
        .unwrap();
    w.store
        .insert_code(&make("bbbbbbb", 30))
        .await
        .unwrap()
        .unwrap();
    w.store
        .insert_code(&make("ccccccc", 20))
        .await
        .unwrap()
        .unwrap();
    assert!(
        w.store
            .insert_code(&make("aaaaaaa", 99))
            .await
            .unwrap()
            .is_err()
    );
    let listed: Vec<_> = w
        .service
        .list_codes(ALICE)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(listed, ["bbbbbbb", "ccccccc", "aaaaaaa"]);
    assert_eq!(w.service.code("aaaaaaa").await.unwrap().vector, [10.0]);
    assert_eq!(
        w.store.latest_code(&global).await.unwrap().unwrap().code,
        "bbbbbbb"
    );
    assert!(w.service.list_codes(BOB).await.unwrap().is_empty());
}

#[tokio::test]
async fn points_count_votes_but_not_skips_and_unlock_at_the_threshold() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    let mut unlocked_at = Vec::new();
    for (i, choice) in [
        Choice::Left,
        Choice::Skip,
        Choice::Right,
        Choice::Skip,
        Choice::Left,
        Choice::Left,
    ]
    .into_iter()
    .enumerate()
    {
        let pair = w.pair(ALICE, &global).await;
        let result = w.service.vote(ALICE, pair.id, choice).await.unwrap();
        assert_eq!(result.choice, choice);
        if result.just_unlocked {
            unlocked_at.push(i);
        }
    }
    let summary = w.service.global_profile(ALICE, "7").await.unwrap();
    assert_eq!(summary.points, 4);
    assert!(summary.unlocked());
    assert_eq!(summary.remaining(), 0);
    // The third non-skip vote (the fifth answer) is the one that unlocked it.
    assert_eq!(unlocked_at, [4]);
}

#[tokio::test]
async fn likes_count_for_the_likers_global_profile_of_the_images_version_only() {
    let w = World::new(SMALL).await;
    let bobs_v7 = w.image(Some(BOB), "7").await;
    let bobs_v6 = w.image(Some(BOB), "6").await;
    let alices = w.image(Some(ALICE), "7").await;

    let liked = w.service.like(ALICE, bobs_v7).await.unwrap();
    assert_eq!(liked.version, "7");
    assert_eq!(liked.global.as_ref().unwrap().points, 1);
    w.service.like(ALICE, bobs_v6).await.unwrap();

    let err = w.service.like(ALICE, alices).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Likes of your own images don't count; like someone else's."
    );
    let err = w.service.like(ALICE, bobs_v7).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyLiked), "{err:?}");
    let err = w.service.like(ALICE, 999_999).await.unwrap_err();
    assert!(matches!(err, Error::ImageNotFound), "{err:?}");

    assert_eq!(
        w.service.global_profile(ALICE, "7").await.unwrap().points,
        1
    );
    assert_eq!(
        w.service.global_profile(ALICE, "6").await.unwrap().points,
        1
    );
    assert_eq!(
        w.service.global_profile(ALICE, "6.1").await.unwrap().points,
        0
    );
    // Likes plus votes reach the threshold together; ranked profiles get no likes.
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 2).await;
    assert!(
        w.service
            .global_profile(ALICE, "7")
            .await
            .unwrap()
            .unlocked()
    );
    let r = w
        .service
        .create_profile(ALICE, ranked("Mine"))
        .await
        .unwrap();
    w.service
        .like(ALICE, w.image(Some(BOB), "7").await)
        .await
        .unwrap();
    assert_eq!(
        w.service
            .profile(ALICE, &r.profile.id)
            .await
            .unwrap()
            .points,
        0
    );
}

#[tokio::test]
async fn a_pair_is_answered_once_and_only_by_its_user() {
    let w = World::new("").await;
    let global = w.global(ALICE, "7").await;
    let pair = w.pair(ALICE, &global).await;

    let err = w
        .service
        .vote(BOB, pair.id, Choice::Left)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "That pair was shown to someone else; only they can answer it."
    );
    assert_eq!(w.store.vote(pair.id).await.unwrap(), None);

    w.service.vote(ALICE, pair.id, Choice::Right).await.unwrap();
    let err = w
        .service
        .vote(ALICE, pair.id, Choice::Left)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "You already answered that pair.");
    assert_eq!(w.store.vote(pair.id).await.unwrap(), Some(Choice::Right));
    assert_eq!(
        w.service.global_profile(ALICE, "7").await.unwrap().points,
        1
    );

    let err = w
        .service
        .vote(ALICE, 424_242, Choice::Left)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PairNotFound), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_answers_to_one_pair_store_exactly_one_vote() {
    let w = World::new("").await;
    let global = w.global(ALICE, "7").await;
    let pair = w.pair(ALICE, &global).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let answers: Vec<_> = (0..50)
        .map(|i| {
            let service = w.service.clone();
            let barrier = barrier.clone();
            let choice = if i % 2 == 0 {
                Choice::Left
            } else {
                Choice::Right
            };
            tokio::spawn(async move {
                barrier.wait().await;
                service.vote(ALICE, pair.id, choice).await
            })
        })
        .collect();
    let mut recorded = Vec::new();
    let mut already = 0;
    for answer in answers {
        match answer.await.unwrap() {
            Ok(result) => recorded.push(result.choice),
            Err(Error::AlreadyAnswered) => already += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(recorded.len(), 1, "exactly one answer is recorded");
    assert_eq!(already, 49);
    assert_eq!(w.store.vote(pair.id).await.unwrap(), Some(recorded[0]));
    assert_eq!(
        w.service.global_profile(ALICE, "7").await.unwrap().points,
        1
    );
}

#[tokio::test]
async fn default_profiles_must_be_live_own_and_of_the_version() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let v6 = w.global(ALICE, "6").await;
    let err = w
        .service
        .set_default_profiles(ALICE, "7", &[global.clone(), v6])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "The profile \"Global\" is for V6, not V7.");
    let r = w
        .service
        .create_profile(ALICE, ranked("Soft"))
        .await
        .unwrap();
    let view = w
        .service
        .set_default_profiles(ALICE, "7", &[r.profile.id.clone(), r.profile.id.clone()])
        .await
        .unwrap();
    assert_eq!(view.default_profiles.len(), 1, "duplicates collapse");
    let listed = w.service.list_profiles(ALICE).await.unwrap();
    let defaults: Vec<_> = listed
        .iter()
        .filter(|p| p.is_default && p.profile.version == "7")
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].profile.id, r.profile.id);
    // An empty list goes back to the global profile.
    let view = w
        .service
        .set_default_profiles(ALICE, "7", &[])
        .await
        .unwrap();
    assert_eq!(view.default_profiles[0].id, global);
}

#[tokio::test]
async fn profiles_per_user_are_capped_and_deleting_one_makes_room() {
    let config = format!("{SMALL}\nlimits.max_profiles = 2");
    let w = World::new(&config).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let first = w
        .service
        .create_profile(ALICE, ranked("One"))
        .await
        .unwrap();
    let moodboard = CreateProfile {
        kind: ProfileKind::Moodboard,
        version: Some("7".into()),
        name: "Two".into(),
    };
    w.service.create_profile(ALICE, moodboard).await.unwrap();

    let refused = w.service.create_profile(ALICE, ranked("Three")).await;
    match refused {
        Err(e @ Error::TooManyProfiles(2)) => {
            let text = e.to_string();
            assert!(text.contains("limit of 2"), "{text}");
            assert!(text.contains("/profile delete"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // Global profiles don't count: four versions, two more profiles.
    assert_eq!(w.service.list_profiles(ALICE).await.unwrap().len(), 6);
    // Another user has their own room.
    let bob_global = w.global(BOB, "7").await;
    w.votes(BOB, &bob_global, 3).await;
    w.service.create_profile(BOB, ranked("One")).await.unwrap();

    w.service
        .delete_profile(ALICE, &first.profile.id)
        .await
        .unwrap();
    w.service
        .create_profile(ALICE, ranked("Three"))
        .await
        .unwrap();
}

#[tokio::test]
async fn profiles_may_be_named_instead_of_identified() {
    let w = World::new(SMALL).await;
    let global = w.global(ALICE, "7").await;
    w.votes(ALICE, &global, 3).await;
    let moody = w
        .service
        .create_profile(ALICE, ranked("Moody Blues"))
        .await
        .unwrap();
    let name = |s: &str| ProfileId(s.into());

    // Any case, surrounding spaces ignored, through every method that takes a typed profile.
    let shown = w
        .service
        .profile(ALICE, &name("  moody BLUES "))
        .await
        .unwrap();
    assert_eq!(shown.profile.id, moody.profile.id);
    w.service
        .set_default_profiles(ALICE, "7", &[name("moody blues")])
        .await
        .unwrap();
    let renamed = w
        .service
        .rename_profile(ALICE, &name("MOODY BLUES"), "Sunny")
        .await
        .unwrap();
    assert_eq!(renamed.profile.id, moody.profile.id);
    let foxes = w
        .service
        .create_profile(
            ALICE,
            CreateProfile {
                kind: ProfileKind::Moodboard,
                version: Some("7".into()),
                name: "Foxes".into(),
            },
        )
        .await
        .unwrap();
    let board = w.service.moodboard(ALICE, &name("foxes")).await.unwrap();
    assert_eq!(board.profile.profile.id, foxes.profile.id);

    // Someone else's name is as unknown as a name nobody has.
    for err in [
        w.service.profile(BOB, &name("Sunny")).await.unwrap_err(),
        w.service.profile(ALICE, &name("Rainy")).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::ProfileNotFound(_)), "{err:?}");
    }

    // "Global" names one profile per version: ambiguous, with their IDs to choose from.
    match w.service.profile(ALICE, &name("global")).await {
        Err(e @ Error::AmbiguousProfile { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("`{global}` (V7)")), "{text}");
            assert!(text.contains("Use the ID"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // With one version it is not.
    let one = World::new(&format!("{SMALL}\npersonalization.versions = [\"7\"]")).await;
    let only = one.global(ALICE, "7").await;
    assert_eq!(
        one.service
            .profile(ALICE, &name("Global"))
            .await
            .unwrap()
            .profile
            .id,
        only
    );

    // A deleted profile's name is free, and a live profile may take it.
    w.service
        .delete_profile(ALICE, &name("sunny"))
        .await
        .unwrap();
    assert!(matches!(
        w.service.profile(ALICE, &name("Sunny")).await,
        Err(Error::ProfileNotFound(_))
    ));
    assert!(matches!(
        w.service.profile(ALICE, &moody.profile.id).await,
        Err(Error::ProfileDeleted(_))
    ));
}

#[tokio::test]
async fn errors_repeat_at_most_a_hundred_characters_of_what_was_typed() {
    let w = World::new(SMALL).await;
    let typed = "z".repeat(3000);
    let err = w
        .service
        .profile(ALICE, &ProfileId(typed.clone()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::ProfileNotFound(_)), "{err:?}");
    assert!(text.matches('z').count() <= 100, "{text}");
    assert!(
        text.starts_with("You have no profile zzz") && text.contains('…'),
        "{text}"
    );

    let code = w.service.code(&typed).await.unwrap_err().to_string();
    assert!(code.chars().count() < 120, "{code}");

    let prompt = format!("a fox {}", "--nope ".repeat(700));
    let err = w
        .service
        .imagine(
            ALICE,
            tastebud::service::Imagine::new(prompt, tastebud::domain::Place::Private),
            tastebud::render::backend::no_progress(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Prompt(_)), "{err:?}");
    assert!(text.starts_with("Unrecognized parameter(s): "), "{text}");
    assert!(
        text.chars().count() <= tastebud::service::MAX_ECHO_CHARS * 2,
        "{text}"
    );
}
