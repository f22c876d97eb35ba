//! Hygie's integration tests, in one binary so the whole server is linked once: a real server
//! (HTTPS on port 0, a temporary SQLite or PostgreSQL database, a real SMTP server), the
//! `hygie` binary's operator commands, and the import of a registration authority's file.
//!
//! A test that runs on both database engines is one test per engine
//! (`signin::<name>::sqlite`, `signin::<name>::postgres`): a failure on one does not hide the
//! other's result. `cargo test -p server --test suite -- postgres` runs the PostgreSQL half.

mod common;

mod accounts_import;
mod api;
mod clients;
mod directory;
mod durability;
mod imap;
mod mail;
mod mss;
mod receipts;
mod signin;
mod smtp;
mod submission;
mod sync;
mod terminals;
mod webservices;
