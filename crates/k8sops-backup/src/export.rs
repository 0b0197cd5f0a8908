//! (in progress) export
