//! tastebud: Midjourney-style personalization for any image generator.
//!
//! The layers, from the bottom up (see `DESIGN.md` for the whole picture):
//! - [`prompt`] and [`taste`] are pure logic: no I/O, no clock, no hidden randomness;
//! - [`render`] is the only place that touches pixels or image backends;
//! - [`store`] is the only place with SQL;
//! - [`service`] composes them, one async method per user action;
//! - [`discord`], the command line (`main.rs`, its logic in [`cli`]) and [`eval`] are frontends
//!   over the service;
//! - [`logging`] is how all of them log, with secrets redacted.

pub mod cli;
pub mod config;
pub mod discord;
pub mod domain;
pub mod eval;
pub mod fetch;
pub mod logging;
pub mod prompt;
pub mod render;
pub mod service;
pub mod store;
pub mod taste;
