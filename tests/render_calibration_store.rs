//! Calibrations survive a round trip through a real SQLite file, and refits replace them.

use tastebud::store::Store;
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
    let store = Store::open_in(dir.path()).await.expect("open");
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
