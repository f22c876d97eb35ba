//! The holder's side: signing in, the terms to accept, the account page, and the pages reached
//! from links in emails (activation, reset, unlock).

mod authorize;
mod clients;
mod device;
mod links;
mod phone;
mod settings;
mod signin;
mod terminals;
mod terms_accept;

pub use authorize::AuthorizePage;
pub use device::DevicePage;
pub use links::{ActivationPage, ForgotPasswordPage, ResetPasswordPage, UnlockPage};
pub use phone::{PhoneAppPage, PhoneEnrolPage};
pub use settings::AccountPage;
pub use signin::SignInPage;
pub use terms_accept::TermsAcceptPage;
