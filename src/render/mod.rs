//! Pixels: the built-in renderer, the style descriptor, Stable Diffusion backends, image files.
//!
//! The only layer that touches pixels or image backends. It arrives with its own issue; until
//! then this module holds nothing.
