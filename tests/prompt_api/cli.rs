//! `tastebud parse "PROMPT"`: JSON and exit 0, or the error and exit 2.

use std::process::Command;

fn run(prompt: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tastebud"))
        .args(["parse", prompt])
        .output()
        .unwrap()
}

#[test]
fn a_good_prompt_prints_json_and_exits_0() {
    let out = run("a husky —ar 16:9 --s 250 --p");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jobs"], 1);
    assert_eq!(
        v["prompts"][0]["canonical"],
        "a husky --p --stylize 250 --ar 16:9"
    );
}

#[test]
fn a_bad_prompt_prints_the_error_and_exits_2() {
    let out = run("a husky --s 5000");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "--s 5000: stylize must be a whole number from 0 to 1000"
    );
}
