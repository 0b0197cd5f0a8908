//! (in progress) snapshot
