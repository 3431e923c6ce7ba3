//! The `/imagine` prompt language (`PROMPTS.md`): parsing, validation and canonical text.
//!
//! Pure code: no I/O, no database. The parser arrives with its own issue; until then this
//! module holds nothing.
