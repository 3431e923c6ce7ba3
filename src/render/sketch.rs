//! `sketch`, the built-in renderer: procedural landscapes from the words of a prompt.
//!
//! Deterministic for (prompt, seed, knobs, size), fast, offline. Words choose the scene: a sky
//! (day, sunset, night, overcast), an optional mountain range, a ground (meadow, sea, desert,
//! forest, snow, city, flowers) and a central subject (the first word that is not a scene or
//! filler word: "a husky in a desert" puts a husky in a desert). The seed varies the layout and
//! palette. The knobs of [`crate::render::backend::knobs::SKETCH_KNOBS`] then grade the picture: saturation,
//! contrast, brightness, warmth, detail (surface texture), softness (blur, or sharpening below
//! 0), harmony (hues pulled toward one hue and its complement, or scattered below 0), vignette
//! (dark dramatic corners, or a light haze below 0) and composition (centred and symmetric
//! below 0, rule-of-thirds above 0).

use image::{Rgb, RgbImage};

use crate::render::backend::knobs::SKETCH_KNOBS;

/// Scene words, with the part of the picture each one selects.
const NIGHT: &[&str] = &[
    "night",
    "stars",
    "starry",
    "moon",
    "midnight",
    "moonlight",
    "nocturnal",
];
const SUNSET: &[&str] = &[
    "sunset", "dusk", "dawn", "sunrise", "evening", "golden", "twilight",
];
const OVERCAST: &[&str] = &[
    "fog", "foggy", "mist", "misty", "rain", "rainy", "storm", "cloudy", "overcast",
];
const MOUNTAINS: &[&str] = &[
    "mountain",
    "mountains",
    "peak",
    "peaks",
    "hills",
    "alps",
    "volcano",
    "cliffs",
    "valley",
];
const SEA: &[&str] = &[
    "sea", "ocean", "beach", "lake", "water", "river", "waves", "coast", "shore",
];
const DESERT: &[&str] = &["desert", "dunes", "dune", "sand", "sahara", "canyon"];
const FOREST: &[&str] = &["forest", "trees", "woods", "jungle", "pines", "woodland"];
const SNOW: &[&str] = &[
    "snow", "winter", "ice", "arctic", "snowy", "frozen", "glacier",
];
const CITY: &[&str] = &[
    "city",
    "skyline",
    "buildings",
    "street",
    "town",
    "urban",
    "downtown",
    "metropolis",
];
const FLOWERS: &[&str] = &[
    "flowers", "flower", "garden", "meadow", "field", "tulips", "roses", "blossoms",
];
/// Words that never become the subject.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "in",
    "on",
    "of",
    "at",
    "with",
    "and",
    "by",
    "under",
    "over",
    "near",
    "from",
    "to",
    "into",
    "under",
    "above",
    "below",
    "beside",
    "its",
    "his",
    "her",
    "their",
    "photo",
    "picture",
    "painting",
    "image",
    "style",
    "beautiful",
    "sky",
    "sun",
    "landscape",
    "scene",
    "view",
    "big",
    "small",
    "little",
    "tiny",
    "huge",
    "old",
    "new",
    "very",
    "some",
    "is",
    "are",
    "for",
    "like",
    "as",
    "at",
    "dark",
    "bright",
    "light",
    "clouds",
    "cloud",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sky {
    Day,
    Sunset,
    Night,
    Overcast,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ground {
    Meadow,
    Sea,
    Desert,
    Forest,
    Snow,
    City,
    Flowers,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// A four-legged animal seen from the side.
    Creature,
    /// A tall thing: a tower, a lighthouse, a person, a robot.
    Tower,
    /// A round thing: a tree, a balloon, a planet.
    Round,
}

#[derive(Debug, Clone, Copy)]
struct Subject {
    shape: Shape,
    colour: [f32; 3],
}

/// What the words of a prompt asked for.
#[derive(Debug, Clone, Copy)]
struct Scene {
    sky: Sky,
    ground: Ground,
    mountains: bool,
    subject: Option<Subject>,
}

/// Known subjects with a colour a person expects.
fn known_subject(word: &str) -> Option<Subject> {
    let (shape, colour) = match word {
        "husky" | "wolf" => (Shape::Creature, [0.78, 0.80, 0.84]),
        "dog" | "horse" | "deer" | "bear" | "cow" => (Shape::Creature, [0.48, 0.32, 0.20]),
        "cat" | "fox" | "tiger" | "lion" => (Shape::Creature, [0.90, 0.50, 0.16]),
        "dragon" | "lizard" | "frog" => (Shape::Creature, [0.20, 0.62, 0.30]),
        "sheep" | "unicorn" => (Shape::Creature, [0.95, 0.94, 0.90]),
        "robot" | "astronaut" | "knight" => (Shape::Tower, [0.75, 0.77, 0.82]),
        "castle" | "tower" | "church" | "temple" => (Shape::Tower, [0.62, 0.58, 0.52]),
        "lighthouse" => (Shape::Tower, [0.92, 0.90, 0.88]),
        "man" | "woman" | "person" | "girl" | "boy" | "wizard" | "witch" => {
            (Shape::Tower, [0.55, 0.22, 0.25])
        }
        "tree" | "oak" | "bush" => (Shape::Round, [0.18, 0.48, 0.16]),
        "balloon" | "apple" => (Shape::Round, [0.88, 0.16, 0.14]),
        "planet" | "orb" | "bubble" => (Shape::Round, [0.35, 0.45, 0.90]),
        _ => return None,
    };
    Some(Subject { shape, colour })
}

/// Reads the scene from the prompt's words; unknown words give a subject coloured by the word.
fn parse_scene(prompt: &str) -> Scene {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let sky = if has(NIGHT) {
        Sky::Night
    } else if has(SUNSET) {
        Sky::Sunset
    } else if has(OVERCAST) {
        Sky::Overcast
    } else {
        Sky::Day
    };
    let ground = [
        (SEA, Ground::Sea),
        (DESERT, Ground::Desert),
        (FOREST, Ground::Forest),
        (SNOW, Ground::Snow),
        (CITY, Ground::City),
        (FLOWERS, Ground::Flowers),
    ]
    .into_iter()
    .find(|(list, _)| has(list))
    .map(|(_, g)| g)
    .unwrap_or(Ground::Meadow);
    let scene_words: Vec<&[&str]> = vec![
        NIGHT, SUNSET, OVERCAST, MOUNTAINS, SEA, DESERT, FOREST, SNOW, CITY, FLOWERS, FILLER,
    ];
    let subject = words
        .iter()
        .filter(|w| w.len() > 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .find(|w| !scene_words.iter().any(|list| list.contains(&w.as_str())))
        .map(|w| {
            known_subject(w).unwrap_or_else(|| {
                let h = hash_str(w);
                let shape = [Shape::Creature, Shape::Tower, Shape::Round][(h % 3) as usize];
                let hue = unit(mix(h, 7)) * std::f32::consts::TAU;
                Subject {
                    shape,
                    colour: from_luma_chroma(0.5, 0.22 * hue.cos(), 0.22 * hue.sin()),
                }
            })
        });
    Scene {
        sky,
        ground,
        mountains: has(MOUNTAINS),
        subject,
    }
}

// ---- deterministic noise -------------------------------------------------------------------

fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// A value in 0…1 from a hash.
fn unit(h: u64) -> f32 {
    (h >> 40) as f32 / (1u64 << 24) as f32
}

fn lattice(seed: u64, x: i32, y: i32) -> f32 {
    unit(mix(seed, ((x as u32 as u64) << 32) | y as u32 as u64))
}

/// Smooth value noise in 0…1.
fn noise(seed: u64, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = (x - x0, y - y0);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (ix, iy) = (x0 as i32, y0 as i32);
    let a = lattice(seed, ix, iy);
    let b = lattice(seed, ix + 1, iy);
    let c = lattice(seed, ix, iy + 1);
    let d = lattice(seed, ix + 1, iy + 1);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Fractal noise in about 0…1.
fn fbm(seed: u64, x: f32, y: f32, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 0.5, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * noise(seed.wrapping_add(o as u64), x * freq, y * freq);
        norm += amp;
        amp *= 0.5;
        freq *= 2.0;
    }
    sum / norm
}

// ---- colour helpers (opponent space: luma plus two colour-difference channels) -------------

fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// sRGB (0…1) from luma `y` and colour differences `u` = B − Y, `v` = R − Y.
fn from_luma_chroma(y: f32, u: f32, v: f32) -> [f32; 3] {
    let r = y + v;
    let b = y + u;
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b]
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale3(a: [f32; 3], k: f32) -> [f32; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// Rotates a colour's hue by `angle` radians around its grey.
fn rotate_hue(c: [f32; 3], angle: f32) -> [f32; 3] {
    let y = luma(c);
    let (u, v) = (c[2] - y, c[0] - y);
    let (s, k) = angle.sin_cos();
    from_luma_chroma(y, u * k - v * s, u * s + v * k)
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

// ---- the renderer --------------------------------------------------------------------------

/// Knob values by name, from a vector in [`SKETCH_KNOBS`] order (missing values are 0, values
/// are clamped to −1…1).
#[derive(Debug, Clone, Copy, Default)]
struct Grade {
    saturation: f32,
    contrast: f32,
    brightness: f32,
    warmth: f32,
    detail: f32,
    softness: f32,
    harmony: f32,
    vignette: f32,
    composition: f32,
}

impl Grade {
    fn from_knobs(knobs: &[f32]) -> Grade {
        let k = |i: usize| knobs.get(i).copied().unwrap_or(0.0).clamp(-1.0, 1.0);
        debug_assert_eq!(SKETCH_KNOBS.len(), 9);
        Grade {
            saturation: k(0),
            contrast: k(1),
            brightness: k(2),
            warmth: k(3),
            detail: k(4),
            softness: k(5),
            harmony: k(6),
            vignette: k(7),
            composition: k(8),
        }
    }
}

/// Everything fixed per picture before the pixel loop.
struct Layout {
    seed: u64,
    scene: Scene,
    sky_top: [f32; 3],
    sky_horizon: [f32; 3],
    ground: [f32; 3],
    ground_far: [f32; 3],
    mountain: [f32; 3],
    horizon: f32,
    sun: (f32, f32),
    subject_x: f32,
    mirror: f32,
    key_hue: f32,
    aspect: f32,
}

impl Layout {
    fn new(prompt: &str, seed: u64, grade: &Grade, width: u32, height: u32) -> Layout {
        let scene = parse_scene(prompt);
        let seed = mix(seed, hash_str(prompt));
        let r = |i: u64| unit(mix(seed, 1000 + i));
        let (sky_top, sky_horizon) = match scene.sky {
            Sky::Day => ([0.22, 0.42, 0.82], [0.68, 0.80, 0.94]),
            Sky::Sunset => ([0.26, 0.20, 0.46], [0.98, 0.56, 0.26]),
            Sky::Night => ([0.02, 0.03, 0.09], [0.09, 0.11, 0.26]),
            Sky::Overcast => ([0.52, 0.55, 0.60], [0.78, 0.79, 0.80]),
        };
        let ground = match scene.ground {
            Ground::Meadow => [0.34, 0.58, 0.24],
            Ground::Sea => [0.08, 0.32, 0.56],
            Ground::Desert => [0.86, 0.66, 0.40],
            Ground::Forest => [0.11, 0.33, 0.14],
            Ground::Snow => [0.88, 0.91, 0.96],
            Ground::City => [0.32, 0.32, 0.36],
            Ground::Flowers => [0.28, 0.52, 0.20],
        };
        let light = match scene.sky {
            Sky::Day => [1.0, 1.0, 1.0],
            Sky::Sunset => [1.05, 0.80, 0.62],
            Sky::Night => [0.22, 0.25, 0.40],
            Sky::Overcast => [0.80, 0.82, 0.85],
        };
        let ground = [
            ground[0] * light[0],
            ground[1] * light[1],
            ground[2] * light[2],
        ];
        let mountain = lerp3(
            [0.36 * light[0], 0.40 * light[1], 0.50 * light[2]],
            sky_horizon,
            0.3,
        );
        // The seed turns the palette a little and varies its exposure.
        let turn = (r(1) - 0.5) * 0.5;
        let exposure = 0.9 + 0.2 * r(2);
        let adjust = |c: [f32; 3]| scale3(rotate_hue(c, turn), exposure);
        let ground = adjust(ground);
        let key = ground;
        let key_hue = (key[0] - luma(key)).atan2(key[2] - luma(key));
        let c = grade.composition;
        let thirds_side = if r(3) < 0.5 { 1.0 / 3.0 } else { 2.0 / 3.0 };
        Layout {
            seed,
            scene,
            sky_top: adjust(sky_top),
            sky_horizon: adjust(sky_horizon),
            ground_far: lerp3(ground, adjust(sky_horizon), 0.35),
            ground,
            mountain: adjust(mountain),
            horizon: 0.5 + 0.14 * c.max(0.0) + 0.04 * (r(4) - 0.5),
            sun: (0.2 + 0.6 * r(5), 0.12 + 0.18 * r(6)),
            subject_x: 0.5 + (thirds_side - 0.5) * c.max(0.0),
            mirror: (-c).max(0.0),
            key_hue,
            aspect: width as f32 / height.max(1) as f32,
        }
    }
}

/// Renders one picture for `prompt` with `seed` and `knobs` (in [`SKETCH_KNOBS`] order).
pub fn render(prompt: &str, seed: u64, knobs: &[f32], width: u32, height: u32) -> RgbImage {
    let grade = Grade::from_knobs(knobs);
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    let layout = Layout::new(prompt, seed, &grade, width, height);
    let mut pixels = vec![[0f32; 3]; w * h];

    // Per-column shapes: mountain ridges, building tops, tree heights.
    let ridge: Vec<f32> = (0..w)
        .map(|x| {
            let fx = layout.mirrored(x as f32 / w as f32) * layout.aspect;
            layout.horizon - 0.08 - 0.22 * fbm(layout.seed ^ 11, fx * 2.5, 0.5, 4)
        })
        .collect();
    let texture = 0.05 * (1.0 + 1.4 * grade.detail).max(0.05);
    for y in 0..h {
        let fy = y as f32 / h as f32;
        for x in 0..w {
            let fx = layout.mirrored(x as f32 / w as f32);
            let mut c = layout.base(fx, fy, ridge[x], texture);
            c = layout.subject(c, fx, fy, x as f32 / w as f32, texture);
            pixels[y * w + x] = c;
        }
    }

    if grade.softness > 0.0 {
        let radius = (grade.softness * w.min(h) as f32 / 60.0).round() as usize;
        if radius > 0 {
            box_blur(&mut pixels, w, h, radius);
            box_blur(&mut pixels, w, h, radius);
        }
    } else if grade.softness < 0.0 {
        let mut blurred = pixels.clone();
        box_blur(&mut blurred, w, h, (w.min(h) / 256).max(1));
        let amount = -grade.softness * 1.5;
        for (p, b) in pixels.iter_mut().zip(&blurred) {
            for i in 0..3 {
                p[i] += amount * (p[i] - b[i]);
            }
        }
    }

    let mut out = RgbImage::new(w as u32, h as u32);
    for (i, p) in out.pixels_mut().enumerate() {
        let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
        let c = layout.grade(pixels[i], &grade, x, y);
        *p = Rgb(c.map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
    }
    out
}

impl Layout {
    /// With a centred composition, the right half mirrors the left.
    fn mirrored(&self, fx: f32) -> f32 {
        let m = if fx > 0.5 { 1.0 - fx } else { fx };
        fx + (m - fx) * self.mirror
    }

    /// Sky, mountains and ground at (fx, fy).
    fn base(&self, fx: f32, fy: f32, ridge: f32, texture: f32) -> [f32; 3] {
        let s = self.seed;
        let ax = fx * self.aspect;
        let grain = (noise(s ^ 99, ax * 90.0, fy * 90.0) - 0.5) * 2.0 * texture;
        let horizon = self.horizon;
        if fy < horizon {
            // Sky.
            let t = (fy / horizon).powf(0.8);
            let mut c = lerp3(self.sky_top, self.sky_horizon, t);
            match self.scene.sky {
                Sky::Night => {
                    let cell = 1.0 / 180.0;
                    let (cx, cy) = ((ax / cell) as i32, (fy / cell) as i32);
                    if lattice(s ^ 5, cx, cy) > 0.985 {
                        c = lerp3(c, [0.95, 0.95, 1.0], 0.9 * (1.0 - t));
                    }
                }
                Sky::Day | Sky::Overcast => {
                    let cloud = fbm(s ^ 7, ax * 3.0, fy * 7.0, 4);
                    let amount = if self.scene.sky == Sky::Overcast {
                        0.7
                    } else {
                        0.55
                    };
                    let k = smoothstep(0.5, 0.75, cloud) * amount * (1.0 - t * 0.7);
                    c = lerp3(c, [0.97, 0.97, 0.98], k);
                }
                Sky::Sunset => {
                    let band = fbm(s ^ 7, ax * 2.0, fy * 14.0, 3);
                    let k = smoothstep(0.55, 0.8, band) * 0.6;
                    c = lerp3(c, [0.95, 0.42, 0.38], k);
                }
            }
            // Sun or moon with a glow.
            let (sx, sy) = self.sun;
            let d = (((fx - sx) * self.aspect).powi(2) + (fy - sy).powi(2)).sqrt();
            let (disc, glow) = match self.scene.sky {
                Sky::Night => ([0.92, 0.92, 0.86], 0.15),
                Sky::Sunset => ([1.0, 0.78, 0.45], 0.6),
                Sky::Day => ([1.0, 0.98, 0.88], 0.35),
                Sky::Overcast => ([0.9, 0.9, 0.9], 0.1),
            };
            let r = 0.055;
            if d < r {
                c = disc;
            } else {
                c = lerp3(c, disc, glow * (-(d - r) * 9.0).exp());
            }
            if self.scene.mountains && fy > ridge {
                let snowline = ridge + 0.035;
                let shade = 0.85 + 0.3 * fbm(s ^ 13, ax * 12.0, fy * 12.0, 3);
                c = if fy < snowline && self.scene.sky != Sky::Night {
                    [0.92, 0.93, 0.96]
                } else {
                    scale3(self.mountain, shade)
                };
            }
            if self.scene.ground == Ground::Forest {
                let cell = 0.03;
                let col = (ax / cell).floor();
                let height = 0.04 + 0.06 * lattice(s ^ 67, col as i32, 0);
                let tip = horizon - height;
                if fy > tip && (ax - (col + 0.5) * cell).abs() < (fy - tip) / height * cell * 0.6 {
                    c = scale3(self.ground_far, 0.7);
                }
            }
            if self.scene.ground == Ground::City {
                let cell = 0.045;
                let col = (ax / cell) as i32;
                let top = horizon - 0.06 - 0.28 * lattice(s ^ 17, col, 0).powi(2);
                if fy > top {
                    let night = self.scene.sky == Sky::Night;
                    let wall = scale3(
                        [0.30, 0.31, 0.36],
                        if night {
                            0.35
                        } else {
                            0.9 + 0.3 * lattice(s ^ 19, col, 1)
                        },
                    );
                    let (wx, wy) = ((ax / (cell / 4.0)) as i32, (fy / 0.018) as i32);
                    let in_window =
                        (ax / (cell / 4.0)).fract() > 0.35 && (fy / 0.018).fract() > 0.4;
                    c = if in_window && lattice(s ^ 23, wx, wy) > 0.45 {
                        if night {
                            [1.0, 0.82, 0.42]
                        } else {
                            [0.55, 0.66, 0.78]
                        }
                    } else {
                        wall
                    };
                }
            }
            return [c[0] + grain * 0.3, c[1] + grain * 0.3, c[2] + grain * 0.3];
        }
        // Ground: far colour at the horizon, near colour at the bottom.
        let depth = ((fy - horizon) / (1.0 - horizon)).clamp(0.0, 1.0);
        let mut c = lerp3(self.ground_far, self.ground, depth.powf(0.6));
        match self.scene.ground {
            Ground::Sea => {
                let wave = (fy * 220.0 * (1.0 - 0.6 * depth)
                    + 6.0 * fbm(s ^ 29, ax * 4.0, fy * 30.0, 3))
                .sin();
                c = scale3(c, 1.0 + 0.12 * wave * (0.3 + depth));
                let glint = (-((fx - self.sun.0) * self.aspect * 12.0).powi(2)).exp();
                c = lerp3(
                    c,
                    [1.0, 0.95, 0.8],
                    0.35 * glint * smoothstep(0.6, 1.0, wave * 0.5 + 0.5),
                );
            }
            Ground::Desert => {
                let dune = (ax * 9.0 + fy * 40.0 + 5.0 * fbm(s ^ 31, ax * 2.0, fy * 3.0, 3)).sin();
                c = scale3(c, 0.9 + 0.16 * dune);
            }
            Ground::Forest => {
                // Rows of pines, bigger toward the viewer.
                let rows = 5.0;
                let band = (depth * rows).floor();
                let (top, bottom) = (band / rows, (band + 1.0) / rows);
                let cell = 0.03 + 0.05 * depth;
                let col = ((ax + band * 0.37) / cell).floor();
                let cx = (col + 0.5) * cell - band * 0.37;
                let t = ((depth - top) / (bottom - top)).clamp(0.0, 1.0);
                let jitter = lattice(s ^ 37, col as i32, band as i32);
                let inside = (ax - cx).abs() < t * cell * (0.45 + 0.2 * jitter);
                let shade = 0.55 + 0.35 * fbm(s ^ 41, ax * 30.0, fy * 30.0, 2);
                c = scale3(c, if inside { shade * 0.75 } else { shade * 1.15 });
            }
            Ground::Snow => {
                let drift = fbm(s ^ 43, ax * 5.0, fy * 12.0, 4);
                c = lerp3(c, [0.70, 0.78, 0.92], 0.35 * (1.0 - drift));
            }
            Ground::City => {
                let lane = ((ax - 0.5 * self.aspect) / (fy - horizon + 0.02)).abs();
                if lane < 0.08 && ((fy - horizon).sqrt() * 40.0).fract() < 0.5 {
                    c = [0.85, 0.80, 0.55];
                }
            }
            Ground::Flowers | Ground::Meadow => {
                let hill = (ax * 5.0 + 4.0 * fbm(s ^ 47, ax, fy * 2.0, 3)).sin();
                c = scale3(c, 0.9 + 0.12 * hill * (1.0 - depth));
                if self.scene.ground == Ground::Flowers {
                    let size = 0.01 + 0.03 * depth;
                    let (cx, cy) = ((ax / size).floor(), (fy / size).floor());
                    let h = mix(s ^ 53, ((cx as i64 as u64) << 32) ^ cy as i64 as u64);
                    let (px, py) = ((ax / size).fract() - 0.5, (fy / size).fract() - 0.5);
                    if unit(h) > 0.55 && px * px + py * py < 0.12 {
                        let petals = [
                            [0.92, 0.20, 0.35],
                            [0.98, 0.85, 0.20],
                            [0.70, 0.35, 0.85],
                            [0.98, 0.98, 0.95],
                        ];
                        c = petals[(h % 4) as usize];
                    }
                }
            }
        }
        [c[0] + grain, c[1] + grain, c[2] + grain]
    }

    /// Draws the subject, if any, over `c`.
    fn subject(&self, c: [f32; 3], fx: f32, fy: f32, raw_x: f32, texture: f32) -> [f32; 3] {
        let Some(subject) = self.scene.subject else {
            return c;
        };
        // The subject itself is not mirrored with the scene, but it is centred when mirrored.
        let x = if self.mirror > 0.0 { raw_x } else { fx };
        let size = 0.3;
        let base = (self.horizon + 0.22).min(0.95);
        let dx = (x - self.subject_x) * self.aspect / size;
        let dy = (fy - base) / size;
        let ellipse = |cx: f32, cy: f32, rx: f32, ry: f32| {
            ((dx - cx) / rx).powi(2) + ((dy - cy) / ry).powi(2)
        };
        let d = match subject.shape {
            Shape::Creature => ellipse(0.0, -0.42, 0.42, 0.2)
                .min(ellipse(0.38, -0.65, 0.15, 0.14))
                .min(ellipse(0.33, -0.8, 0.05, 0.09))
                .min(ellipse(0.44, -0.8, 0.05, 0.09))
                .min(ellipse(-0.25, -0.18, 0.05, 0.22))
                .min(ellipse(0.25, -0.18, 0.05, 0.22))
                .min(ellipse(-0.48, -0.5, 0.14, 0.05)),
            Shape::Tower => ellipse(0.0, -0.55, 0.16, 0.55).min(ellipse(0.0, -1.08, 0.13, 0.13)),
            Shape::Round => ellipse(0.0, -0.55, 0.4, 0.4).min(ellipse(0.0, -0.1, 0.05, 0.15)),
        };
        let edge = 1.0 - smoothstep(0.85, 1.0, d);
        if edge <= 0.0 {
            // A soft shadow on the ground below the subject.
            let shadow = (-(dx * dx * 4.0 + (dy * 14.0).powi(2))).exp() * 0.35;
            return scale3(c, 1.0 - shadow);
        }
        let light = 0.8 + 0.35 * (-dx * 0.6 - dy * 0.3).clamp(-1.0, 1.0);
        let fur = (fbm(self.seed ^ 59, dx * 14.0, dy * 14.0, 3) - 0.5) * texture * 3.0;
        let body = scale3(subject.colour, light + fur);
        lerp3(c, body, edge)
    }

    /// Applies the knobs' colour grading to one pixel at (x, y).
    fn grade(&self, c: [f32; 3], g: &Grade, x: f32, y: f32) -> [f32; 3] {
        let mut lum = luma(c).clamp(0.0, 1.0);
        let (mut u, mut v) = (c[2] - luma(c), c[0] - luma(c));
        if g.harmony > 0.0 {
            let theta = v.atan2(u);
            let mut delta = self.key_hue - theta;
            delta = (delta + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU)
                - std::f32::consts::PI;
            // Toward the key hue or its complement, whichever is nearer.
            if delta.abs() > std::f32::consts::FRAC_PI_2 {
                delta -= std::f32::consts::PI * delta.signum();
            }
            let (s, k) = (delta * 0.85 * g.harmony).sin_cos();
            (u, v) = (u * k - v * s, u * s + v * k);
        } else if g.harmony < 0.0 {
            let turn = (noise(self.seed ^ 61, x * 3.0 * self.aspect, y * 3.0) - 0.5)
                * std::f32::consts::TAU
                * 0.6
                * -g.harmony;
            let (s, k) = turn.sin_cos();
            (u, v) = (u * k - v * s, u * s + v * k);
        }
        let sat = 1.0 + 0.9 * g.saturation;
        u *= sat;
        v *= sat;
        u -= 0.09 * g.warmth;
        v += 0.09 * g.warmth;
        lum = 0.5 + (lum - 0.5) * (1.0 + 0.7 * g.contrast);
        lum = lum.clamp(0.0, 1.0).powf((-0.9 * g.brightness).exp());
        let r2 = ((x - 0.5) * 2.0).powi(2) * 0.5 + ((y - 0.5) * 2.0).powi(2) * 0.5;
        if g.vignette > 0.0 {
            let k = 1.0 - g.vignette * 0.75 * r2;
            lum *= k.max(0.0);
            u *= k.max(0.0);
            v *= k.max(0.0);
        } else {
            lum += -g.vignette * 0.45 * r2 * (1.0 - lum);
        }
        from_luma_chroma(lum, u, v)
    }
}

/// In-place box blur of radius `r` (horizontal then vertical), with clamped edges.
fn box_blur(pixels: &mut [[f32; 3]], w: usize, h: usize, r: usize) {
    let mut line = vec![[0f32; 3]; w.max(h)];
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut pass = |get: &dyn Fn(usize) -> usize, n: usize, pixels: &mut [[f32; 3]]| {
        let mut sum = [0f32; 3];
        for k in 0..=2 * r {
            let i = k.saturating_sub(r).min(n - 1);
            let p = pixels[get(i)];
            for c in 0..3 {
                sum[c] += p[c];
            }
        }
        for i in 0..n {
            line[i] = sum.map(|s| s * norm);
            let out = pixels[get((i + r + 1).min(n - 1))];
            let gone = pixels[get(i.saturating_sub(r))];
            for c in 0..3 {
                sum[c] += out[c] - gone[c];
            }
        }
        for i in 0..n {
            pixels[get(i)] = line[i];
        }
    };
    for y in 0..h {
        pass(&|i| y * w + i, w, pixels);
    }
    for x in 0..w {
        pass(&|i| i * w + x, h, pixels);
    }
}

/// `count` pictures of one prompt (seeds `seed`, `seed + 1`, …), rendered on up to two threads.
pub fn render_batch(
    prompt: &str,
    seed: u64,
    knobs: &[f32],
    width: u32,
    height: u32,
    count: u32,
) -> Vec<RgbImage> {
    let seeds: Vec<u64> = (0..count as u64).map(|i| seed.wrapping_add(i)).collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, seeds.len().max(1));
    let chunk = seeds.len().div_ceil(threads).max(1);
    let mut out: Vec<RgbImage> = Vec::with_capacity(seeds.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&s| render(prompt, s, knobs, width, height))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A panic while rendering is a bug in this file: pass it on unchanged.
            out.extend(
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_choose_the_scene() {
        let s = parse_scene("a husky in a desert at sunset");
        assert_eq!(s.sky, Sky::Sunset);
        assert_eq!(s.ground, Ground::Desert);
        assert!(!s.mountains);
        assert_eq!(s.subject.map(|s| s.shape), Some(Shape::Creature));
        let s = parse_scene("Snowy mountains at night");
        assert_eq!(
            (s.sky, s.ground, s.mountains),
            (Sky::Night, Ground::Snow, true)
        );
        assert!(s.subject.is_none());
        assert!(parse_scene("a zorblax by the sea").subject.is_some());
    }

    #[test]
    fn box_blur_keeps_flat_images_flat() {
        let mut p = vec![[0.5f32, 0.25, 1.0]; 20 * 10];
        box_blur(&mut p, 20, 10, 3);
        assert!(
            p.iter()
                .all(|c| (c[0] - 0.5).abs() < 1e-5 && (c[2] - 1.0).abs() < 1e-5)
        );
    }
}
