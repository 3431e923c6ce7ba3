//! Property tests of the prompt parser: it never panics, and canonical text round-trips.

use proptest::prelude::*;
use tastebud::domain::ProfileId;
use tastebud::prompt::{
    Aspect, Limits, Motion, ProfileRef, Prompt, Quality, RandomStyle, RefTarget, Speed, Style,
    StyleRef, StyleTarget, TextPart, parse,
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

/// Any valid `--style`: raw and codes joined with `-`, or a random tuner.
fn style() -> impl Strategy<Value = Style> {
    let code = "[a-z0-9]{1,10}".prop_filter("not a word with a meaning", |s| {
        !matches!(s.as_str(), "raw" | "random" | "default")
    });
    prop_oneof![
        (any::<bool>(), prop::collection::vec(code, 0..3))
            .prop_filter("something to say", |(raw, codes)| *raw || !codes.is_empty())
            .prop_map(|(raw, codes)| Style::Codes { raw, codes }),
        (
            prop::sample::select(vec![16u32, 32, 64, 128]),
            prop_oneof![Just(75u32), 1u32..=100]
        )
            .prop_map(|(pairs, percent)| Style::Random(RandomStyle { pairs, percent })),
    ]
}

/// The reference and video parameters of a request.
#[derive(Debug, Clone)]
struct Extras {
    style_version: Option<u32>,
    cref: Vec<String>,
    character_weight: u32,
    oref: Option<String>,
    omni_weight: u32,
    video: bool,
    motion: Motion,
    video_loop: bool,
    video_end: Option<String>,
    video_batch: u32,
}

fn extras() -> impl Strategy<Value = Extras> {
    (
        prop::option::of(prop::sample::select(vec![1u32, 2, 3, 4, 6])),
        prop::collection::vec(image(), 0..3),
        prop_oneof![Just(100u32), 0u32..=100],
        prop::option::of(image()),
        prop_oneof![Just(100u32), 1u32..=1000],
        any::<bool>(),
        prop::sample::select(vec![Motion::Low, Motion::High]),
        any::<bool>(),
        prop::option::of(image()),
        prop::sample::select(vec![1u32, 2, 4]),
    )
        .prop_map(|e| Extras {
            style_version: e.0,
            cref: e.1,
            character_weight: e.2,
            oref: e.3,
            omni_weight: e.4,
            video: e.5,
            motion: e.6,
            video_loop: e.7,
            video_end: e.8,
            video_batch: e.9,
        })
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
        prop::option::of(style()),
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
    (words, numbers, rest, extras())
        .prop_map(|(w, n, r, e)| Prompt {
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
            style_version: e.style_version,
            cref: e.cref,
            character_weight: e.character_weight,
            oref: e.oref,
            omni_weight: e.omni_weight,
            video: e.video,
            motion: e.motion,
            video_loop: e.video_loop,
            video_end: e.video_end,
            video_batch: e.video_batch,
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
    "--sv 4",
    "--sv 5",
    "--cref https://e.com/c.png",
    "--cw 0",
    "--cw 101",
    "--oref https://e.com/o.png",
    "--ow 400",
    "--ow 0",
    "--video",
    "--motion high",
    "--motion",
    "--loop",
    "--end https://e.com/e.png",
    "--bs 2",
    "--bs 3",
    "--style random",
    "--style random-64-50",
    "--style raw-ab-cd",
    "--style default",
    "-16",
    "-50",
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
