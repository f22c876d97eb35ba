pub mod account;
pub mod directory;
pub mod mail;
pub mod portal;
