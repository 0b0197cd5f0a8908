//! (in progress) velero
