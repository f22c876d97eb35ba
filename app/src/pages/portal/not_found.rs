use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::Msg;
use crate::use_i18n;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    let t = use_i18n();
    view! {
        <Title text=t.t(Msg::NotFoundTitle)/>
        <h1>{t.t(Msg::NotFoundTitle)}</h1>
        <p>{t.t(Msg::NotFoundText)}</p>
        <p><a href="/">{t.t(Msg::NotFoundBack)}</a></p>
    }
}
