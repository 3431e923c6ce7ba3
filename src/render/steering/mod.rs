//! Steering a backend with a taste: [`calibrate`] fits how knobs move style, [`personalize`]
//! renders candidate settings and keeps the pictures the taste likes best.

pub mod calibrate;
pub mod personalize;
