//! Calibrations survive a round trip through a real database, and refits replace them.

use crate::db::TestDb;
use tastebud::taste::steer::Calibration;

fn calibration(scale: f32) -> Calibration {
    Calibration {
        space: "style-v1".into(),
        knobs: vec!["warmth".into(), "detail".into()],
        ranges: vec![(-1.0, 1.0), (-0.5, 1.0)],
        jacobian: vec![1.0 * scale, 2.0, -3.0, 4.5, 0.0, 0.25],
        intercept: vec![0.1, 0.2, 0.3],
        r2: vec![0.9, 0.5, 1.0],
        samples: 42,
    }
}

#[tokio::test]
async fn calibrations_round_trip_and_refits_replace_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::new().await;
    let store = db.open(dir.path()).await;
    assert_eq!(
        store
            .load_calibration("7", "sketch", "", "style-v1")
            .await
            .expect("load"),
        None
    );
    store
        .save_calibration("7", "sketch", "", &calibration(1.0))
        .await
        .expect("save");
    store
        .save_calibration("6", "sketch", "", &calibration(5.0))
        .await
        .expect("save");
    let loaded = store
        .load_calibration("7", "sketch", "", "style-v1")
        .await
        .expect("load");
    assert_eq!(loaded, Some(calibration(1.0)));
    store
        .save_calibration("7", "sketch", "", &calibration(-2.0))
        .await
        .expect("save again");
    let loaded = store
        .load_calibration("7", "sketch", "", "style-v1")
        .await
        .expect("load");
    assert_eq!(loaded, Some(calibration(-2.0)));
    assert_eq!(
        store
            .load_calibration("7", "comfyui", "", "style-v1")
            .await
            .expect("load"),
        None
    );
    assert_eq!(
        store
            .load_calibration("7", "sketch", "", "clip-v1")
            .await
            .expect("load"),
        None
    );
    store.close().await;
}

#[tokio::test]
async fn calibrations_are_kept_per_model_and_samples_until_the_fit() {
    use tastebud::store::SampleKey;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = TestDb::new().await;
    let store = db.open(dir.path()).await;
    store
        .save_calibration("7", "automatic1111", "sd15.safetensors", &calibration(1.0))
        .await
        .expect("save");
    // Another model of the same version and backend has no calibration yet.
    assert_eq!(
        store
            .load_calibration("7", "automatic1111", "sdxl.safetensors", "style-v1")
            .await
            .expect("load"),
        None
    );
    assert!(
        store
            .load_calibration("7", "automatic1111", "sd15.safetensors", "style-v1")
            .await
            .expect("load")
            .is_some()
    );

    // Samples of a calibration in progress are kept per plan until the fit is saved.
    let key = SampleKey {
        version: "7",
        backend: "automatic1111",
        model: "sdxl.safetensors",
        plan: "knobs=a,b;settings=11;size=1024",
    };
    let other_plan = SampleKey {
        plan: "knobs=a,b;settings=11;size=512",
        ..key
    };
    store
        .save_calibration_sample(&key, 0, "style-v1", &[0.5, 0.25])
        .await
        .expect("sample");
    store
        .save_calibration_sample(&key, 3, "style-v1", &[1.0, 2.0])
        .await
        .expect("sample");
    let kept = store
        .calibration_samples(&key, "style-v1")
        .await
        .expect("samples");
    assert_eq!(kept.keys().copied().collect::<Vec<_>>(), vec![0, 3]);
    assert_eq!(kept[&3], vec![1.0, 2.0]);
    assert!(
        store
            .calibration_samples(&other_plan, "style-v1")
            .await
            .expect("samples")
            .is_empty(),
        "a plan at another size does not reuse them"
    );
    store
        .save_calibration("7", "automatic1111", "sdxl.safetensors", &calibration(2.0))
        .await
        .expect("save");
    assert!(
        store
            .calibration_samples(&key, "style-v1")
            .await
            .expect("samples")
            .is_empty(),
        "the fit's samples are forgotten once it is stored"
    );
}
