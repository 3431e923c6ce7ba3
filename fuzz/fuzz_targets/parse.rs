//! Fuzz target: any UTF-8 text either fails to parse with an error, or parses to jobs whose
//! canonical text parses back to exactly the same request. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tastebud::prompt::{Limits, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::new(40, &["8", "niji 7"]);
    let Ok(parsed) = parse(text, &limits) else {
        return;
    };
    for prompt in &parsed.prompts {
        let canonical = prompt.canonical();
        match parse(&canonical, &limits) {
            Ok(again) => assert_eq!(
                again.prompts,
                vec![prompt.clone()],
                "{text:?} -> {canonical:?}"
            ),
            Err(e) => panic!("canonical text {canonical:?} of {text:?} does not parse: {e}"),
        }
    }
});
