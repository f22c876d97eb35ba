//! The public portal: one page per file.

mod assistance;
mod configurations;
mod cookies;
mod faq;
mod home;
mod legal;
mod not_found;
mod terms;

pub use assistance::Assistance;
pub use configurations::Configurations;
pub use cookies::Cookies;
pub use faq::Faq;
pub use home::Home;
pub use legal::Legal;
pub use not_found::NotFound;
pub use terms::{Terms, TermsVersion};
