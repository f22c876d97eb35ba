//! Hygie's user interface: the public portal (and, later, the webmail), its server functions
//! and the domain types shared by the browser and the server.

// Release builds keep the full view types (debug builds erase them); the mailbox page nests deep.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod domain;
pub mod env;
pub mod error;
pub mod i18n;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::layout::Layout;
use crate::env::PageEnv;
use crate::i18n::I18n;
use crate::pages::account::{
    AccountPage, ActivationPage, AuthorizePage, DevicePage, ForgotPasswordPage, PhoneAppPage, PhoneEnrolPage,
    ResetPasswordPage, SignInPage, TermsAcceptPage, UnlockPage,
};
use crate::pages::directory::{DirectoryEntryPage, DirectoryPage};
use crate::pages::mail::{ComposePage, MailboxPage, ReadPage, ScheduledPage, SearchPage};
use crate::pages::portal::{Assistance, Configurations, Cookies, Faq, Home, Legal, NotFound, Terms, TermsVersion};

/// The whole HTML document, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let env = use_context::<PageEnv>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang=env.locale.code() data-theme=(env.theme != crate::env::Theme::Auto).then_some(env.theme.code())>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="referrer" content="no-referrer"/>
                <link rel="icon" href="/favicon.ico" sizes="any"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <meta name="theme-color" content="#0b5563"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body data-consent=env.consent.code() data-session=env.signed_in.then_some("1")>
                <App/>
            </body>
        </html>
    }
}

/// The translator of the current page.
pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or(I18n { locale: Default::default() })
}

pub fn use_page_env() -> PageEnv {
    use_context::<PageEnv>().unwrap_or_default()
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let env = use_context::<PageEnv>().unwrap_or_else(PageEnv::from_document);
    provide_context(env);
    provide_context(I18n { locale: env.locale });
    provide_context(crate::env::SignedIn(RwSignal::new(env.signed_in)));

    view! {
        <Stylesheet id="hygie" href="/pkg/hygie.css"/>
        <Title formatter=|title: String| format!("{title} — Hygie")/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=Home ssr=SsrMode::Async/>
                    <Route path=path!("/faq") view=Faq ssr=SsrMode::Async/>
                    <Route path=path!("/configurations") view=Configurations ssr=SsrMode::Async/>
                    <Route path=path!("/cgu") view=Terms ssr=SsrMode::Async/>
                    <Route path=path!("/cgu/:version") view=TermsVersion ssr=SsrMode::Async/>
                    <Route path=path!("/cookies") view=Cookies ssr=SsrMode::Async/>
                    <Route path=path!("/mentions-legales") view=Legal ssr=SsrMode::Async/>
                    <Route path=path!("/assistance") view=Assistance ssr=SsrMode::Async/>
                    <Route path=path!("/connexion") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie") view=MailboxPage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie/ecrire") view=ComposePage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie/programmes") view=ScheduledPage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie/recherche") view=SearchPage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie/message/:id") view=ReadPage ssr=SsrMode::Async/>
                    <Route path=path!("/messagerie/:folder") view=MailboxPage ssr=SsrMode::Async/>
                    <Route path=path!("/annuaire") view=DirectoryPage ssr=SsrMode::Async/>
                    <Route path=path!("/annuaire/fiche/:key") view=DirectoryEntryPage ssr=SsrMode::Async/>
                    <Route path=path!("/compte") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/compte/cgu") view=TermsAcceptPage ssr=SsrMode::Async/>
                    <Route path=path!("/activation/:token") view=ActivationPage ssr=SsrMode::Async/>
                    <Route path=path!("/mot-de-passe-oublie") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reinitialisation/:token") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/deverrouillage/:token") view=UnlockPage ssr=SsrMode::Async/>
                    <Route path=path!("/telephone") view=PhoneAppPage ssr=SsrMode::Async/>
                    <Route path=path!("/appareil") view=DevicePage ssr=SsrMode::Async/>
                    <Route path=path!("/autoriser") view=AuthorizePage ssr=SsrMode::Async/>
                    <Route path=path!("/telephone/:token") view=PhoneEnrolPage ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}

/// Percent-encodes a path for use as a query value (`retour=/cgu/1.0`).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
