//! (in progress) eks
