//! (in progress) restore
