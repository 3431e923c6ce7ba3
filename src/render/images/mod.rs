//! Image files and images from users: content-addressed PNGs, grids and pair images
//! ([`files`]), where the files are kept ([`storage`]: a folder or object storage), and the
//! checks every uploaded or fetched image passes before it is decoded ([`upload`]).

pub mod files;
pub mod storage;
pub mod upload;
