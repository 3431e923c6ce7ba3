//! Image files and images from users: content-addressed PNGs, grids and pair images
//! ([`files`]), and the checks every uploaded or fetched image passes before it is decoded
//! ([`upload`]).

pub mod files;
pub mod upload;
