//! Benchmarks for the style descriptor and the built-in renderer.
fn main() {}
