//! (in progress) etcd_save
