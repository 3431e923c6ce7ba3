//! Permutations: `a {red, green} bird` becomes `a red bird` and `a green bird`.
//!
//! This pass runs on the raw text before anything else, so braces work anywhere, parameters
//! included (`--ar {1:1, 16:9}`), and nest. Backslash escapes `\{`, `\}`, `\,` and `\\` give the
//! literal character everywhere; a backslash before anything else is kept as it is. The number
//! of expansions is counted before any is built, so a huge product costs nothing.

use super::error::PromptError;

/// How deep permutations may nest.
pub const MAX_DEPTH: usize = 8;

/// A piece of the prompt: literal text, or a choice between sequences.
#[derive(Debug)]
enum Node {
    Lit(String),
    Choice(Vec<Vec<Node>>),
}

/// Every expansion of `text`, or an error if braces are unbalanced, nest too deep, or the
/// expansions would number more than `max`.
pub fn expand(text: &str, max: u32) -> Result<Vec<String>, PromptError> {
    let mut chars = text.chars().peekable();
    let seq = parse_seq(&mut chars, 0)?;
    let count = count_seq(&seq);
    if count > u64::from(max) {
        return Err(PromptError::TooManyJobs {
            jobs: count,
            detail: "from permutations alone".into(),
            max,
        });
    }
    let mut out = vec![String::new()];
    expand_seq(&seq, &mut out);
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Parses a sequence up to the end of the text (depth 0) or up to the `,` or `}` that ends an
/// option (depth > 0), leaving that character unread.
fn parse_seq(chars: &mut Chars<'_>, depth: usize) -> Result<Vec<Node>, PromptError> {
    let mut seq = Vec::new();
    let mut lit = String::new();
    while let Some(&c) = chars.peek() {
        match c {
            '\\' => {
                chars.next();
                match chars.peek() {
                    Some(&e @ ('{' | '}' | ',' | '\\')) => {
                        chars.next();
                        lit.push(e);
                    }
                    _ => lit.push('\\'),
                }
            }
            '{' => {
                chars.next();
                if depth >= MAX_DEPTH {
                    return Err(PromptError::TooDeep(MAX_DEPTH));
                }
                if !lit.is_empty() {
                    seq.push(Node::Lit(std::mem::take(&mut lit)));
                }
                let mut options = Vec::new();
                loop {
                    let mut option = parse_seq(chars, depth + 1)?;
                    trim_option(&mut option);
                    options.push(option);
                    match chars.next() {
                        Some(',') => continue,
                        Some('}') => break,
                        _ => return Err(PromptError::UnclosedBrace),
                    }
                }
                seq.push(Node::Choice(options));
            }
            '}' if depth == 0 => return Err(PromptError::UnmatchedBrace),
            '}' | ',' if depth > 0 => break,
            _ => {
                chars.next();
                lit.push(c);
            }
        }
    }
    if !lit.is_empty() {
        seq.push(Node::Lit(lit));
    }
    Ok(seq)
}

fn count_seq(seq: &[Node]) -> u64 {
    seq.iter().fold(1u64, |acc, node| match node {
        Node::Lit(_) => acc,
        Node::Choice(options) => {
            let n = options
                .iter()
                .fold(0u64, |sum, o| sum.saturating_add(count_seq(o)));
            acc.saturating_mul(n)
        }
    })
}

/// Appends every expansion of `seq` to every string in `out` (a cartesian product).
fn expand_seq(seq: &[Node], out: &mut Vec<String>) {
    for node in seq {
        match node {
            Node::Lit(s) => out.iter_mut().for_each(|o| o.push_str(s)),
            Node::Choice(options) => {
                let prefixes = std::mem::take(out);
                for prefix in &prefixes {
                    for option in options {
                        let mut branch = vec![prefix.clone()];
                        expand_seq(option, &mut branch);
                        out.append(&mut branch);
                    }
                }
            }
        }
    }
}

/// Removes an option's surrounding whitespace: `{red, green}` offers "red" and "green".
fn trim_option(option: &mut [Node]) {
    if let Some(Node::Lit(s)) = option.first_mut() {
        *s = s.trim_start().to_string();
    }
    if let Some(Node::Lit(s)) = option.last_mut() {
        *s = s.trim_end().to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_braces_is_one_expansion_with_escapes_resolved() {
        assert_eq!(
            expand(r"a \{b\} c\, d \\ e \x", 4).unwrap(),
            vec![r"a {b} c, d \ e \x"]
        );
    }

    #[test]
    fn options_are_trimmed_and_ordered() {
        assert_eq!(
            expand("a {red, green} bird", 4).unwrap(),
            vec!["a red bird", "a green bird"]
        );
    }

    #[test]
    fn nested_and_escaped_commas() {
        assert_eq!(
            expand(r"{a {b, c}, d\, e}", 4).unwrap(),
            vec!["a b", "a c", "d, e"]
        );
    }

    #[test]
    fn product_over_the_cap_is_refused_with_its_size() {
        let err = expand("{a,b} {c,d,e}", 4).unwrap_err();
        assert!(matches!(
            err,
            PromptError::TooManyJobs {
                jobs: 6,
                max: 4,
                ..
            }
        ));
        let huge = "{a,b}".repeat(100);
        assert!(matches!(
            expand(&huge, 4),
            Err(PromptError::TooManyJobs { jobs: u64::MAX, .. })
        ));
    }

    #[test]
    fn unbalanced_and_too_deep() {
        assert_eq!(expand("a {b", 4), Err(PromptError::UnclosedBrace));
        assert_eq!(expand("a b}", 4), Err(PromptError::UnmatchedBrace));
        let deep = format!("{}x{}", "{".repeat(20), "}".repeat(20));
        assert_eq!(expand(&deep, 4), Err(PromptError::TooDeep(MAX_DEPTH)));
        let ok = format!("{}x{}", "{".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert_eq!(expand(&ok, 4).unwrap(), vec!["x"]);
    }
}
