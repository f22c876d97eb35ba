pub mod account;
pub mod portal;
