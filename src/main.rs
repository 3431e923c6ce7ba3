//! The `tastebud` command line.
fn main() {}
