//! The page frame: skip link, header with navigation and language switch, cookie banner, footer.
//! Signed in, the webmail's pages (`/messagerie`, `/annuaire`, `/compte`) get an application's
//! frame instead ([`AppBar`]): no portal navigation, the search, "Écrire", the account menu.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::components::icons::{icon, Icon};
use crate::env::{is_portal_path, Consent, SignedIn, Theme};
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
    // The webmail's pages, signed in: an application, not the portal.
    let app_mode = move || signed_in.get() && !is_portal_path(&location.pathname.get());
    provide_context(Drawer(RwSignal::new(false)));

    view! {
        <a class="skip-link" href="#contenu">{t.t(Msg::SkipToContent)}</a>
        {move || if app_mode() {
            view! { <AppBar switch_href=Signal::derive(switch_href)/> }.into_any()
        } else {
            view! {
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
            }.into_any()
        }}
        <Show when=show_banner>
            <CookieBanner/>
        </Show>
        <main id="contenu" tabindex="-1">
            {children()}
        </main>
        {move || if app_mode() {
            view! {
                <footer class="app-footer">
                    <nav aria-label=t.t(Msg::FooterLabel)>
                        <ul>
                            <li><a href="/">{t.t(Msg::PortalLink)}</a></li>
                            <li><a href="/cgu">{t.t(Msg::NavTerms)}</a></li>
                            <li><a href="/mentions-legales">{t.t(Msg::NavLegal)}</a></li>
                            <li><a href="/assistance">{t.t(Msg::NavAssistance)}</a></li>
                        </ul>
                    </nav>
                </footer>
            }.into_any()
        } else {
            view! {
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
            }.into_any()
        }}
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

/// Whether the folder drawer is open (phones); the app bar's button and the folder list share it.
#[derive(Clone, Copy)]
pub struct Drawer(pub RwSignal<bool>);

pub fn use_drawer() -> RwSignal<bool> {
    use_context::<Drawer>().map(|d| d.0).unwrap_or_else(|| RwSignal::new(false))
}

/// The webmail's top bar: folders (a drawer on a phone), the brand, the search, "Écrire", the
/// account menu and the language. One "Écrire" link: a button here, a floating one on a phone.
#[component]
fn AppBar(switch_href: Signal<String>) -> impl IntoView {
    let t = use_i18n();
    let env = use_page_env();
    let location = use_location();
    let other = t.locale.other();
    let drawer = use_drawer();
    // Only the mail pages have folders.
    let has_folders = move || location.pathname.get().starts_with("/messagerie");
    let query = leptos_router::hooks::use_query_map();
    let q = move || {
        if location.pathname.get() == "/messagerie/recherche" {
            query.read().get("q").unwrap_or_default()
        } else {
            String::new()
        }
    };
    let menu_ref = NodeRef::<leptos::html::Details>::new();
    // The account menu closes on Escape (focus back on its summary) and when a link is chosen.
    let close_menu = move |refocus: bool| {
        if let Some(d) = menu_ref.get_untracked() {
            if d.open() {
                d.set_open(false);
                if let Some(summary) = d.first_element_child().filter(|_| refocus) {
                    use wasm_bindgen::JsCast;
                    if let Ok(el) = summary.dyn_into::<web_sys::HtmlElement>() {
                        let _ = el.focus();
                    }
                }
            }
        }
    };
    // A page chosen from the menu: it closes.
    Effect::new(move |_| {
        location.pathname.track();
        close_menu(false);
    });
    view! {
        <header class="app-bar">
            <Show when=has_folders>
                <button type="button" class="icon-button drawer-toggle" aria-controls="mail-folders"
                    aria-expanded=move || drawer.get().to_string()
                    on:click=move |_| {
                        drawer.update(|o| *o = !*o);
                        // Opened: the focus goes into the drawer.
                        if drawer.get_untracked() {
                            crate::pages::mail::folders::keys::focus_later("#drawer-close");
                        }
                    }>
                    {icon(Icon::Menu)}
                    <span class="sr-only">{t.t(Msg::FoldersLabel)}</span>
                </button>
            </Show>
            <a class="app-brand" href="/messagerie">
                <span class="brand-mark" aria-hidden="true">"H"</span>
                <span class="app-brand-name">{t.t(Msg::SiteName)}</span>
                <span class="sr-only">" — "{t.t(Msg::NavMail)}</span>
            </a>
            <form class="app-search" role="search" aria-label=t.t(Msg::SearchLabel) method="get" action="/messagerie/recherche">
                <label for="mail-search-q" class="sr-only">{t.t(Msg::SearchLabel)}</label>
                <input type="search" id="mail-search-q" name="q" prop:value=q value=q placeholder=t.t(Msg::SearchButton)/>
                <button type="submit" class="icon-button">
                    {icon(Icon::Search)}
                    <span class="sr-only">{t.t(Msg::SearchButton)}</span>
                </button>
            </form>
            <a class="button button-primary compose-button" href="/messagerie/ecrire">
                {icon(Icon::Pen)}<span class="compose-text">{t.t(Msg::Write)}</span>
            </a>
            <details class="account-menu" node_ref=menu_ref
                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { close_menu(true) }>
                <summary class="icon-button">
                    {icon(Icon::User)}
                    <span class="sr-only">{t.t(Msg::AccountMenu)}</span>
                </summary>
                <ul class="menu-list">
                    <li><a href="/compte">{t.t(Msg::NavAccount)}</a></li>
                    <li><a href="/messagerie">{t.t(Msg::NavMail)}</a></li>
                    <li><a href="/annuaire">{t.t(Msg::NavDirectory)}</a></li>
                    <li><a href="/">{t.t(Msg::PortalLink)}</a></li>
                    <li><a href="/assistance">{t.t(Msg::NavAssistance)}</a></li>
                    {Theme::ALL.into_iter().map(|theme| {
                        let label = match theme {
                            Theme::Auto => Msg::ThemeSystem,
                            Theme::Light => Msg::ThemeLight,
                            Theme::Dark => Msg::ThemeDark,
                        };
                        let href = move || format!("/theme/{}?retour={}", theme.code(), encode_query_value(&location.pathname.get()));
                        view! {
                            <li><a href=href rel="external" class="theme-choice"
                                aria-current=(env.theme == theme).then_some("true")>
                                {t.t(Msg::ThemeLabel)}" : "{t.t(label)}
                            </a></li>
                        }
                    }).collect_view()}
                </ul>
            </details>
            <a class="app-lang" href=switch_href rel="external" lang=other.code() hreflang=other.code()
                aria-label=t.t(Msg::LangSwitchLabel)>
                {other.code().to_uppercase()}
            </a>
        </header>
    }
}
