//! The prompt corpus (`tests/data/prompt_corpus.txt`): every case parses to exactly the
//! expected jobs or error, and every canonical text parses back to the same request.

use tastebud::prompt::{Limits, parse};

const CORPUS: &str = include_str!("data/prompt_corpus.txt");

#[derive(Debug)]
struct Case {
    line: usize,
    prompt: String,
    limits: Limits,
    expected: Result<Vec<String>, String>,
}

fn limits_from(directive: &str) -> Limits {
    let mut limits = Limits::default();
    if directive.trim() == "default" {
        return limits;
    }
    // `versions=7|niji 6` holds a space: a value runs up to the next ` key=`.
    let mut rest = directive.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("corpus: @limits key=value");
        let (value, next) = match after
            .find(" max_jobs=")
            .or_else(|| after.find(" versions="))
        {
            Some(i) => (&after[..i], after[i + 1..].trim()),
            None => (after, ""),
        };
        match key.trim() {
            "max_jobs" => limits.max_jobs = value.parse().expect("corpus: max_jobs"),
            "versions" => {
                let versions: Vec<&str> = value.split('|').collect();
                limits = Limits::new(limits.max_jobs, &versions);
            }
            other => panic!("corpus: unknown limit {other}"),
        }
        rest = next;
    }
    limits
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut limits = Limits::default();
    for (i, line) in CORPUS.lines().enumerate() {
        let line_no = i + 1;
        if let Some(d) = line.strip_prefix("@limits ") {
            limits = limits_from(d);
        } else if let Some(p) =
            line.strip_prefix("> ")
                .or(if line == ">" { Some("") } else { None })
        {
            cases.push(Case {
                line: line_no,
                prompt: p.to_string(),
                limits: limits.clone(),
                expected: Ok(Vec::new()),
            });
        } else if let Some(c) = line.strip_prefix("= ") {
            let case = cases.last_mut().expect("corpus: '=' before any '>'");
            match &mut case.expected {
                Ok(jobs) => jobs.push(c.to_string()),
                Err(_) => panic!("corpus line {line_no}: '=' after '!'"),
            }
        } else if let Some(e) = line.strip_prefix("! ") {
            let case = cases.last_mut().expect("corpus: '!' before any '>'");
            assert!(
                matches!(&case.expected, Ok(j) if j.is_empty()),
                "corpus line {line_no}: '!' must be the only result"
            );
            case.expected = Err(e.to_string());
        } else {
            assert!(
                line.trim().is_empty() || line.starts_with('#'),
                "corpus line {line_no} not understood: {line:?}"
            );
        }
    }
    for c in &cases {
        assert!(
            !matches!(&c.expected, Ok(j) if j.is_empty()),
            "corpus line {}: case without a result",
            c.line
        );
    }
    cases
}

#[test]
fn corpus_has_at_least_120_prompts() {
    let cases = cases();
    assert!(cases.len() >= 120, "only {} cases", cases.len());
    let errors = cases.iter().filter(|c| c.expected.is_err()).count();
    assert!(errors >= 40, "only {errors} error cases");
}

#[test]
fn every_corpus_prompt_gives_its_expected_result() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = parse(&case.prompt, &case.limits)
            .map(|p| p.prompts.iter().map(|p| p.canonical()).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
        if got != case.expected {
            failures.push(format!(
                "line {}: {:?}\n  expected {:?}\n  got      {:?}",
                case.line, case.prompt, case.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_corpus_canonical_text_parses_back_to_the_same_request() {
    for case in cases() {
        let Ok(parsed) = parse(&case.prompt, &case.limits) else {
            continue;
        };
        for prompt in &parsed.prompts {
            let text = prompt.canonical();
            let again = parse(&text, &case.limits)
                .unwrap_or_else(|e| panic!("line {}: {text:?} fails: {e}", case.line));
            assert_eq!(
                again.prompts,
                vec![prompt.clone()],
                "line {}: {text:?}",
                case.line
            );
        }
    }
}

/// Issue #20: three prompts from a public Midjourney-prompt corpus that `/imagine` refused
/// (`--video`, `--cref`/`--cw`, `--sv`), with the job counts a Midjourney user expects at
/// Midjourney's largest job cap. The same prompts are in the corpus with their canonical text.
#[test]
fn the_issue_20_prompts_make_the_jobs_midjourney_makes() {
    let limits = Limits {
        max_jobs: 40,
        ..Limits::default()
    };
    let cases = [
        (
            "A botanical sketch of fern fronds --video --version {5.2, 6} --ar {1:1, 16:9} \
             --chaos 30",
            4,
        ),
        (
            "A portrait of a melancholic robot butler --cref \
             <https://example.com/classic-butler.png> --cw {0, 50, 100} --sref \
             <https://example.com/sad-painting.jpg> --sw {100, 800}",
            6,
        ),
        (
            "Imagine a {1400s, 1990s} cat --sref <https://example.com/medieval-tapestry.jpg> \
             --sv {1, 4} --ar 5:4",
            4,
        ),
    ];
    for (text, jobs) in cases {
        let parsed = parse(text, &limits).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(parsed.job_count(), jobs, "{text:?}");
        assert!(
            CORPUS.lines().any(|l| l.strip_prefix("> ") == Some(text)),
            "{text:?} is in the corpus file too"
        );
    }
    // At the shipped cap (4) the six-job prompt is refused, not cut short.
    let six = cases[1].0;
    assert_eq!(
        parse(six, &Limits::default()).map(|p| p.job_count()),
        Err(tastebud::prompt::PromptError::TooManyJobs {
            jobs: 6,
            detail: "from permutations alone".into(),
            max: 4
        })
    );
}
