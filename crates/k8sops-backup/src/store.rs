//! (in progress) store
