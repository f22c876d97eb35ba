pub mod account;
pub mod mail;
pub mod portal;
