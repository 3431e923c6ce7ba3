//! What a parsed prompt says, and its canonical text.
//!
//! A [`Prompt`] is one job's request after permutations are expanded. Fields with a fixed
//! default hold that default when the parameter was not given (so `--chaos 0` and no `--chaos`
//! are the same request); fields whose default depends on the user (`--stylize`, the version,
//! `--p`) are `Option`s, `None` meaning "not given".

use std::fmt;

use crate::domain::ProfileId;

/// Allowed `--v` values, before any configured extras.
pub const BUILTIN_VERSIONS: &[&str] = &["1", "2", "3", "4", "5", "5.1", "5.2", "6", "6.1", "7"];
/// Allowed `--niji` values, before any configured extras.
pub const BUILTIN_NIJI: &[&str] = &["4", "5", "6"];
/// The niji version a bare `--niji` stands for.
pub const DEFAULT_NIJI: &str = "6";
/// Prefix of niji version names (`--niji 6` is the version "niji 6").
pub const NIJI_PREFIX: &str = "niji ";
/// Allowed `--sv` values: 1–4 are V6's style reference versions, 4 and 6 V7's. Which model
/// runs is often unknown while parsing (the user's default version), so the union is allowed.
pub const STYLE_VERSIONS: &[u32] = &[1, 2, 3, 4, 6];
/// Allowed `--bs` values.
pub const VIDEO_BATCHES: &[u32] = &[1, 2, 4];
/// Videos one job makes when `--bs` is not given.
pub const DEFAULT_VIDEO_BATCH: u32 = 4;
/// Tuner sizes `--style random-N` allows.
pub const RANDOM_STYLE_PAIRS: &[u32] = &[16, 32, 64, 128];
/// The tuner size of a bare `--style random`.
pub const DEFAULT_RANDOM_PAIRS: u32 = 32;
/// The share of pairs (percent) a random style selects unless `-PCT` is written.
pub const DEFAULT_RANDOM_PERCENT: u32 = 75;

/// One job's request, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Image prompts, in order: http(s) URLs of .png, .gif, .webp, .jpg or .jpeg files.
    pub images: Vec<String>,
    /// Text parts with their multi-prompt weights; empty when the prompt is images only.
    pub text: Vec<TextPart>,
    /// `--no` items; each counts as a text part of weight -0.5 (see [`Prompt::weighted_text`]).
    pub no: Vec<String>,
    /// `--p`: `None` when not given, `Some(vec![])` for the user's default profile(s).
    pub personalize: Option<Vec<ProfileRef>>,
    /// `--stylize`, 0–1000; `None` means the user's preset applies.
    pub stylize: Option<u32>,
    /// The model version as configured names it ("7", "6.1", "niji 6"); `None`: user default.
    pub version: Option<String>,
    /// `--ar`, in lowest terms.
    pub aspect: Aspect,
    /// `--seed`; `None` means the service picks one.
    pub seed: Option<u32>,
    /// `--chaos`, 0–100.
    pub chaos: u32,
    /// `--weird`, 0–3000.
    pub weird: u32,
    /// `--quality`.
    pub quality: Quality,
    /// `--style` (or `--raw`).
    pub style: Option<Style>,
    /// `--tile`.
    pub tile: bool,
    /// `--stop`, 10–100.
    pub stop: u32,
    /// `--iw`, 0–3.
    pub image_weight: f64,
    /// `--sref`: style references.
    pub sref: Vec<StyleRef>,
    /// `--sw`, 0–1000.
    pub style_weight: u32,
    /// `--sv`, the style reference version (see [`STYLE_VERSIONS`]); `None`: the model's default.
    pub style_version: Option<u32>,
    /// `--cref`: character reference image URLs.
    pub cref: Vec<String>,
    /// `--cw`, 0–100: how much of the character reference is kept.
    pub character_weight: u32,
    /// `--oref`: the omni reference image URL.
    pub oref: Option<String>,
    /// `--ow`, 1–1000: how strictly the omni reference is followed.
    pub omni_weight: u32,
    /// `--video`.
    pub video: bool,
    /// `--motion`.
    pub motion: Motion,
    /// `--loop`: a video that ends where it starts.
    pub video_loop: bool,
    /// `--end`: the image URL a video ends on.
    pub video_end: Option<String>,
    /// `--bs`, 1, 2 or 4: how many videos one job makes.
    pub video_batch: u32,
    /// `--repeat`, 1–40: how many jobs this request runs as.
    pub repeat: u32,
    /// `--exp`, 0–100.
    pub exp: u32,
    /// `--draft`.
    pub draft: bool,
    /// `--fast`, `--relax` or `--turbo`.
    pub speed: Option<Speed>,
}

impl Default for Prompt {
    fn default() -> Self {
        Prompt {
            images: Vec::new(),
            text: Vec::new(),
            no: Vec::new(),
            personalize: None,
            stylize: None,
            version: None,
            aspect: Aspect::SQUARE,
            seed: None,
            chaos: 0,
            weird: 0,
            quality: Quality::One,
            style: None,
            tile: false,
            stop: 100,
            image_weight: 1.0,
            sref: Vec::new(),
            style_weight: 100,
            style_version: None,
            cref: Vec::new(),
            character_weight: 100,
            oref: None,
            omni_weight: 100,
            video: false,
            motion: Motion::Low,
            video_loop: false,
            video_end: None,
            video_batch: DEFAULT_VIDEO_BATCH,
            repeat: 1,
            exp: 0,
            draft: false,
            speed: None,
        }
    }
}

/// One part of a multi-prompt (`space:: ship::2`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextPart {
    pub text: String,
    /// Finite; 1 unless written.
    pub weight: f64,
}

/// A `--p` reference: a public code or a private profile ID, with a blend weight.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRef {
    pub target: RefTarget,
    /// Finite; 1 unless written.
    pub weight: f64,
}

/// What a `--p` reference points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefTarget {
    /// A personalization code (`CODE_LEN` lowercase base36 characters).
    Code(String),
    /// A profile ID (`PROFILE_ID_LEN` lowercase base36 characters), private to its owner.
    Profile(ProfileId),
}

impl RefTarget {
    /// The code or ID as written in a prompt.
    pub fn as_str(&self) -> &str {
        match self {
            RefTarget::Code(c) => c,
            RefTarget::Profile(p) => &p.0,
        }
    }
}

/// A `--sref` reference.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleRef {
    pub target: StyleTarget,
    /// Finite; 1 unless written.
    pub weight: f64,
}

/// What a `--sref` reference points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StyleTarget {
    /// An image URL.
    Url(String),
    /// A style code: lowercase letters and digits.
    Code(String),
}

/// An aspect ratio, in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aspect {
    pub width: u32,
    pub height: u32,
}

impl Aspect {
    pub const SQUARE: Aspect = Aspect {
        width: 1,
        height: 1,
    };
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.width, self.height)
    }
}

/// `--quality` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    Quarter,
    Half,
    One,
    Two,
    Four,
}

impl Quality {
    pub const ALL: [Quality; 5] = [
        Quality::Quarter,
        Quality::Half,
        Quality::One,
        Quality::Two,
        Quality::Four,
    ];

    /// The multiplier it stands for.
    pub fn value(self) -> f64 {
        match self {
            Quality::Quarter => 0.25,
            Quality::Half => 0.5,
            Quality::One => 1.0,
            Quality::Two => 2.0,
            Quality::Four => 4.0,
        }
    }

    /// As written in canonical text.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Quarter => ".25",
            Quality::Half => ".5",
            Quality::One => "1",
            Quality::Two => "2",
            Quality::Four => "4",
        }
    }
}

/// `--style` values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Style {
    /// `raw`, style codes, or both, joined with `-`: `raw`, `cute`, `raw-code1-code2`
    /// (`--raw` is `raw`). Codes are lowercase letters and digits, in the order written.
    Codes { raw: bool, codes: Vec<String> },
    /// A random Style Tuner code: `random`, `random-64`, `random-64-50`.
    Random(RandomStyle),
}

/// `--style random-PAIRS-PERCENT`: a Style Tuner of `pairs` pairs (16, 32, 64 or 128) with
/// `percent` (1–100) of them chosen at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RandomStyle {
    pub pairs: u32,
    pub percent: u32,
}

impl Default for RandomStyle {
    /// `--style random`: 32 pairs, 75% chosen.
    fn default() -> Self {
        RandomStyle {
            pairs: DEFAULT_RANDOM_PAIRS,
            percent: DEFAULT_RANDOM_PERCENT,
        }
    }
}

impl Style {
    /// `--style raw`.
    pub const RAW: Style = Style::Codes {
        raw: true,
        codes: Vec::new(),
    };

    /// One style code.
    pub fn code(code: impl Into<String>) -> Style {
        Style::Codes {
            raw: false,
            codes: vec![code.into()],
        }
    }

    /// Whether `raw` is part of it.
    pub fn is_raw(&self) -> bool {
        matches!(self, Style::Codes { raw: true, .. })
    }

    /// As written in canonical text: defaults omitted (`random-32-75` is `random`).
    pub fn canonical(&self) -> String {
        match self {
            Style::Codes { raw, codes } => {
                let raw = raw.then_some("raw");
                raw.into_iter()
                    .chain(codes.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("-")
            }
            Style::Random(r) => {
                if r.percent != DEFAULT_RANDOM_PERCENT {
                    format!("random-{}-{}", r.pairs, r.percent)
                } else if r.pairs != DEFAULT_RANDOM_PAIRS {
                    format!("random-{}", r.pairs)
                } else {
                    "random".to_string()
                }
            }
        }
    }
}

/// `--motion` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Motion {
    /// The default: a still scene, a slow camera.
    Low,
    /// More movement of subject and camera.
    High,
}

impl Motion {
    pub fn as_str(self) -> &'static str {
        match self {
            Motion::Low => "low",
            Motion::High => "high",
        }
    }
}

/// `--fast`, `--relax`, `--turbo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speed {
    Fast,
    Relax,
    Turbo,
}

impl Speed {
    pub fn as_str(self) -> &'static str {
        match self {
            Speed::Fast => "fast",
            Speed::Relax => "relax",
            Speed::Turbo => "turbo",
        }
    }
}

/// Every job a prompt makes: one [`Prompt`] per permutation, each run `repeat` times.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub prompts: Vec<Prompt>,
}

impl Parsed {
    /// Number of jobs: the sum of every permutation's `--repeat`.
    pub fn job_count(&self) -> u64 {
        self.prompts.iter().map(|p| u64::from(p.repeat)).sum()
    }
}

impl Prompt {
    /// Whether `--p` was given (with or without references).
    pub fn is_personalized(&self) -> bool {
        self.personalize.is_some()
    }

    /// The text parts with `--no` items folded in at weight -0.5, as the backend should see them.
    pub fn weighted_text(&self) -> Vec<(&str, f64)> {
        self.text
            .iter()
            .map(|p| (p.text.as_str(), p.weight))
            .chain(self.no.iter().map(|n| (n.as_str(), -0.5)))
            .collect()
    }

    /// The same prompt with `--p` listing exactly `refs` (for instance the codes the user's
    /// default profiles resolved to), for the reply shown to the user.
    pub fn with_personalization(&self, refs: Vec<ProfileRef>) -> Prompt {
        Prompt {
            personalize: Some(refs),
            ..self.clone()
        }
    }

    /// The same prompt with each `--p` profile ID replaced by the code `resolve` gives for it
    /// (weights kept). IDs for which `resolve` returns `None` stay as they are.
    pub fn with_resolved_codes(
        &self,
        mut resolve: impl FnMut(&ProfileId) -> Option<String>,
    ) -> Prompt {
        let personalize = self.personalize.as_ref().map(|refs| {
            refs.iter()
                .map(|r| match &r.target {
                    RefTarget::Profile(id) => match resolve(id) {
                        Some(code) => ProfileRef {
                            target: RefTarget::Code(code),
                            weight: r.weight,
                        },
                        None => r.clone(),
                    },
                    RefTarget::Code(_) => r.clone(),
                })
                .collect()
        });
        Prompt {
            personalize,
            ..self.clone()
        }
    }

    /// The canonical text: aliases resolved, defaults omitted, parameters in a fixed order.
    /// Parsing it gives back exactly this prompt.
    pub fn canonical(&self) -> String {
        escape_braces(&self.render())
    }

    /// Canonical text before `{`, `}` and `\` are escaped against permutation syntax.
    fn render(&self) -> String {
        let mut out: Vec<String> = self.images.clone();
        let text = render_text(&self.text);
        if !text.is_empty() {
            out.push(text);
        }
        if let Some(refs) = &self.personalize {
            let mut s = String::from("--p");
            for r in refs {
                s.push(' ');
                s.push_str(r.target.as_str());
                push_weight(&mut s, r.weight);
            }
            out.push(s);
        }
        if let Some(s) = self.stylize {
            out.push(format!("--stylize {s}"));
        }
        if let Some(v) = &self.version {
            match v.strip_prefix(NIJI_PREFIX) {
                Some(n) => out.push(format!("--niji {n}")),
                None => out.push(format!("--v {v}")),
            }
        }
        if self.aspect != Aspect::SQUARE {
            out.push(format!("--ar {}", self.aspect));
        }
        if let Some(seed) = self.seed {
            out.push(format!("--seed {seed}"));
        }
        if self.chaos != 0 {
            out.push(format!("--chaos {}", self.chaos));
        }
        if self.weird != 0 {
            out.push(format!("--weird {}", self.weird));
        }
        if self.quality != Quality::One {
            out.push(format!("--quality {}", self.quality.as_str()));
        }
        if let Some(style) = &self.style {
            out.push(format!("--style {}", style.canonical()));
        }
        if !self.no.is_empty() {
            out.push(format!("--no {}", self.no.join(", ")));
        }
        if self.tile {
            out.push("--tile".into());
        }
        if self.stop != 100 {
            out.push(format!("--stop {}", self.stop));
        }
        if self.image_weight != 1.0 {
            out.push(format!("--iw {}", self.image_weight));
        }
        if !self.sref.is_empty() {
            let mut s = String::from("--sref");
            for r in &self.sref {
                s.push(' ');
                match &r.target {
                    StyleTarget::Url(u) => s.push_str(u),
                    StyleTarget::Code(c) => s.push_str(c),
                }
                push_weight(&mut s, r.weight);
            }
            out.push(s);
        }
        if self.style_weight != 100 {
            out.push(format!("--sw {}", self.style_weight));
        }
        if let Some(sv) = self.style_version {
            out.push(format!("--sv {sv}"));
        }
        if !self.cref.is_empty() {
            out.push(format!("--cref {}", self.cref.join(" ")));
        }
        if self.character_weight != 100 {
            out.push(format!("--cw {}", self.character_weight));
        }
        if let Some(oref) = &self.oref {
            out.push(format!("--oref {oref}"));
        }
        if self.omni_weight != 100 {
            out.push(format!("--ow {}", self.omni_weight));
        }
        if self.video {
            out.push("--video".into());
        }
        if self.motion != Motion::Low {
            out.push(format!("--motion {}", self.motion.as_str()));
        }
        if self.video_loop {
            out.push("--loop".into());
        }
        if let Some(end) = &self.video_end {
            out.push(format!("--end {end}"));
        }
        if self.video_batch != DEFAULT_VIDEO_BATCH {
            out.push(format!("--bs {}", self.video_batch));
        }
        if self.repeat != 1 {
            out.push(format!("--repeat {}", self.repeat));
        }
        if self.exp != 0 {
            out.push(format!("--exp {}", self.exp));
        }
        if self.draft {
            out.push("--draft".into());
        }
        if let Some(speed) = self.speed {
            out.push(format!("--{}", speed.as_str()));
        }
        out.join(" ")
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn push_weight(s: &mut String, weight: f64) {
    if weight != 1.0 {
        s.push_str("::");
        s.push_str(&weight.to_string());
    }
}

/// Multi-prompt text: a lone part of weight 1 is just its text; otherwise every part but the
/// last is followed by `::` (and its weight unless 1), and the last by `::weight` unless 1.
fn render_text(parts: &[TextPart]) -> String {
    if let [only] = parts
        && only.weight == 1.0
    {
        return only.text.clone();
    }
    let mut s = String::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        s.push_str(&part.text);
        if last && part.weight == 1.0 {
            break;
        }
        // A part ending in ':' would run into the separator and read as ":::".
        if part.text.ends_with(':') {
            s.push(' ');
        }
        s.push_str("::");
        if part.weight != 1.0 {
            s.push_str(&part.weight.to_string());
        }
        if !last {
            s.push(' ');
        }
    }
    s
}

/// Escapes the characters that permutation syntax gives a meaning to.
pub(crate) fn escape_braces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
