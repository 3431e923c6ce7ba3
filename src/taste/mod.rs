//! Learning taste from votes and applying it: the pair model, pair selection, codes.
//!
//! Pure code: no I/O, no async, no clock, no randomness that is not passed in. The learning
//! model arrives with its own issue; until then this module holds nothing.

pub mod steer;
