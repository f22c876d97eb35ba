//! The page frame: skip link, header with navigation and language switch, cookie banner, footer.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::env::{is_portal_path, Consent, SignedIn};
use crate::i18n::Msg;
use crate::{encode_query_value, use_i18n, use_page_env};

const NAV: &[(&str, Msg)] = &[
    ("/", Msg::NavHome),
    ("/faq", Msg::NavFaq),
    ("/configurations", Msg::NavConfigs),
    ("/cgu", Msg::NavTerms),
    ("/assistance", Msg::NavAssistance),
];

const FOOTER: &[(&str, Msg)] = &[
    ("/cgu", Msg::NavTerms),
    ("/cookies", Msg::NavCookies),
    ("/mentions-legales", Msg::NavLegal),
    ("/configurations", Msg::NavConfigs),
    ("/assistance", Msg::NavAssistance),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let t = use_i18n();
    let env = use_page_env();
    let location = use_location();
    let here = move || {
        let path = location.pathname.get();
        encode_query_value(&path)
    };
    let other = t.locale.other();
    let switch_href = move || format!("/langue/{}?retour={}", other.code(), here());
    let show_banner = move || {
        let path = location.pathname.get();
        env.consent == Consent::Unknown && path != "/cookies" && is_portal_path(&path)
    };
    let signed_in = use_context::<SignedIn>().map(|s| s.0).unwrap_or_else(|| RwSignal::new(false));

    view! {
        <a class="skip-link" href="#contenu">{t.t(Msg::SkipToContent)}</a>
        <header class="site-header">
            <div class="header-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"H"</span>
                    <span class="brand-text">
                        <span class="brand-name">{t.t(Msg::SiteName)}</span>
                        <span class="brand-tagline">{t.t(Msg::Tagline)}</span>
                    </span>
                </a>
                {move || if signed_in.get() {
                    view! {
                        <a class="signin-link" href="/messagerie">{t.t(Msg::NavMail)}</a>
                        <a class="account-link" href="/compte">{t.t(Msg::NavAccount)}</a>
                    }.into_any()
                } else {
                    view! { <a class="signin-link" href="/connexion">{t.t(Msg::NavSignIn)}</a> }.into_any()
                }}
                <a class="lang-switch" href=switch_href rel="external" lang=other.code() hreflang=other.code()
                    aria-label=t.t(Msg::LangSwitchLabel)>
                    {t.t(Msg::LangSwitchText)}
                </a>
            </div>
            <nav class="main-nav" aria-label=t.t(Msg::NavLabel)>
                <ul>
                    {NAV.iter().map(|(href, label)| view! {
                        <li><A href=*href exact=true>{t.t(*label)}</A></li>
                    }).collect_view()}
                </ul>
            </nav>
        </header>
        <Show when=show_banner>
            <CookieBanner/>
        </Show>
        <main id="contenu" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <nav aria-label=t.t(Msg::FooterLabel)>
                <ul>
                    {FOOTER.iter().map(|(href, label)| view! {
                        <li><A href=*href exact=true>{t.t(*label)}</A></li>
                    }).collect_view()}
                </ul>
            </nav>
            <p>{t.t(Msg::FooterText)}</p>
        </footer>
    }
}

/// Asks for audience-measurement consent. Plain forms: they work with and without JavaScript.
#[component]
fn CookieBanner() -> impl IntoView {
    let t = use_i18n();
    let location = use_location();
    let back = move || location.pathname.get();
    view! {
        <section class="cookie-banner" aria-labelledby="cookie-banner-title">
            <h2 id="cookie-banner-title">{t.t(Msg::BannerLabel)}</h2>
            <p>{t.t(Msg::BannerText)}</p>
            <div class="button-row">
                <ConsentForm choice="accepter" label=t.t(Msg::BannerAccept) back=Signal::derive(back) primary=true/>
                <ConsentForm choice="refuser" label=t.t(Msg::BannerRefuse) back=Signal::derive(back) primary=false/>
                <a href="/cookies">{t.t(Msg::BannerMore)}</a>
            </div>
        </section>
    }
}

/// One consent button: POSTs the choice, the server sets the cookies and sends the visitor back.
#[component]
pub fn ConsentForm(choice: &'static str, label: &'static str, back: Signal<String>, primary: bool) -> impl IntoView {
    view! {
        <form method="post" action="/cookies/consentement" class="inline-form">
            <input type="hidden" name="choix" value=choice/>
            <input type="hidden" name="retour" value=back/>
            <button type="submit" class=if primary { "button button-primary" } else { "button" }>{label}</button>
        </form>
    }
}
