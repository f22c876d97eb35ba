//! Messages to the person: loading, errors.

use leptos::prelude::*;

use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

#[component]
pub fn Loading() -> impl IntoView {
    let t = use_i18n();
    view! { <p class="loading" role="status">{t.t(Msg::Loading)}</p> }
}

/// An error box for a failed load or action.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let t = use_i18n();
    let text = match &error {
        AppError::Internal { .. } => format!("{} {}", t.t(Msg::ErrorLoading), error.message(t)),
        _ => error.message(t),
    };
    view! { <div class="notice notice-error" role="alert"><p>{text}</p></div> }
}
