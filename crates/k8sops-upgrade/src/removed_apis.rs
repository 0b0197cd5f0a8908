//! (in progress) removed_apis
