//! The prompt API the service uses: fields, reply rewriting, limits from config, JSON report.

/// `tastebud parse` (a module here: one test binary fewer to link in CI).
#[path = "prompt_api/cli.rs"]
mod cli;

use serde_json::Value;
use tastebud::config::Config;
use tastebud::domain::ProfileId;
use tastebud::prompt::{
    Aspect, Limits, Motion, ProfileRef, PromptError, Quality, RandomStyle, RefTarget, Speed, Style,
    StyleTarget, parse, parse_report,
};

fn one(text: &str) -> tastebud::prompt::Prompt {
    let parsed = parse(text, &Limits::default()).unwrap();
    assert_eq!(parsed.prompts.len(), 1);
    parsed.prompts.into_iter().next().unwrap()
}

#[test]
fn parameters_land_in_their_fields() {
    let p = one(
        "https://e.com/a.png a husky::2 desert --p abc1234::0.5 0123456789 --s 250 --v 6.1 \
         --ar 32:18 --seed 7 --c 5 --w 9 --q .5 --style cute --no snow, sand --tile --stop 80 \
         --iw 1.5 --sref 1234567::3 --sw 20 --r 2 --exp 3 --draft --turbo",
    );
    assert_eq!(p.images, vec!["https://e.com/a.png"]);
    assert_eq!(p.text.len(), 2);
    assert_eq!(
        (p.text[0].text.as_str(), p.text[0].weight),
        ("a husky", 2.0)
    );
    assert_eq!((p.text[1].text.as_str(), p.text[1].weight), ("desert", 1.0));
    assert_eq!(p.no, vec!["snow", "sand"]);
    assert_eq!(
        p.personalize,
        Some(vec![
            ProfileRef {
                target: RefTarget::Code("abc1234".into()),
                weight: 0.5
            },
            ProfileRef {
                target: RefTarget::Profile(ProfileId("0123456789".into())),
                weight: 1.0
            },
        ])
    );
    assert_eq!(p.stylize, Some(250));
    assert_eq!(p.version.as_deref(), Some("6.1"));
    assert_eq!(
        p.aspect,
        Aspect {
            width: 16,
            height: 9
        }
    );
    assert_eq!(p.seed, Some(7));
    assert_eq!((p.chaos, p.weird), (5, 9));
    assert_eq!(p.quality, Quality::Half);
    assert_eq!(p.style, Some(Style::code("cute")));
    assert!(p.tile);
    assert_eq!(p.stop, 80);
    assert_eq!(p.image_weight, 1.5);
    assert_eq!(p.sref.len(), 1);
    assert_eq!(p.sref[0].target, StyleTarget::Code("1234567".into()));
    assert_eq!(p.sref[0].weight, 3.0);
    assert_eq!((p.style_weight, p.repeat, p.exp), (20, 2, 3));
    assert!(p.draft);
    assert_eq!(p.speed, Some(Speed::Turbo));
}

#[test]
fn reference_and_video_parameters_land_in_their_fields() {
    let p = one(
        "https://e.com/start.png a fern --sref https://e.com/s.png --sv 6 --cref \
         https://e.com/c1.png <https://e.com/c2.jpg> --cw 30 --oref https://e.com/o.webp --ow 700 \
         --video --motion HIGH --loop --end https://e.com/end.png --bs 2",
    );
    assert_eq!(p.style_version, Some(6));
    assert_eq!(p.cref, vec!["https://e.com/c1.png", "https://e.com/c2.jpg"]);
    assert_eq!(p.character_weight, 30);
    assert_eq!(p.oref.as_deref(), Some("https://e.com/o.webp"));
    assert_eq!(p.omni_weight, 700);
    assert!(p.video && p.video_loop);
    assert_eq!(p.motion, Motion::High);
    assert_eq!(p.video_end.as_deref(), Some("https://e.com/end.png"));
    assert_eq!(p.video_batch, 2);

    let plain = one("a fern");
    assert_eq!(plain.style_version, None);
    assert!(plain.cref.is_empty() && plain.oref.is_none() && plain.video_end.is_none());
    assert_eq!(
        (plain.character_weight, plain.omni_weight, plain.video_batch),
        (100, 100, 4)
    );
    assert_eq!(plain.motion, Motion::Low);
    assert!(!plain.video && !plain.video_loop);
}

#[test]
fn style_values_are_raw_codes_or_a_random_tuner() {
    assert_eq!(one("a cat --raw").style, Some(Style::RAW));
    assert_eq!(one("a cat --style raw").style, Some(Style::RAW));
    assert!(one("a cat --style raw-ab1").style.unwrap().is_raw());
    assert_eq!(
        one("a cat --style ab1-raw-cd2").style,
        Some(Style::Codes {
            raw: true,
            codes: vec!["ab1".into(), "cd2".into()]
        })
    );
    let random = |text: &str| match one(text).style {
        Some(Style::Random(r)) => (r.pairs, r.percent),
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(random("a cat --style random"), (32, 75));
    assert_eq!(random("a cat --style random-128"), (128, 75));
    assert_eq!(random("a cat --style random-16-5"), (16, 5));
    assert_eq!(
        RandomStyle::default(),
        RandomStyle {
            pairs: 32,
            percent: 75
        }
    );
    // The canonical text drops what is the default.
    let canonical = |pairs, percent| Style::Random(RandomStyle { pairs, percent }).canonical();
    assert_eq!(canonical(32, 75), "random");
    assert_eq!(canonical(64, 75), "random-64");
    assert_eq!(canonical(32, 10), "random-32-10");
    // Midjourney refuses `default`; the message names what is allowed.
    let err = parse("a cat --style default", &Limits::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("--style default: style must be raw, random"),
        "{message}"
    );
    assert!(
        message.contains("random-128") && message.contains("from 1 to 100"),
        "{message}"
    );
}

#[test]
fn report_describes_reference_and_video_parameters() {
    let json = parse_report(
        "a fern --style random-64-50 --cref https://e.com/c.png --cw 0 --oref https://e.com/o.png \
         --sv 4 --video --loop --end https://e.com/e.png --bs 1",
        &Limits::default(),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    let p = &v["prompts"][0];
    assert_eq!(p["style"], "random-64-50");
    assert_eq!(p["style_version"], 4);
    assert_eq!(p["cref"], serde_json::json!(["https://e.com/c.png"]));
    assert_eq!(p["character_weight"], 0);
    assert_eq!(p["oref"], "https://e.com/o.png");
    assert_eq!(p["omni_weight"], 100);
    assert_eq!(p["video"], true);
    assert_eq!(p["motion"], "low");
    assert_eq!(p["loop"], true);
    assert_eq!(p["end"], "https://e.com/e.png");
    assert_eq!(p["video_batch"], 1);

    let bare: Value =
        serde_json::from_str(&parse_report("a fern", &Limits::default()).unwrap()).unwrap();
    let p = &bare["prompts"][0];
    assert_eq!(p["style"], Value::Null);
    assert_eq!(p["style_version"], Value::Null);
    assert_eq!(p["cref"], serde_json::json!([]));
    assert_eq!(p["oref"], Value::Null);
    assert_eq!(p["end"], Value::Null);
    assert_eq!(
        (p["video"].clone(), p["video_batch"].clone()),
        (Value::Bool(false), 4.into())
    );
}

#[test]
fn unspecified_values_stay_unspecified() {
    let p = one("a cat");
    assert_eq!(p.personalize, None);
    assert_eq!(p.stylize, None);
    assert_eq!(p.version, None);
    assert_eq!(p.seed, None);
    assert_eq!(p.style, None);
    assert!(!p.is_personalized());
    let bare = one("a cat --p");
    assert_eq!(bare.personalize, Some(vec![]));
    assert!(bare.is_personalized());
    assert_eq!(one("a cat --niji").version.as_deref(), Some("niji 6"));
}

#[test]
fn no_items_join_the_text_at_minus_half() {
    let p = one("space:: ship::2 --no stars, moon");
    assert_eq!(
        p.weighted_text(),
        vec![
            ("space", 1.0),
            ("ship", 2.0),
            ("stars", -0.5),
            ("moon", -0.5)
        ]
    );
}

#[test]
fn reply_shows_codes_instead_of_profile_ids() {
    let p = one("a cat --p 0123456789::2 abc1234 zzzzzzzzzz --s 50");
    let shown = p.with_resolved_codes(|id| (id.0 == "0123456789").then(|| "k9x2m1q".to_string()));
    assert_eq!(
        shown.canonical(),
        "a cat --p k9x2m1q::2 abc1234 zzzzzzzzzz --stylize 50"
    );
    // The request itself is untouched.
    assert_eq!(
        p.canonical(),
        "a cat --p 0123456789::2 abc1234 zzzzzzzzzz --stylize 50"
    );

    let default = one("a cat --p");
    let resolved = default.with_personalization(vec![ProfileRef {
        target: RefTarget::Code("aaaaaaa".into()),
        weight: 1.0,
    }]);
    assert_eq!(resolved.canonical(), "a cat --p aaaaaaa");
    assert_eq!(one("a cat").with_resolved_codes(|_| None).personalize, None);
}

#[test]
fn limits_come_from_the_configuration() {
    let defaults = Limits::from_config(&Config::defaults().unwrap());
    assert_eq!(defaults.max_jobs, 4);
    assert!(parse("a cat --niji 6", &defaults).is_ok());

    let config = Config::with_overrides(
        "[prompt]\nmax_jobs = 6\n[personalization]\nversions = [\"7\", \"8\", \"niji 7\"]\ndefault_version = \"8\"\n",
    )
    .unwrap();
    let limits = Limits::from_config(&config);
    assert_eq!(limits.max_jobs, 6);
    assert_eq!(
        one_with("a cat --v 8", &limits).version.as_deref(),
        Some("8")
    );
    assert_eq!(
        one_with("a cat --niji 7", &limits).version.as_deref(),
        Some("niji 7")
    );
    assert_eq!(parse("a {b,c,d} --r 2", &limits).unwrap().job_count(), 6);
    assert!(matches!(
        parse("a cat --v 8", &Limits::default()),
        Err(PromptError::Invalid { .. })
    ));
}

fn one_with(text: &str, limits: &Limits) -> tastebud::prompt::Prompt {
    parse(text, limits).unwrap().prompts.remove(0)
}

#[test]
fn report_describes_every_job() {
    let json = parse_report(
        "a {red, green} bird --p abc1234::2 --ar 16:9 --r 2 --sref https://e.com/s.png",
        &Limits::default(),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["jobs"], 4);
    let prompts = v["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 2);
    let red = &prompts[0];
    assert_eq!(
        red["canonical"],
        "a red bird --p abc1234::2 --ar 16:9 --sref https://e.com/s.png --repeat 2"
    );
    assert_eq!(red["text"][0]["text"], "a red bird");
    assert_eq!(red["text"][0]["weight"], 1.0);
    assert_eq!(red["personalize"][0]["kind"], "code");
    assert_eq!(red["personalize"][0]["id"], "abc1234");
    assert_eq!(red["personalize"][0]["weight"], 2.0);
    assert_eq!(red["aspect"], "16:9");
    assert_eq!(red["repeat"], 2);
    assert_eq!(red["stylize"], Value::Null);
    assert_eq!(red["version"], Value::Null);
    assert_eq!(red["seed"], Value::Null);
    assert_eq!(red["quality"], 1.0);
    assert_eq!(red["sref"][0]["kind"], "url");
    assert_eq!(red["sref"][0]["value"], "https://e.com/s.png");
    assert_eq!(prompts[1]["text"][0]["text"], "a green bird");

    let bare: Value =
        serde_json::from_str(&parse_report("a cat", &Limits::default()).unwrap()).unwrap();
    assert_eq!(bare["prompts"][0]["personalize"], Value::Null);
    let default: Value =
        serde_json::from_str(&parse_report("a cat --p", &Limits::default()).unwrap()).unwrap();
    assert_eq!(default["prompts"][0]["personalize"], serde_json::json!([]));

    assert_eq!(
        parse_report("a cat --foo --bar", &Limits::default()),
        Err("Unrecognized parameter(s): --foo, --bar".to_string())
    );
}
