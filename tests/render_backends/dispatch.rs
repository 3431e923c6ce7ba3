//! Several servers of one version behind the dispatcher (being written).
