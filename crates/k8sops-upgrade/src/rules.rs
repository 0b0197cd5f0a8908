//! (in progress) rules
