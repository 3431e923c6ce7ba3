//! Parsing one prompt (after permutations are expanded): images, text, parameters.
//!
//! The text is split on whitespace. Leading image URLs are image prompts; the first token that
//! starts with `--` (or an em dash `—`) followed by a letter begins the parameters, and each
//! parameter takes every token up to the next one as its value. Unknown parameters are gathered
//! and reported together before any value is checked.

use super::Limits;
use super::error::PromptError;
use super::expand::expand;
use super::types::*;
use crate::domain::{CODE_LEN, PROFILE_ID_LEN, ProfileId, is_base36_id};

/// File endings that make a URL an image prompt.
pub const IMAGE_EXTENSIONS: &[&str] = &[".png", ".gif", ".webp", ".jpg", ".jpeg"];
/// Longest style code accepted by `--style` and `--sref`.
pub const MAX_STYLE_CODE_LEN: usize = 32;
/// Characters dropped from the end of a parameter's value (and name): `--ar 16:9,` works.
const TRAILING_PUNCTUATION: &[char] = &[',', '.', ';', '!', '?'];

/// Parses `text` into one [`Prompt`] per permutation, checking every rule of `PROMPTS.md`.
pub fn parse(text: &str, limits: &Limits) -> Result<Parsed, PromptError> {
    let expansions = expand(text, limits.max_jobs)?;
    let prompts = expansions
        .iter()
        .map(|e| parse_expanded(e, limits))
        .collect::<Result<Vec<_>, _>>()?;
    let parsed = Parsed { prompts };
    let jobs = parsed.job_count();
    if jobs > u64::from(limits.max_jobs) {
        let n = parsed.prompts.len();
        let first = parsed.prompts.first().map_or(1, |p| p.repeat);
        let detail = if parsed.prompts.iter().all(|p| p.repeat == first) {
            let s = if n == 1 { "" } else { "s" };
            format!("{n} permutation{s} × --repeat {first}")
        } else {
            format!("{n} permutations with their own --repeat")
        };
        return Err(PromptError::TooManyJobs {
            jobs,
            detail,
            max: limits.max_jobs,
        });
    }
    Ok(parsed)
}

/// The parameters, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    P,
    Stylize,
    V,
    Niji,
    Ar,
    Seed,
    Chaos,
    Weird,
    Quality,
    Style,
    Raw,
    No,
    Tile,
    Stop,
    Iw,
    Sref,
    Sw,
    Sv,
    Cref,
    Cw,
    Oref,
    Ow,
    Video,
    Motion,
    Loop,
    End,
    Bs,
    Repeat,
    Exp,
    Draft,
    Fast,
    Relax,
    Turbo,
}

impl Param {
    fn lookup(name: &str) -> Option<Param> {
        Some(match name {
            "p" | "personalize" | "profile" => Param::P,
            "stylize" | "s" => Param::Stylize,
            "v" | "version" => Param::V,
            "niji" => Param::Niji,
            "ar" | "aspect" => Param::Ar,
            "seed" => Param::Seed,
            "chaos" | "c" => Param::Chaos,
            "weird" | "w" => Param::Weird,
            "quality" | "q" => Param::Quality,
            "style" => Param::Style,
            "raw" => Param::Raw,
            "no" => Param::No,
            "tile" => Param::Tile,
            "stop" => Param::Stop,
            "iw" => Param::Iw,
            "sref" => Param::Sref,
            "sw" => Param::Sw,
            "sv" => Param::Sv,
            "cref" => Param::Cref,
            "cw" => Param::Cw,
            "oref" => Param::Oref,
            "ow" => Param::Ow,
            "video" => Param::Video,
            "motion" => Param::Motion,
            "loop" => Param::Loop,
            "end" => Param::End,
            "bs" => Param::Bs,
            "repeat" | "r" => Param::Repeat,
            "exp" => Param::Exp,
            "draft" => Param::Draft,
            "fast" => Param::Fast,
            "relax" => Param::Relax,
            "turbo" => Param::Turbo,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Param::P => "--p",
            Param::Stylize => "--stylize",
            Param::V => "--v",
            Param::Niji => "--niji",
            Param::Ar => "--ar",
            Param::Seed => "--seed",
            Param::Chaos => "--chaos",
            Param::Weird => "--weird",
            Param::Quality => "--quality",
            Param::Style => "--style",
            Param::Raw => "--raw",
            Param::No => "--no",
            Param::Tile => "--tile",
            Param::Stop => "--stop",
            Param::Iw => "--iw",
            Param::Sref => "--sref",
            Param::Sw => "--sw",
            Param::Sv => "--sv",
            Param::Cref => "--cref",
            Param::Cw => "--cw",
            Param::Oref => "--oref",
            Param::Ow => "--ow",
            Param::Video => "--video",
            Param::Motion => "--motion",
            Param::Loop => "--loop",
            Param::End => "--end",
            Param::Bs => "--bs",
            Param::Repeat => "--repeat",
            Param::Exp => "--exp",
            Param::Draft => "--draft",
            Param::Fast => "--fast",
            Param::Relax => "--relax",
            Param::Turbo => "--turbo",
        }
    }

    fn is_flag(self) -> bool {
        matches!(
            self,
            Param::Raw
                | Param::Tile
                | Param::Video
                | Param::Loop
                | Param::Draft
                | Param::Fast
                | Param::Relax
                | Param::Turbo
        )
    }
}

/// One parameter as written: its name as typed (`--S`, em dash made `--`) and its value.
struct Given<'a> {
    param: Param,
    typed: String,
    value: String,
    tokens: Vec<&'a str>,
}

impl Given<'_> {
    fn invalid(&self, rule: impl Into<String>) -> PromptError {
        PromptError::Invalid {
            token: format!("{} {}", self.typed, self.value),
            rule: rule.into(),
        }
    }

    fn missing(&self, rule: impl Into<String>) -> PromptError {
        PromptError::MissingValue {
            param: self.typed.clone(),
            rule: rule.into(),
        }
    }

    /// The value, or a "needs a value" error stating `rule`.
    fn required(&self, rule: &str) -> Result<&str, PromptError> {
        if self.value.is_empty() {
            Err(self.missing(rule))
        } else {
            Ok(&self.value)
        }
    }

    fn whole(&self, what: &str, min: u64, max: u64) -> Result<u64, PromptError> {
        let rule = format!("{what} must be a whole number from {min} to {max}");
        let value = self.required(&rule)?;
        match parse_whole(value) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.invalid(rule)),
        }
    }

    fn whole_u32(&self, what: &str, min: u32, max: u32) -> Result<u32, PromptError> {
        let n = self.whole(what, u64::from(min), u64::from(max))?;
        u32::try_from(n).map_err(|_| self.invalid(what))
    }
}

/// The parameter name of a token that starts a parameter (`--ar`, `—ar`), with the name as
/// typed (trailing punctuation dropped).
fn param_token(token: &str) -> Option<&str> {
    let rest = token
        .strip_prefix("--")
        .or_else(|| token.strip_prefix('\u{2014}'))?;
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(rest.trim_end_matches(TRAILING_PUNCTUATION))
}

/// The image URL a token stands for, if it is one (angle brackets, which keep Discord from
/// embedding a link, are dropped).
pub fn image_url(token: &str) -> Option<&str> {
    let token = token.trim_end_matches([',', ';']);
    let url = token
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(token);
    let lower = url.to_ascii_lowercase();
    let after_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or(after_scheme);
    let has_host = path.split('/').next().is_some_and(|h| !h.is_empty());
    (has_host && path.contains('/') && IMAGE_EXTENSIONS.iter().any(|e| path.ends_with(e)))
        .then_some(url)
}

/// Parses one expanded prompt (no permutation syntax left).
pub(crate) fn parse_expanded(text: &str, limits: &Limits) -> Result<Prompt, PromptError> {
    let tokens = tokenize(text);
    let first_param = tokens
        .iter()
        .position(|t| param_token(t).is_some())
        .unwrap_or(tokens.len());
    let (head, tail) = tokens.split_at(first_param);

    let mut prompt = Prompt::default();
    let mut rest = head;
    while let Some((first, more)) = rest.split_first() {
        match image_url(first) {
            Some(url) => prompt.images.push(url.to_string()),
            None => break,
        }
        rest = more;
    }
    prompt.text = split_parts(&rest.join(" "))?;
    // Only a URL glued to `::` gets here (`https://x/a.png::2`): an image takes no weight.
    if let Some(first) = prompt.text.first()
        && let Some(word) = first.text.split_whitespace().next()
        && image_url(word).is_some()
    {
        return Err(PromptError::Invalid {
            token: rest.first().copied().unwrap_or(word).to_string(),
            rule: "an image prompt takes no multi-prompt weight (use --iw)".into(),
        });
    }

    let given = group_params(tail)?;
    let mut seen: Vec<Param> = Vec::new();
    for g in &given {
        if seen.contains(&g.param) {
            return Err(PromptError::Duplicate {
                param: g.param.name().to_string(),
            });
        }
        seen.push(g.param);
        apply(&mut prompt, g, limits)?;
    }
    check_combinations(&given)?;

    let has_text = !prompt.text.is_empty();
    if !(has_text || prompt.images.len() >= 2) {
        return Err(PromptError::NothingToDraw);
    }
    Ok(prompt)
}

/// Splits on whitespace, and also after a `::` or `,` glued to a parameter (`cat::--ar`,
/// `--no a,--tile`): a parameter hidden inside a word would not survive canonical text.
fn tokenize(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for mut token in text.split_whitespace() {
        while let Some(at) = token
            .match_indices([':', ','])
            .map(|(i, _)| i + 1)
            .find(|&i| {
                (token[..i].ends_with("::") || token[..i].ends_with(','))
                    && param_token(&token[i..]).is_some()
            })
        {
            tokens.push(&token[..at]);
            token = &token[at..];
        }
        tokens.push(token);
    }
    tokens
}

/// Groups parameter tokens with their values; reports every unknown name at once.
fn group_params<'a>(tail: &[&'a str]) -> Result<Vec<Given<'a>>, PromptError> {
    let mut given: Vec<Given<'a>> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut skipping = false;
    for &token in tail {
        if let Some(name) = param_token(token) {
            let typed = format!("--{name}");
            match Param::lookup(&name.to_ascii_lowercase()) {
                Some(param) => {
                    skipping = false;
                    given.push(Given {
                        param,
                        typed,
                        value: String::new(),
                        tokens: Vec::new(),
                    });
                }
                None => {
                    skipping = true;
                    if !unknown.iter().any(|u| u.eq_ignore_ascii_case(&typed)) {
                        unknown.push(typed);
                    }
                }
            }
        } else if !skipping && let Some(g) = given.last_mut() {
            g.tokens.push(token);
        }
    }
    if !unknown.is_empty() {
        return Err(PromptError::Unrecognized(unknown));
    }
    for g in &mut given {
        g.value = g
            .tokens
            .join(" ")
            .trim_end_matches(|c: char| c.is_whitespace() || TRAILING_PUNCTUATION.contains(&c))
            .to_string();
    }
    Ok(given)
}

fn apply(prompt: &mut Prompt, g: &Given<'_>, limits: &Limits) -> Result<(), PromptError> {
    if g.param.is_flag() {
        if !g.value.is_empty() {
            return Err(PromptError::UnexpectedValue {
                param: g.typed.clone(),
                value: g.value.clone(),
            });
        }
        match g.param {
            Param::Raw => prompt.style = Some(Style::RAW),
            Param::Tile => prompt.tile = true,
            Param::Video => prompt.video = true,
            Param::Loop => prompt.video_loop = true,
            Param::Draft => prompt.draft = true,
            Param::Fast => prompt.speed = Some(Speed::Fast),
            Param::Relax => prompt.speed = Some(Speed::Relax),
            Param::Turbo => prompt.speed = Some(Speed::Turbo),
            _ => {}
        }
        return Ok(());
    }
    match g.param {
        Param::P => prompt.personalize = Some(profile_refs(g)?),
        Param::Stylize => prompt.stylize = Some(g.whole_u32("stylize", 0, 1000)?),
        Param::V => {
            // A configured "niji N" belongs to --niji, never to --v.
            let extra: Vec<String> = (limits.extra_versions.iter())
                .filter(|v| !v.starts_with(NIJI_PREFIX))
                .cloned()
                .collect();
            let allowed = allowed(BUILTIN_VERSIONS, &extra);
            let rule = format!("version must be one of {}", allowed.join(", "));
            let v = g.required(&rule)?;
            if !allowed.contains(&v) {
                return Err(g.invalid(rule));
            }
            prompt.version = Some(v.to_string());
        }
        Param::Niji => {
            let allowed = allowed(BUILTIN_NIJI, &limits.extra_niji);
            let v = if g.value.is_empty() {
                DEFAULT_NIJI
            } else {
                g.value.as_str()
            };
            if !allowed.contains(&v) {
                return Err(g.invalid(format!(
                    "niji version must be one of {}",
                    allowed.join(", ")
                )));
            }
            prompt.version = Some(format!("{NIJI_PREFIX}{v}"));
        }
        Param::Ar => prompt.aspect = aspect(g)?,
        Param::Seed => prompt.seed = Some(g.whole_u32("seed", 0, u32::MAX)?),
        Param::Chaos => prompt.chaos = g.whole_u32("chaos", 0, 100)?,
        Param::Weird => prompt.weird = g.whole_u32("weird", 0, 3000)?,
        Param::Quality => {
            let rule = "quality must be one of .25, .5, 1, 2, 4";
            let q = parse_decimal(g.required(rule)?)
                .and_then(|v| Quality::ALL.into_iter().find(|q| q.value() == v));
            prompt.quality = q.ok_or_else(|| g.invalid(rule))?;
        }
        Param::Style => prompt.style = Some(style(g)?),
        Param::No => {
            let rule = "list what to leave out, separated by commas";
            let items: Vec<String> = g
                .required(rule)?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if items.is_empty() {
                return Err(g.missing(rule));
            }
            prompt.no = items;
        }
        Param::Stop => prompt.stop = g.whole_u32("stop", 10, 100)?,
        Param::Iw => {
            let rule = "image weight must be a number from 0 to 3";
            match parse_decimal(g.required(rule)?) {
                Some(w) if (0.0..=3.0).contains(&w) => prompt.image_weight = w + 0.0,
                _ => return Err(g.invalid(rule)),
            }
        }
        Param::Sref => prompt.sref = style_refs(g)?,
        Param::Sw => prompt.style_weight = g.whole_u32("style weight", 0, 1000)?,
        Param::Sv => {
            let rule = "style reference version must be one of 1, 2, 3, 4, 6 (1–4 for V6, 4 or 6 \
                        for V7)";
            let v = parse_whole(g.required(rule)?);
            match v.and_then(|v| STYLE_VERSIONS.iter().copied().find(|&s| u64::from(s) == v)) {
                Some(v) => prompt.style_version = Some(v),
                None => return Err(g.invalid(rule)),
            }
        }
        Param::Cref => prompt.cref = image_urls(g, "a character reference", usize::MAX)?,
        Param::Cw => prompt.character_weight = g.whole_u32("character weight", 0, 100)?,
        Param::Oref => {
            prompt.oref = image_urls(g, "an omni reference", 1)?.into_iter().next();
        }
        Param::Ow => prompt.omni_weight = g.whole_u32("omni weight", 1, 1000)?,
        Param::Motion => {
            let rule = "motion must be low or high";
            prompt.motion = match g.required(rule)?.to_ascii_lowercase().as_str() {
                "low" => Motion::Low,
                "high" => Motion::High,
                _ => return Err(g.invalid(rule)),
            };
        }
        Param::End => {
            prompt.video_end = image_urls(g, "the ending frame", 1)?.into_iter().next();
        }
        Param::Bs => {
            let rule = "video batch size must be 1, 2 or 4";
            let n = parse_whole(g.required(rule)?);
            match n.and_then(|n| VIDEO_BATCHES.iter().copied().find(|&b| u64::from(b) == n)) {
                Some(n) => prompt.video_batch = n,
                None => return Err(g.invalid(rule)),
            }
        }
        Param::Repeat => prompt.repeat = g.whole_u32("repeat", 1, 40)?,
        Param::Exp => prompt.exp = g.whole_u32("exp", 0, 100)?,
        Param::Raw
        | Param::Tile
        | Param::Video
        | Param::Loop
        | Param::Draft
        | Param::Fast
        | Param::Relax
        | Param::Turbo => {}
    }
    Ok(())
}

/// Pairs of parameters that exclude each other (each given at most once by now).
fn check_combinations(given: &[Given<'_>]) -> Result<(), PromptError> {
    let find = |p: Param| given.iter().find(|g| g.param == p);
    let conflict = |a: &Given<'_>, b: &Given<'_>| PromptError::Conflict {
        first: a.typed.clone(),
        second: b.typed.clone(),
    };
    if let (Some(v), Some(n)) = (find(Param::V), find(Param::Niji)) {
        return Err(conflict(v, n));
    }
    if let (Some(raw), Some(style)) = (find(Param::Raw), find(Param::Style))
        && !style.value.eq_ignore_ascii_case("raw")
    {
        return Err(PromptError::Conflict {
            first: raw.typed.clone(),
            second: format!("{} {}", style.typed, style.value),
        });
    }
    let speeds: Vec<&Given<'_>> = given
        .iter()
        .filter(|g| matches!(g.param, Param::Fast | Param::Relax | Param::Turbo))
        .collect();
    if let [a, b, ..] = speeds.as_slice() {
        return Err(conflict(a, b));
    }
    Ok(())
}

fn allowed<'a>(builtin: &[&'a str], extra: &'a [String]) -> Vec<&'a str> {
    let mut all: Vec<&str> = builtin.to_vec();
    for e in extra {
        if !all.contains(&e.as_str()) {
            all.push(e);
        }
    }
    all
}

fn aspect(g: &Given<'_>) -> Result<Aspect, PromptError> {
    let rule =
        "aspect ratio must be two whole numbers W:H, neither side more than 14 times the other";
    let value = g.required(rule)?;
    let (w, h) = value.split_once(':').ok_or_else(|| g.invalid(rule))?;
    let (Some(w), Some(h)) = (parse_whole(w), parse_whole(h)) else {
        return Err(g.invalid(rule));
    };
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(g.invalid(rule));
    };
    if w == 0 || h == 0 || u64::from(w.max(h)) > 14 * u64::from(w.min(h)) {
        return Err(g.invalid(rule));
    }
    let d = gcd(w, h);
    Ok(Aspect {
        width: w / d,
        height: h / d,
    })
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn profile_refs(g: &Given<'_>) -> Result<Vec<ProfileRef>, PromptError> {
    let rule = format!(
        "a reference must be a personalization code ({CODE_LEN} letters or digits) or a profile \
         ID ({PROFILE_ID_LEN}), optionally with a weight such as ::0.5"
    );
    let mut refs = Vec::new();
    for token in g.value.split([' ', ',']).filter(|t| !t.is_empty()) {
        let bad = || PromptError::Invalid {
            token: format!("{} {token}", g.typed),
            rule: rule.clone(),
        };
        let (id, weight) = match token.split_once("::") {
            Some((id, w)) => (id, parse_decimal(w).ok_or_else(bad)?),
            None => (token, 1.0),
        };
        let id = id.to_ascii_lowercase();
        let target = if is_base36_id(&id, CODE_LEN) {
            RefTarget::Code(id)
        } else if is_base36_id(&id, PROFILE_ID_LEN) {
            RefTarget::Profile(ProfileId(id))
        } else {
            return Err(bad());
        };
        refs.push(ProfileRef { target, weight });
    }
    let sum: f64 = refs.iter().map(|r| r.weight).sum();
    if !refs.is_empty() && sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(g.invalid("the weights must add up to more than 0"));
    }
    Ok(refs)
}

fn style_refs(g: &Given<'_>) -> Result<Vec<StyleRef>, PromptError> {
    let rule = "a style reference must be an image URL (.png, .gif, .webp, .jpg, .jpeg) or a \
                style code (letters and digits), optionally with a weight such as ::2";
    g.required(rule)?;
    let mut refs = Vec::new();
    for token in g.value.split(' ') {
        let token = token.trim_end_matches(',');
        if token.is_empty() {
            continue;
        }
        let bad = || PromptError::Invalid {
            token: format!("{} {token}", g.typed),
            rule: rule.to_string(),
        };
        // A weight only if what follows the last `::` is a number: URLs may hold `::`.
        let (body, weight) = match token.rsplit_once("::") {
            Some((body, w)) => match parse_decimal(w) {
                Some(w) => (body, w),
                None => (token, 1.0),
            },
            None => (token, 1.0),
        };
        let target = if let Some(url) = image_url(body) {
            StyleTarget::Url(url.to_string())
        } else {
            let code = body.to_ascii_lowercase();
            if !is_style_code(&code) {
                return Err(bad());
            }
            StyleTarget::Code(code)
        };
        refs.push(StyleRef { target, weight });
    }
    if refs.is_empty() {
        return Err(g.missing(rule));
    }
    Ok(refs)
}

/// The rule every refused `--style` value is told.
const STYLE_RULE: &str = "style must be raw, random, random-16, random-32, random-64 or \
                          random-128 (optionally with a percentage from 1 to 100, such as \
                          random-64-50), or style codes (letters and digits) joined with - \
                          (such as raw-code1-code2)";

/// A `--style` value: `raw` and codes joined with `-`, or one of the random forms.
fn style(g: &Given<'_>) -> Result<Style, PromptError> {
    let value = g.required(STYLE_RULE)?.to_ascii_lowercase();
    let parts: Vec<&str> = value.split('-').collect();
    if let ["random", rest @ ..] = parts.as_slice() {
        let number = |s: &str| parse_whole(s).and_then(|n| u32::try_from(n).ok());
        let mut random = RandomStyle::default();
        match rest {
            [] => {}
            [pairs] | [pairs, _] => {
                random.pairs = number(pairs)
                    .filter(|p| RANDOM_STYLE_PAIRS.contains(p))
                    .ok_or_else(|| g.invalid(STYLE_RULE))?;
                if let [_, percent] = rest {
                    random.percent = number(percent)
                        .filter(|p| (1..=100).contains(p))
                        .ok_or_else(|| g.invalid(STYLE_RULE))?;
                }
            }
            _ => return Err(g.invalid(STYLE_RULE)),
        }
        return Ok(Style::Random(random));
    }
    let mut raw = false;
    let mut codes = Vec::new();
    for part in parts {
        match part {
            // `raw` once, anywhere; it is written first in canonical text.
            "raw" if !raw => raw = true,
            // Midjourney refuses `--style default`; `random` only stands alone.
            "default" | "random" | "raw" => return Err(g.invalid(STYLE_RULE)),
            code if is_style_code(code) => codes.push(code.to_string()),
            _ => return Err(g.invalid(STYLE_RULE)),
        }
    }
    Ok(Style::Codes { raw, codes })
}

/// Image URLs for `--cref` (any number), `--oref` and `--end` (one each): `what` names the
/// parameter's purpose in the error.
fn image_urls(g: &Given<'_>, what: &str, max: usize) -> Result<Vec<String>, PromptError> {
    let rule = if max == 1 {
        format!("{what} must be one image URL (.png, .gif, .webp, .jpg, .jpeg)")
    } else {
        format!("{what} must be image URLs (.png, .gif, .webp, .jpg, .jpeg)")
    };
    g.required(&rule)?;
    let mut urls = Vec::new();
    for token in g.value.split(' ').filter(|t| !t.is_empty()) {
        let url = image_url(token).ok_or_else(|| PromptError::Invalid {
            token: format!("{} {token}", g.typed),
            rule: rule.clone(),
        })?;
        urls.push(url.to_string());
    }
    if urls.len() > max {
        return Err(g.invalid(rule));
    }
    Ok(urls)
}

fn is_style_code(s: &str) -> bool {
    (1..=MAX_STYLE_CODE_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// A non-negative whole number made only of ASCII digits.
fn parse_whole(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A finite decimal such as `2`, `-0.5`, `.25` or `3.` (no exponents, no `inf`).
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let mut halves = digits.splitn(2, '.');
    let int = halves.next().unwrap_or("");
    let frac = halves.next().unwrap_or("");
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // `-0` is 0: the sign of zero means nothing here and would not survive canonical text.
    v.is_finite().then_some(v + 0.0)
}

/// Splits the text into multi-prompt parts (`space:: ship::2`). A weight is a number written
/// right after `::` and followed by a space or the end.
fn split_parts(text: &str) -> Result<Vec<TextPart>, PromptError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("::") {
        let body = clean_part(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (weight, used) = match parse_decimal(&after[..end]) {
            Some(w) => (w, end),
            None => (1.0, 0),
        };
        if body.is_empty() {
            return Err(PromptError::EmptyPart {
                weight: after[..used].to_string(),
            });
        }
        parts.push(TextPart {
            text: body.to_string(),
            weight,
        });
        rest = &after[used..];
    }
    let last = clean_part(rest);
    if !last.is_empty() {
        parts.push(TextPart {
            text: last.to_string(),
            weight: 1.0,
        });
    }
    let sum: f64 = parts.iter().map(|p| p.weight).sum();
    if !parts.is_empty() && sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(PromptError::WeightSum { sum });
    }
    Ok(parts)
}

/// A part without surrounding whitespace or trailing commas and semicolons.
fn clean_part(s: &str) -> &str {
    s.trim_start()
        .trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_plain_finite_numbers() {
        assert_eq!(parse_decimal("2"), Some(2.0));
        assert_eq!(parse_decimal("-0.5"), Some(-0.5));
        assert_eq!(parse_decimal(".25"), Some(0.25));
        assert_eq!(parse_decimal("3."), Some(3.0));
        assert_eq!(parse_decimal("-0").map(f64::is_sign_negative), Some(false));
        for bad in [
            "", "-", ".", "1e3", "inf", "NaN", "+1", "1.2.3", "0x10", " 1",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal(&"9".repeat(400)), None);
    }

    #[test]
    fn image_urls_need_a_scheme_a_host_and_an_image_ending() {
        assert_eq!(
            image_url("https://e.com/a.PNG"),
            Some("https://e.com/a.PNG")
        );
        assert_eq!(
            image_url("<http://e.com/a.jpg?x=1#y>"),
            Some("http://e.com/a.jpg?x=1#y")
        );
        assert_eq!(
            image_url("https://e.com/a.webp,"),
            Some("https://e.com/a.webp")
        );
        for bad in [
            "https://.png",
            "https:///a.png",
            "ftp://e.com/a.png",
            "e.com/a.png",
            "https://e.com/a.png/x",
        ] {
            assert_eq!(image_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parameters_glued_to_separators_are_split_off() {
        assert_eq!(tokenize("cat::--ar 16:9"), vec!["cat::", "--ar", "16:9"]);
        assert_eq!(tokenize("a,--tile b::2"), vec!["a,", "--tile", "b::2"]);
        assert_eq!(tokenize("a::—s"), vec!["a::", "—s"]);
        assert_eq!(tokenize("a:--s x,-5"), vec!["a:--s", "x,-5"]);
    }

    #[test]
    fn parts_take_weights_written_right_after_the_separator() {
        let parts = split_parts("space:: ship::2 sail::-.5 x").unwrap();
        let got: Vec<(&str, f64)> = parts.iter().map(|p| (p.text.as_str(), p.weight)).collect();
        assert_eq!(
            got,
            vec![("space", 1.0), ("ship", 2.0), ("sail", -0.5), ("x", 1.0)]
        );
        assert_eq!(split_parts("").unwrap(), vec![]);
        assert_eq!(
            split_parts("a:: ::3"),
            Err(PromptError::EmptyPart { weight: "3".into() })
        );
    }
}
