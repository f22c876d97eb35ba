//! What the server decided about this page load (language, cookie consent), shared with the
//! browser through the document itself (`<html lang>`, `<body data-consent>`), so that both sides
//! render the same page.

use serde::{Deserialize, Serialize};

use crate::i18n::Locale;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Consent {
    #[default]
    Unknown,
    Accepted,
    Refused,
}

impl Consent {
    pub const COOKIE: &'static str = "hygie_consent";
    pub const AUDIENCE_COOKIE: &'static str = "hygie_audience";

    pub fn code(self) -> &'static str {
        match self {
            Consent::Unknown => "unknown",
            Consent::Accepted => "accepted",
            Consent::Refused => "refused",
        }
    }

    pub fn from_code(s: &str) -> Consent {
        match s {
            "accepted" => Consent::Accepted,
            "refused" => Consent::Refused,
            _ => Consent::Unknown,
        }
    }
}

/// Light or dark pages: the device's setting (the default), or the holder's choice (a cookie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub const COOKIE: &'static str = "hygie_theme";
    pub const ALL: [Theme; 3] = [Theme::Auto, Theme::Light, Theme::Dark];

    pub fn code(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn from_code(s: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.code() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageEnv {
    /// `<html data-theme>`: the holder's choice, else the device's.
    pub theme: Theme,
    pub locale: Locale,
    pub consent: Consent,
    /// The page was served to a signed-in person (`<body data-session>`): the header offers
    /// their mailbox and account rather than "sign in".
    pub signed_in: bool,
}

impl PageEnv {
    /// Reads a cookie value from a `Cookie` header.
    pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
        header.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    }

    /// From the request headers: language cookie, else `Accept-Language`; consent cookie.
    pub fn from_headers(cookie: Option<&str>, accept_language: Option<&str>) -> PageEnv {
        let cookie = cookie.unwrap_or("");
        let locale = Self::cookie(cookie, Locale::COOKIE)
            .and_then(Locale::from_code)
            .unwrap_or_else(|| Locale::negotiate(accept_language.unwrap_or("")));
        let consent = Self::cookie(cookie, Consent::COOKIE).map(Consent::from_code).unwrap_or_default();
        let theme = Self::cookie(cookie, Theme::COOKIE).and_then(Theme::from_code).unwrap_or_default();
        PageEnv { locale, consent, signed_in: false, theme }
    }

    /// In the browser: what the server wrote into the document.
    pub fn from_document() -> PageEnv {
        #[cfg(feature = "hydrate")]
        {
            let doc = web_sys::window().and_then(|w| w.document());
            let lang = doc
                .as_ref()
                .and_then(|d| d.document_element())
                .and_then(|e| e.get_attribute("lang"))
                .and_then(|l| Locale::from_code(&l))
                .unwrap_or_default();
            let consent = doc
                .as_ref()
                .and_then(|d| d.body())
                .and_then(|b| b.get_attribute("data-consent"))
                .map(|c| Consent::from_code(&c))
                .unwrap_or_default();
            let signed_in =
                doc.as_ref().and_then(|d| d.body()).is_some_and(|b| b.get_attribute("data-session").is_some());
            let theme = doc
                .as_ref()
                .and_then(|d| d.document_element())
                .and_then(|e| e.get_attribute("data-theme"))
                .and_then(|t| Theme::from_code(&t))
                .unwrap_or_default();
            PageEnv { locale: lang, consent, signed_in, theme }
        }
        #[cfg(not(feature = "hydrate"))]
        PageEnv::default()
    }
}

/// Is `path` a page of the public portal? Audience measurement (and so its consent banner)
/// concerns the portal only: nothing is counted in the mailbox, the directory or the account.
pub fn is_portal_path(path: &str) -> bool {
    !["/messagerie", "/annuaire", "/compte"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// Whether the person is signed in, as the header shows it (set on sign-in and sign-out).
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub leptos::prelude::RwSignal<bool>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_beats_accept_language() {
        let e = PageEnv::from_headers(Some("a=1; hygie_lang=en; hygie_consent=refused"), Some("fr-FR"));
        assert_eq!(e, PageEnv { locale: Locale::En, consent: Consent::Refused, signed_in: false, theme: Theme::Auto });
        let e = PageEnv::from_headers(None, Some("en-US,en;q=0.9"));
        assert_eq!(e, PageEnv { locale: Locale::En, consent: Consent::Unknown, signed_in: false, theme: Theme::Auto });
        let e = PageEnv::from_headers(Some("hygie_lang=de"), None);
        assert_eq!(e.locale, Locale::Fr);
    }

    #[test]
    fn the_portal_is_measured_not_the_mailbox() {
        for p in ["/", "/faq", "/cgu/1.0", "/connexion", "/assistance", "/messageries-securisees", "/comptes"] {
            assert!(is_portal_path(p), "{p}");
        }
        for p in ["/messagerie", "/messagerie/reception", "/annuaire/fiche/x", "/compte", "/compte/cgu"] {
            assert!(!is_portal_path(p), "{p}");
        }
    }
}
