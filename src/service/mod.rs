//! The service: one async method per user action, called by every frontend.
