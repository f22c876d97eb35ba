use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_terms, TermsView};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

/// The terms in force.
#[component]
pub fn Terms() -> impl IntoView {
    view! { <TermsPage version=Signal::derive(|| None)/> }
}

/// An earlier (or the current) version, by number: `/cgu/1.0`.
#[component]
pub fn TermsVersion() -> impl IntoView {
    let params = use_params_map();
    view! { <TermsPage version=Signal::derive(move || params.read().get("version"))/> }
}

#[component]
fn TermsPage(version: Signal<Option<String>>) -> impl IntoView {
    let t = use_i18n();
    let terms = Resource::new(move || version.get(), get_terms);
    view! {
        <Title text=t.t(Msg::TermsTitle)/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match terms.await {
                    Ok(view) => view! { <TermsDocument view/> }.into_any(),
                    Err(AppError::NotFound) => view! {
                        <h1>{t.t(Msg::TermsTitle)}</h1>
                        <p class="notice notice-error" role="alert">{t.t(Msg::TermsNotFound)}</p>
                        <p><a href="/cgu">{t.t(Msg::TermsReadCurrent)}</a></p>
                    }.into_any(),
                    Err(error) => view! {
                        <h1>{t.t(Msg::TermsTitle)}</h1>
                        <ErrorNotice error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TermsDocument(view: TermsView) -> impl IntoView {
    let t = use_i18n();
    let is_current = view.version == view.current;
    let version_line =
        t.fmt(Msg::TermsVersionLine, &[("version", &view.version), ("date", &t.locale.long_date(&view.date))]);
    let old_notice = (!is_current).then(|| {
        let text = t.fmt(Msg::TermsOldNotice, &[("version", &view.current)]);
        view! {
            <div class="notice notice-warning" role="note">
                <p>{text}" "<a href="/cgu">{t.t(Msg::TermsReadCurrent)}</a></p>
            </div>
        }
    });
    let current = view.current.clone();
    let shown = view.version.clone();
    let history = view
        .versions
        .iter()
        .map(|v| {
            let label =
                t.fmt(Msg::TermsHistoryItem, &[("version", &v.version), ("date", &t.locale.long_date(&v.date))]);
            let href = format!("/cgu/{}", v.version);
            let mark = (v.version == current).then(|| format!(" {}", t.t(Msg::TermsCurrentMark)));
            let here = (v.version == shown).then_some("page");
            view! { <li><a href=href aria-current=here>{label}</a>{mark}</li> }
        })
        .collect_view();
    view! {
        <h1>{view.title.clone()}</h1>
        <p class="lead">{version_line}</p>
        {old_notice}
        <p class="hint" lang="fr">{t.t(Msg::TermsAuthoritative)}</p>
        <div class="terms-layout">
            <article class="prose" lang="fr" inner_html=view.html.clone()></article>
            <aside class="terms-history" aria-labelledby="terms-history-title">
                <h2 id="terms-history-title">{t.t(Msg::TermsHistory)}</h2>
                <ul>{history}</ul>
            </aside>
        </div>
    }
}
