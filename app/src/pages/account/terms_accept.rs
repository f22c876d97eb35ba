use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_navigate;

use crate::api::{get_terms, terms_pending, AcceptTerms, SignOut};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

/// `/compte/cgu`: the terms in force, to accept before anything else.
#[component]
pub fn TermsAcceptPage() -> impl IntoView {
    let t = use_i18n();
    let state = Resource::new(|| (), |_| async move { (terms_pending().await, get_terms(None).await) });
    view! {
        <Title text=t.t(Msg::TermsAcceptTitle)/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match state.await {
                    (Ok(false), _) => view! { <Redirect path="/messagerie"/> }.into_any(),
                    (Err(AppError::Unauthorized), _) => view! { <Redirect path="/connexion"/> }.into_any(),
                    (Ok(true), Ok(terms)) => view! { <AcceptForm terms/> }.into_any(),
                    (Ok(true), Err(error)) | (Err(error), _) => view! {
                        <h1>{t.t(Msg::TermsAcceptTitle)}</h1>
                        <ErrorNotice error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AcceptForm(terms: crate::api::TermsView) -> impl IntoView {
    let t = use_i18n();
    let accept = ServerAction::<AcceptTerms>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let session = use_context::<crate::env::SignedIn>();
    let navigate = use_navigate();
    let nav2 = navigate.clone();
    // Accepted: on to the page the sign-in was for (the consent a mail client asked for), or
    // to the mailbox.
    let suite = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("suite").unwrap_or_default());
    Effect::new(move |_| {
        if let Some(Ok(())) = accept.value().get() {
            let to = if super::signin::safe_return(&suite) { suite.as_str() } else { "/messagerie" };
            super::signin::go_after_sign_in(to, &navigate);
        }
    });
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            if let Some(crate::env::SignedIn(s)) = session {
                s.set(false);
            }
            nav2("/connexion", Default::default());
        }
    });
    let version = terms.version.clone();
    let intro = t.fmt(Msg::TermsAcceptIntro, &[("version", &terms.version)]);
    view! {
        <h1>{t.t(Msg::TermsAcceptTitle)}</h1>
        <p class="lead">{intro}</p>
        <p class="hint" lang="fr">{t.t(Msg::TermsAuthoritative)}</p>
        <article class="prose terms-scroll" lang="fr" tabindex="0" aria-label=terms.title.clone() inner_html=terms.html></article>
        {move || accept.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        <div class="button-row">
            <button type="button" class="button button-primary" disabled=move || accept.pending().get()
                on:click=move |_| { accept.dispatch(AcceptTerms { version: version.clone() }); }>
                {t.t(Msg::TermsAcceptButton)}
            </button>
            <button type="button" class="button" on:click=move |_| { sign_out.dispatch(SignOut {}); }>
                {t.t(Msg::TermsRefuse)}
            </button>
        </div>
    }
}
