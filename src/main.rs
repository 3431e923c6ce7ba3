//! The `tastebud` command line.
//!
//! For now only `tastebud parse "PROMPT"`; the full clap CLI replaces this dispatch.

use std::process::ExitCode;

use tastebud::config::Config;
use tastebud::prompt::{Limits, parse_report};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, prompt] if cmd == "parse" => parse_command(prompt),
        _ => {
            eprintln!("usage: tastebud parse \"PROMPT\"");
            ExitCode::from(2)
        }
    }
}

/// `tastebud parse "PROMPT"`: the prompt as JSON (exit 0), or why it is refused (exit 2).
fn parse_command(prompt: &str) -> ExitCode {
    let limits = match Config::load(None) {
        Ok(config) => Limits::from_config(&config),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match parse_report(prompt, &limits) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}
