//! The webmail: folders and message list ([`list`]), search ([`search`]), reading ([`read`]),
//! writing ([`compose`]); the folder column beside every page ([`folders`]). What they share:
//! folder slugs and addresses, drag and drop, how an error reads.

mod compose;
pub(crate) mod folders;
mod list;
mod read;
mod scheduled;
mod search;

pub use compose::ComposePage;
pub use list::MailboxPage;
pub use read::ReadPage;
pub use scheduled::ScheduledPage;
pub use search::SearchPage;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::components::feedback::ErrorNotice;
use crate::error::AppError;
use crate::i18n::{I18n, Msg};

/// URL slugs of the standard folders, in French.
pub(super) const FOLDERS: &[(&str, &str, Msg)] = &[
    ("reception", "inbox", Msg::FolderInbox),
    ("envoyes", "sent", Msg::FolderSent),
    ("brouillons", "drafts", Msg::FolderDrafts),
    ("archives", "archive", Msg::FolderArchive),
    ("corbeille", "trash", Msg::FolderTrash),
];

pub(super) fn role_of(slug: &str) -> Option<&'static str> {
    FOLDERS.iter().find(|(s, _, _)| *s == slug).map(|(_, r, _)| *r)
}

pub(super) fn folder_entry(role: &str) -> (&'static str, Msg) {
    FOLDERS.iter().find(|(_, r, _)| *r == role).map(|(s, _, m)| (*s, *m)).unwrap_or(("reception", Msg::FolderInbox))
}

/// Where an authentication error leads, if it is one.
pub fn auth_redirect(e: &AppError) -> Option<AnyView> {
    match e {
        AppError::Unauthorized => Some(view! { <Redirect path="/connexion"/> }.into_any()),
        AppError::TermsPending => Some(view! { <Redirect path="/compte/cgu"/> }.into_any()),
        _ => None,
    }
}

pub(super) fn failure_view(t: I18n, error: AppError) -> AnyView {
    auth_redirect(&error).unwrap_or_else(|| view! { <h1>{t.t(Msg::NavMail)}</h1><ErrorNotice error/> }.into_any())
}

/// Where a folder's page is: `/messagerie/reception`… for the standard ones, `/messagerie/d12` for
/// one's own.
pub(super) fn folder_href(key: &str) -> String {
    match FOLDERS.iter().find(|(_, r, _)| *r == key) {
        Some((slug, _, _)) => format!("/messagerie/{slug}"),
        None => format!("/messagerie/{key}"),
    }
}

/// An error said in one sentence: a form's first field problem, or the error itself.
pub(super) fn sentence(t: I18n, e: &AppError) -> String {
    match e {
        AppError::Invalid(fields) if !fields.is_empty() => fields[0].problem.message(t),
        e => e.message(t),
    }
}

/// Whether a folder key names one of the holder's own folders (`d12`), not a standard one.
pub(super) fn is_own(key: &str) -> bool {
    key.len() > 1 && key.starts_with('d') && key[1..].bytes().all(|b| b.is_ascii_digit())
}

/// What a drop on a folder does to the messages dragged there.
pub(super) fn drop_action(key: &str) -> Option<String> {
    match key {
        "inbox" | "archive" | "trash" => Some(key.to_string()),
        k if is_own(k) => Some(format!("move:{k}")),
        _ => None,
    }
}

/// The ids carried by a drag from the message list (`hygie-ids:1,2,3`).
pub(super) fn dragged_ids(ev: &leptos::ev::DragEvent) -> Vec<i64> {
    ev.data_transfer()
        .and_then(|d| d.get_data("text/plain").ok())
        .and_then(|t| t.strip_prefix("hygie-ids:").map(str::to_owned))
        .map(|t| t.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

/// Bumped when one's folders change, for the pages that list them.
#[derive(Clone, Copy)]
pub(super) struct FolderChanges(RwSignal<usize>);
