//! Image records: pool images, generations and uploads. Files themselves live under `render`.
pub struct NewImage;
