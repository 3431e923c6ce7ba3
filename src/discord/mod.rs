//! The Discord frontend: poise commands that turn interactions into service calls.
//!
//! Not built yet: `tastebud run` checks its configuration and database and explains what it
//! would need. No poise or serenity type may leave this module once it exists.
