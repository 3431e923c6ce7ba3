//! Property tests of the prompt parser: it never panics, and canonical text round-trips.

use proptest::prelude::*;
use tastebud::domain::ProfileId;
use tastebud::prompt::{
    Aspect, Limits, ProfileRef, Prompt, Quality, RefTarget, Speed, Style, StyleRef, StyleTarget,
    TextPart, parse,
};

/// Words for text parts, chosen to be awkward: colons next to separators, permutation and
/// escape characters, things that look like weights, dashes, non-ASCII.
const WORDS: &[&str] = &[
    "cat",
    "a",
    "husky",
    "16:",
    ":x",
    "x:",
    ":",
    "2",
    "-1",
    ".5",
    "2x",
    "{a,b}",
    "\\",
    "a\\,b",
    "}",
    "--5",
    "—",
    "-",
    "é",
    "日本",
    "a,b",
    "hot:dog",
    "http://x.com",
    "x.png",
    "50%",
];
/// Words for `--no` items: no commas.
const NO_WORDS: &[&str] = &[
    "people", "red", "x:", ":x", "{", "\\", "—", "--5", "2", "日本",
];

fn phrase(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(words), 1..4).prop_map(|w| w.join(" "))
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => Just(1.0),
        1 => prop::sample::select(vec![2.0, 0.5, -0.5, 1.5, 3.0, 100.0, 0.1]),
        1 => -10.0..10.0f64,
    ]
}

fn image() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,6}",
        prop::sample::select(vec!["png", "jpg", "webp"]),
    )
        .prop_map(|(n, ext)| format!("https://example.com/{n}.{ext}"))
}

fn profile_ref() -> impl Strategy<Value = ProfileRef> {
    let target = prop_oneof![
        "[a-z0-9]{7}".prop_map(RefTarget::Code),
        "[a-z0-9]{10}".prop_map(|s| RefTarget::Profile(ProfileId(s))),
    ];
    (target, prop_oneof![3 => Just(1.0), 1 => 0.01..5.0f64])
        .prop_map(|(target, weight)| ProfileRef { target, weight })
}

fn style_ref() -> impl Strategy<Value = StyleRef> {
    let target = prop_oneof![
        image().prop_map(StyleTarget::Url),
        "[a-z0-9]{1,10}".prop_map(StyleTarget::Code),
    ];
    (target, weight()).prop_map(|(target, weight)| StyleRef { target, weight })
}

fn aspect() -> impl Strategy<Value = Aspect> {
    (1u32..60, 1u32..60)
        .prop_filter("ratio at most 14:1", |(w, h)| w.max(h) <= &(14 * w.min(h)))
        .prop_map(|(w, h)| {
            let (mut a, mut b) = (w, h);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            Aspect {
                width: w / a,
                height: h / a,
            }
        })
}

fn version() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec![
        "1", "5.2", "6", "6.1", "7", "niji 4", "niji 5", "niji 6",
    ]))
    .prop_map(|v| v.map(str::to_string))
}

/// Any valid request, built field by field.
fn any_prompt() -> impl Strategy<Value = Prompt> {
    let words = (
        prop::collection::vec(image(), 0..3),
        prop::collection::vec(
            (phrase(WORDS), weight()).prop_map(|(text, weight)| TextPart { text, weight }),
            0..4,
        ),
        prop::collection::vec(phrase(NO_WORDS), 0..3),
        prop::option::of(prop::collection::vec(profile_ref(), 0..3)),
    );
    let numbers = (
        prop::option::of(0u32..=1000),
        version(),
        aspect(),
        prop::option::of(any::<u32>()),
        0u32..=100,
        0u32..=3000,
        prop::sample::select(Quality::ALL.to_vec()),
        prop::option::of(prop_oneof![
            Just(Style::Raw),
            "[a-z0-9]{1,10}"
                .prop_filter("raw is not a code", |s| s != "raw")
                .prop_map(Style::Code)
        ]),
    );
    let rest = (
        any::<bool>(),
        10u32..=100,
        prop_oneof![Just(1.0), Just(0.0), Just(3.0), 0.0..=3.0f64],
        prop::collection::vec(style_ref(), 0..3),
        0u32..=1000,
        1u32..=40,
        0u32..=100,
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            Speed::Fast,
            Speed::Relax,
            Speed::Turbo,
        ])),
    );
    (words, numbers, rest)
        .prop_map(|(w, n, r)| Prompt {
            images: w.0,
            text: w.1,
            no: w.2,
            personalize: w.3,
            stylize: n.0,
            version: n.1,
            aspect: n.2,
            seed: n.3,
            chaos: n.4,
            weird: n.5,
            quality: n.6,
            style: n.7,
            tile: r.0,
            stop: r.1,
            image_weight: r.2,
            sref: r.3,
            style_weight: r.4,
            repeat: r.5,
            exp: r.6,
            draft: r.7,
            speed: r.8,
        })
        .prop_filter("a runnable prompt", |p| {
            let text_sum: f64 = p.text.iter().map(|t| t.weight).sum();
            let p_sum: f64 = p.personalize.iter().flatten().map(|r| r.weight).sum();
            (!p.text.is_empty() || p.images.len() >= 2)
                && (p.text.is_empty() || text_sum > 0.0)
                && (p.personalize.as_ref().is_none_or(|r| r.is_empty()) || p_sum > 0.0)
        })
}

/// Fragments of prompts, valid and not, glued at random: parameters with good and bad values,
/// aliases, em dashes, braces, escapes, weights, URLs.
const FRAGMENTS: &[&str] = &[
    "cat",
    "a red bird",
    " ",
    "  ",
    "::",
    "::2",
    "::-0.5",
    "::.5",
    ",",
    "{",
    "}",
    "{a, b}",
    "\\",
    "\\,",
    "\\{",
    "—",
    "--",
    "-",
    "--ar 16:9",
    "--ar 15:1",
    "--ar",
    " 2:3",
    "--s 250",
    "--s 5000",
    "--stylize",
    "--p",
    "--p abc1234",
    "--p abc1234::2",
    " 0123456789",
    "--v 7",
    "--v 6.1",
    "--niji",
    "--niji 6",
    "—s 50",
    "--seed 42",
    "--c 50",
    "--w 3000",
    "--q .5",
    "--q 3",
    "--style raw",
    "--raw",
    "--style cute",
    "--no a, b",
    "--tile",
    "--stop 50",
    "--iw 2",
    "--sref 1234567",
    "--sref https://e.com/s.png::2",
    "--sw 10",
    "--repeat 2",
    "--r 50",
    "--exp 5",
    "--draft",
    "--fast",
    "--relax",
    "--turbo",
    "--foo",
    "--S 1",
    "https://e.com/a.png ",
    "<https://e.com/b.jpg> ",
    "http://x.y/z.webp?q=1 ",
    "16:",
    ":x",
    "日本",
    "é",
    "\t",
    "\n",
    ".",
    "!",
    ";",
    "-1",
    "{--fast, --relax}",
    "{1,2,3}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..14).prop_map(|f| f.concat())
}

fn limits() -> Limits {
    Limits::new(40, &["8", "niji 7"])
}

/// Checks that every job of `text`, if it parses, has canonical text that parses back to it.
fn check_round_trip(text: &str) -> Result<(), TestCaseError> {
    if let Ok(parsed) = parse(text, &limits()) {
        for prompt in &parsed.prompts {
            let canonical = prompt.canonical();
            let again = parse(&canonical, &limits());
            prop_assert_eq!(
                again.as_ref().map(|a| &a.prompts),
                Ok(&vec![prompt.clone()]),
                "{:?} -> {:?}",
                text,
                canonical
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let _ = parse(&text, &limits());
    }

    #[test]
    fn prompt_like_soup_never_panics_and_round_trips(text in soup()) {
        check_round_trip(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn canonical_text_parses_back_to_the_same_request(prompt in any_prompt()) {
        let canonical = prompt.canonical();
        let parsed = parse(&canonical, &limits());
        prop_assert_eq!(
            parsed.as_ref().map(|p| &p.prompts),
            Ok(&vec![prompt.clone()]),
            "canonical text {:?}",
            canonical
        );
    }

    #[test]
    fn canonical_text_is_a_fixed_point(text in soup()) {
        if let Ok(parsed) = parse(&text, &limits()) {
            for p in &parsed.prompts {
                let once = p.canonical();
                let twice = parse(&once, &limits()).map(|q| q.prompts[0].canonical());
                prop_assert_eq!(twice, Ok(once));
            }
        }
    }
}
