//! Search across every folder.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::mail_search;
use crate::components::feedback::Loading;
use crate::i18n::Msg;
use crate::use_i18n;

use super::failure_view;
use super::folders::FolderNav;
use super::list::message_row;

/// `/messagerie/recherche?q=`: messages of every folder matching the search.
#[component]
pub fn SearchPage() -> impl IntoView {
    let t = use_i18n();
    let query = use_query_map();
    let q = Signal::derive(move || query.read().get("q").unwrap_or_default());
    let results = Resource::new(move || q.get(), |q| mail_search(q));
    view! {
        <Title text=t.t(Msg::SearchTitle)/>
        <div class="mail-layout">
            <FolderNav current=Signal::derive(String::new)/>
            <section class="mail-main">
                <h1>{t.t(Msg::SearchTitle)}</h1>
                <p class="hint">{t.t(Msg::SearchHelp)}</p>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match results.await {
                            Ok(items) if items.is_empty() => view! { <p role="status">{t.t(Msg::SearchNothing)}</p> }.into_any(),
                            Ok(items) => view! {
                                <p role="status">{t.fmt(Msg::SearchCount, &[("count", &items.len().to_string())])}</p>
                                <ul class="message-list">
                                    {items.into_iter().map(|m| message_row(t, m, None, false, None)).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}
