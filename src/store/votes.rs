//! Pairs, votes and likes.
pub enum VoteOutcome {}
