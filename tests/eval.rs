//! `tastebud eval` end to end on a small pool: the JSON-lines rater protocol through `sh -c`,
//! a built-in rater that is learnt, and the report's shape.

use tastebud::config::Config;
use tastebud::eval::{Options, run};

/// A pool of 3 prompts × 6 styles at 128 px (the size the style descriptor analyses at), and
/// 128 px generations: small enough for debug builds.
const SMALL: &str = "
[ranking]
pool_prompts = 3
pool_styles = 6
pool_image_size = 128
[render]
size = 128
";

fn options(rater: &str, out: &std::path::Path, strategies: &[&str]) -> Options {
    Options {
        rater: rater.to_string(),
        votes: 20,
        strategies: strategies.iter().map(|s| s.to_string()).collect(),
        version: None,
        holdout: 40,
        seed: 3,
        out: out.to_path_buf(),
        win_grids: 1,
        stylize: vec![0, 100, 250, 1000],
        community: 0,
        community_votes: 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_rater_speaks_json_lines_and_the_report_is_written() {
    let out = tempfile::tempdir().unwrap();
    let log = out.path().join("questions.log");
    // Logs every question and always answers "left", echoing the id.
    let rater = format!(
        "tee {} | sed -u 's/.*\"id\":\"\\([^\"]*\\)\".*/{{\"id\":\"\\1\",\"choice\":\"left\"}}/'",
        log.display()
    );
    let config = Config::with_overrides(SMALL).unwrap();
    let report = run(&config, &options(&rater, out.path(), &["random"]))
        .await
        .unwrap();
    assert_eq!(report.runs.len(), 1);
    let r = &report.runs[0];
    assert_eq!(
        r.accuracy.iter().map(|a| a.votes).collect::<Vec<_>>(),
        vec![10, 20]
    );
    assert!(r.accuracy.iter().all(|a| a.pairs == 40));
    assert_eq!(
        r.win_rate.iter().map(|w| w.stylize).collect::<Vec<_>>(),
        vec![0, 100, 250, 1000]
    );
    assert!(r.win_rate.iter().all(|w| w.comparisons == 4));
    // Only a built-in rater's noise model is known.
    assert!(r.win_rate.iter().all(|w| w.expected.is_none()));
    // Questions carry absolute paths of PNG files that exist, and the prompt.
    let questions = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = questions
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 40 + 20 + 4 * 4);
    for q in &lines {
        for side in ["left", "right"] {
            let path = std::path::Path::new(q[side].as_str().unwrap());
            assert!(path.is_absolute() && path.extension().unwrap() == "png");
        }
        assert!(!q["prompt"].as_str().unwrap().is_empty());
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["runs"][0]["strategy"], "random");
    assert_eq!(json["runs"][0]["accuracy"][1]["votes"], 20);
    // A rater program's taste is its own: there is no ceiling to report.
    assert_eq!(json["runs"][0]["ceiling"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builtin_rater_is_learnt_better_than_chance_and_likes_its_p_images() {
    let out = tempfile::tempdir().unwrap();
    let config = Config::with_overrides(SMALL).unwrap();
    let mut opts = options("builtin:bright", out.path(), &["active"]);
    opts.win_grids = 6;
    let report = run(&config, &opts).await.unwrap();
    let r = &report.runs[0];
    let last = r.accuracy.last().unwrap();
    assert_eq!(last.votes, 20);
    assert!(last.accuracy > 0.7, "{:?}", r.accuracy);
    // Its hidden taste predicts its own noisy answers well above chance, but not perfectly:
    // Bradley–Terry noise flips some of them.
    let ceiling = r.ceiling.expect("a built-in rater has a ceiling");
    assert!(ceiling > 0.7 && ceiling < 1.0, "{ceiling}");
    let win = |s: u32| r.win_rate.iter().find(|w| w.stylize == s).unwrap().win_rate;
    assert!(win(1000) > 0.6, "{:?}", r.win_rate);
    // Its expected win rate comes from its noise model: a coin flip between the identical
    // pictures of --s 0, and a clear preference for the --p image at --s 1000.
    let expected = |s: u32| {
        let w = r.win_rate.iter().find(|w| w.stylize == s).unwrap();
        w.expected
            .expect("a built-in rater has an expected win rate")
    };
    assert!((expected(0) - 0.5).abs() < 1e-12, "{:?}", r.win_rate);
    assert!(expected(1000) > 0.6, "{:?}", r.win_rate);
    // The plots are drawn next to the report.
    for plot in ["learning_curves.png", "win_rate.png"] {
        let image = image::open(out.path().join(plot)).unwrap();
        assert_eq!(image.width(), 800);
    }
}

/// A family rater, after a small community ranked: every figure has its uncertainty, the
/// expected figures lie within reach of the answered ones, and the runs combine into a table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_rater_learns_after_a_community_and_reports_uncertainty() {
    let out = tempfile::tempdir().unwrap();
    let config = Config::with_overrides(SMALL).unwrap();
    let mut opts = options("family:tune:2", &out.path().join("c"), &["active"]);
    opts.community = 2;
    opts.community_votes = 10;
    opts.stylize = vec![100];
    opts.win_grids = 2;
    let report = run(&config, &opts).await.unwrap();
    assert_eq!(report.community, 2);
    let about = report.rater_description.clone().unwrap();
    assert!(
        about.contains("shared taste") && about.contains("temperature"),
        "{about}"
    );
    let r = &report.runs[0];
    for a in &r.accuracy {
        let (e, se) = (a.expected.unwrap(), a.expected_stderr.unwrap());
        assert!(e > 0.0 && e < 1.0 && se > 0.0 && se < 0.1, "{a:?}");
        let binomial = (a.accuracy * (1.0 - a.accuracy) / f64::from(a.pairs)).sqrt();
        assert!((a.stderr - binomial).abs() < 1e-12);
    }
    let ceiling = r.ceiling_expected.unwrap();
    // Calibrated on the pool's pairs to 0.76–0.86; these 40 are a sample of them.
    assert!(ceiling > 0.65 && ceiling < 0.95, "{ceiling}");
    assert_eq!(r.win_rate.len(), 1);
    assert_eq!(r.win_rate[0].comparisons, 8);
    assert!(r.win_rate[0].expected_stderr.is_some());
    let md = std::fs::read_to_string(out.path().join("c/report.md")).unwrap();
    assert!(md.contains("±") && md.contains("family:tune:2"), "{md}");

    // The same rater without a community, and both combined.
    let mut plain = options(
        "family:tune:2",
        &out.path().join("p"),
        &["active", "random"],
    );
    plain.stylize = vec![100];
    plain.win_grids = 1;
    run(&config, &plain).await.unwrap();
    let table = tastebud::eval::combine(
        &[out.path().join("p"), out.path().join("c")],
        &out.path().join("all"),
    )
    .unwrap();
    assert!(table.contains("| `family:tune:2` | 1 |"), "{table}");
    assert!(table.contains("c2 active@20"), "{table}");
    assert!(out.path().join("all/learning_curves.png").exists());
}

#[tokio::test]
async fn a_rater_that_breaks_the_protocol_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let config = Config::with_overrides(SMALL).unwrap();
    let err = run(
        &config,
        &options("read q; echo nonsense; sleep 5", out.path(), &["random"]),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("the rater: answered \"nonsense\""), "{err}");
    let err = run(&config, &options("true", out.path(), &["random"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exited before answering") || err.contains("cannot write"),
        "{err}"
    );
}
