//! Server functions, one file per area. Each body is a few lines: authenticate, parse, call
//! core, map to a view type.

pub mod portal;

pub use portal::*;
