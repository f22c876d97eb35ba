//! The webmail: folders and message list, reading, writing.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::{
    mail_folders, mail_list, mail_open, mail_search, mail_usage, FolderView, MailAct, MailAllowImages, MailEmptyTrash,
    MailFolderCreate, MailFolderDelete, MailFolderRename, MailSaveDraft, MailSend, MailSetFolding, MessageLine,
    MessageView,
};
use crate::components::attachments::{human_size, AttachmentsField, ForwardedFile, PendingFile};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::components::pdf_preview::PdfPreview;
use crate::components::recipients::RecipientField;
use crate::components::shortcuts::{use_shortcuts, ShortcutHelp};
use crate::domain::compose::{ComposeInput, SUBJECT_MAX};
use crate::domain::FieldError;
use crate::error::AppError;
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

/// URL slugs of the standard folders, in French.
const FOLDERS: &[(&str, &str, Msg)] = &[
    ("reception", "inbox", Msg::FolderInbox),
    ("envoyes", "sent", Msg::FolderSent),
    ("brouillons", "drafts", Msg::FolderDrafts),
    ("archives", "archive", Msg::FolderArchive),
    ("corbeille", "trash", Msg::FolderTrash),
];

fn role_of(slug: &str) -> Option<&'static str> {
    FOLDERS.iter().find(|(s, _, _)| *s == slug).map(|(_, r, _)| *r)
}

fn folder_entry(role: &str) -> (&'static str, Msg) {
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

fn failure_view(t: I18n, error: AppError) -> AnyView {
    auth_redirect(&error).unwrap_or_else(|| view! { <h1>{t.t(Msg::NavMail)}</h1><ErrorNotice error/> }.into_any())
}

/// Where a folder's page is: `/messagerie/reception`… for the standard ones, `/messagerie/d12` for
/// one's own.
fn folder_href(key: &str) -> String {
    match FOLDERS.iter().find(|(_, r, _)| *r == key) {
        Some((slug, _, _)) => format!("/messagerie/{slug}"),
        None => format!("/messagerie/{key}"),
    }
}

/// An error said in one sentence: a form's first field problem, or the error itself.
fn sentence(t: I18n, e: &AppError) -> String {
    match e {
        AppError::Invalid(fields) if !fields.is_empty() => fields[0].problem.message(t),
        e => e.message(t),
    }
}

/// Whether a folder key names one of the holder's own folders (`d12`), not a standard one.
fn is_own(key: &str) -> bool {
    key.len() > 1 && key.starts_with('d') && key[1..].bytes().all(|b| b.is_ascii_digit())
}

/// What a drop on a folder does to the messages dragged there.
fn drop_action(key: &str) -> Option<String> {
    match key {
        "inbox" | "archive" | "trash" => Some(key.to_string()),
        k if is_own(k) => Some(format!("move:{k}")),
        _ => None,
    }
}

/// The ids carried by a drag from the message list (`hygie-ids:1,2,3`).
fn dragged_ids(ev: &leptos::ev::DragEvent) -> Vec<i64> {
    ev.data_transfer()
        .and_then(|d| d.get_data("text/plain").ok())
        .and_then(|t| t.strip_prefix("hygie-ids:").map(str::to_owned))
        .map(|t| t.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

/// Bumped when one's folders change, for the pages that list them.
#[derive(Clone, Copy)]
struct FolderChanges(RwSignal<usize>);

/// The folder list beside every webmail page: the standard folders, one's own (nested), a form
/// for a new one, the quota in use. Messages dragged from the list drop onto a folder.
#[component]
fn FolderNav(current: Signal<String>) -> impl IntoView {
    let t = use_i18n();
    // The page's action on messages, when the page has a list (drops use it, counts follow it).
    let act = use_context::<ServerAction<MailAct>>();
    let create = ServerAction::<MailFolderCreate>::new();
    let renamed_or_deleted = use_context::<FolderChanges>();
    let changes = move || {
        act.map(|a| a.version().get()).unwrap_or(0)
            + create.version().get()
            + renamed_or_deleted.map(|FolderChanges(v)| v.get()).unwrap_or(0)
    };
    let folders = Resource::new(changes, |_| mail_folders());
    let usage = Resource::new(changes, |_| mail_usage());
    let new_name = RwSignal::new(String::new());
    let new_parent = RwSignal::new(String::from("0"));
    let create_error = move || match create.value().get() {
        Some(Err(e)) => Some(sentence(t, &e)),
        _ => None,
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            new_name.set(String::new());
            new_parent.set("0".into());
            if let Some(FolderChanges(v)) = renamed_or_deleted {
                v.update(|n| *n += 1);
            }
        }
    });
    let link = move |f: FolderView| {
        let label =
            if f.role == "custom" { f.name.clone() } else { folder_entry(&f.role).1.text(t.locale).to_string() };
        let key = f.key.clone();
        let here = {
            let key = key.clone();
            move || (current.get() == key).then_some("page")
        };
        let count = (f.unread > 0).then(|| {
            view! {
                <span class="count">{f.unread}<span class="sr-only">" "{t.t(Msg::UnreadCount)}</span></span>
            }
        });
        let target = drop_action(&key);
        let on_drop = move |ev: leptos::ev::DragEvent| {
            ev.prevent_default();
            let ids = dragged_ids(&ev);
            if let (Some(act), Some(action)) = (act, target.clone()) {
                if !ids.is_empty() {
                    act.dispatch(MailAct { action, ids });
                }
            }
        };
        let droppable = act.is_some() && drop_action(&key).is_some();
        view! {
            <a href=folder_href(&key) aria-current=here class:drop-target=droppable
                on:dragover=move |ev: leptos::ev::DragEvent| if droppable { ev.prevent_default() }
                on:drop=on_drop>{label}{count}</a>
        }
    };
    view! {
        <nav class="mail-folders" aria-label=t.t(Msg::FoldersLabel)>
            <a class="button button-primary" href="/messagerie/ecrire">{t.t(Msg::Write)}</a>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let list = folders.await.unwrap_or_default();
                    let standard: Vec<FolderView> = list.iter().filter(|f| f.role != "custom").cloned().collect();
                    let own: Vec<FolderView> = list.iter().filter(|f| f.role == "custom").cloned().collect();
                    fn tree(
                        own: &[FolderView],
                        parent: Option<i64>,
                        link: &(impl Fn(FolderView) -> AnyView + Clone),
                    ) -> Vec<AnyView> {
                        let mut level: Vec<&FolderView> = own.iter().filter(|f| f.parent == parent).collect();
                        level.sort_by_key(|f| f.name.to_lowercase());
                        level
                            .into_iter()
                            .map(|f| {
                                let children = tree(own, Some(f.id), link);
                                let sub = (!children.is_empty()).then(|| view! { <ul>{children}</ul> });
                                view! { <li>{link(f.clone())}{sub}</li> }.into_any()
                            })
                            .collect()
                    }
                    let link_any = move |f: FolderView| link(f).into_any();
                    let own_tree = tree(&own, None, &link_any);
                    let parents = own.clone();
                    view! {
                        <ul>
                            {standard.into_iter().map(|f| view! { <li>{link(f)}</li> }).collect_view()}
                        </ul>
                        {(!own_tree.is_empty()).then(|| view! {
                            <h2 class="folders-title">{t.t(Msg::MyFolders)}</h2>
                            <ul class="own-folders">{own_tree}</ul>
                        })}
                        <details class="folder-new">
                            <summary>{t.t(Msg::FolderNew)}</summary>
                            <form class="form" on:submit=move |ev: SubmitEvent| {
                                ev.prevent_default();
                                let parent = new_parent.get_untracked().parse().unwrap_or(0);
                                create.dispatch(MailFolderCreate { name: new_name.get_untracked(), parent });
                            }>
                                <label for="folder-new-name">{t.t(Msg::FolderName)}</label>
                                <input id="folder-new-name" type="text" maxlength="60" required
                                    aria-invalid=move || create_error().is_some().then_some("true")
                                    aria-describedby=move || create_error().is_some().then_some("folder-new-error")
                                    prop:value=move || new_name.get()
                                    on:input=move |ev| new_name.set(event_target_value(&ev))/>
                                <label for="folder-new-parent">{t.t(Msg::FolderParent)}</label>
                                <select id="folder-new-parent" on:change=move |ev| new_parent.set(event_target_value(&ev))>
                                    <option value="0" selected=move || new_parent.get() == "0">{t.t(Msg::FolderTop)}</option>
                                    {parents.into_iter().map(|f| {
                                        let value = f.id.to_string();
                                        let here = value.clone();
                                        view! { <option value=value selected=move || new_parent.get() == here>{f.name}</option> }
                                    }).collect_view()}
                                </select>
                                <p id="folder-new-error" class="error" role="alert">{create_error}</p>
                                <button type="submit" class="button">{t.t(Msg::FolderCreate)}</button>
                            </form>
                        </details>
                    }
                })}
            </Suspense>
            <a href="/annuaire">{t.t(Msg::NavDirectory)}</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    usage.await.ok().map(|u| {
                        let text = t.fmt(
                            Msg::QuotaUsed,
                            &[("used", &human_size(t, u.used_bytes)), ("quota", &human_size(t, u.quota_bytes))],
                        );
                        view! {
                            <p class="quota">
                                <span id="quota-label">{text}</span>
                                <meter min="0" max=u.quota_bytes value=u.used_bytes high=u.quota_bytes * 9 / 10
                                    aria-labelledby="quota-label"></meter>
                            </p>
                        }
                    })
                })}
            </Suspense>
        </nav>
    }
}

/// `/messagerie` and `/messagerie/:folder`: one page of a folder, newest first.
#[component]
pub fn MailboxPage() -> impl IntoView {
    let t = use_i18n();
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("folder").unwrap_or_else(|| "reception".into());
    // A standard folder's role, or `d<ID>` for one's own folder.
    let role = Signal::derive(move || {
        let slug = slug();
        match role_of(&slug) {
            Some(role) => role.to_string(),
            None if is_own(&slug) => slug,
            None => "unknown".to_string(),
        }
    });
    let page = Signal::derive(move || query.read().get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(0));
    let sent_notice = move || query.read().get("envoye").is_some();
    let act = ServerAction::<MailAct>::new();
    // The folder list drops dragged messages through this same action.
    provide_context(act);
    let empty = ServerAction::<MailEmptyTrash>::new();
    let folding = ServerAction::<MailSetFolding>::new();
    let rename = ServerAction::<MailFolderRename>::new();
    let remove = ServerAction::<MailFolderDelete>::new();
    let refresh = RwSignal::new(0usize);
    let list = Resource::new(
        move || {
            (
                role.get(),
                page.get(),
                act.version().get()
                    + empty.version().get()
                    + rename.version().get()
                    + folding.version().get()
                    + refresh.get(),
            )
        },
        |(r, p, _)| mail_list(r, p),
    );
    let folder_changes = RwSignal::new(0usize);
    provide_context(FolderChanges(folder_changes));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = remove.value().get() {
            folder_changes.update(|n| *n += 1);
            navigate("/messagerie/corbeille", Default::default());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = rename.value().get() {
            folder_changes.update(|n| *n += 1);
        }
    });
    let move_target = RwSignal::new(String::new());
    let help = RwSignal::new(false);
    let new_mail = RwSignal::new(false);
    // New mail shows without a reload: the newest message's id is checked every 10 seconds.
    #[cfg(feature = "hydrate")]
    {
        let last = StoredValue::new(None::<i64>);
        let poll = move || {
            leptos::task::spawn_local(async move {
                let Ok(n) = crate::api::mail_newest().await else { return };
                match last.try_get_value().flatten() {
                    Some(prev) if prev != n => {
                        last.try_set_value(Some(n));
                        refresh.try_update(|v| *v += 1);
                        folder_changes.try_update(|v| *v += 1);
                        if n > prev {
                            new_mail.try_set(true);
                        }
                    }
                    None => {
                        last.try_set_value(Some(n));
                    }
                    _ => {}
                }
            });
        };
        poll();
        let timer = set_interval_with_handle(poll, std::time::Duration::from_secs(10)).ok();
        on_cleanup(move || {
            if let Some(timer) = timer {
                timer.clear();
            }
        });
    }
    let move_folders = Resource::new(move || (act.version().get(), folder_changes.get()), |_| mail_folders());
    let selected = RwSignal::new(Vec::<i64>::new());
    let run = move |action: &'static str| {
        let ids = selected.get_untracked();
        if !ids.is_empty() {
            act.dispatch(MailAct { action: action.into(), ids });
            selected.set(Vec::new());
        }
    };
    let go = use_navigate();
    use_shortcuts(help, move |key| match key {
        "c" => go("/messagerie/ecrire", Default::default()),
        "/" => keys::focus_id("mail-search-q"),
        "j" => keys::step_rows(1),
        "k" => keys::step_rows(-1),
        "x" => keys::toggle_row(),
        "e" => run("archive"),
        "#" => run("trash"),
        _ => {}
    });
    let done = move || {
        match act.value().get() {
        Some(Ok(n)) => Some(view! {
            <p class="notice notice-success" role="status">{t.fmt(Msg::MessagesChanged, &[("count", &n.to_string())])}</p>
        }.into_any()),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    }
    };
    view! {
        <Title text=t.t(Msg::NavMail)/>
        <div class="mail-layout">
            <FolderNav current=role/>
            <section class="mail-main">
                <SearchBox initial=String::new()/>
                <ShortcutHelp open=help/>
                <p class="sr-only" role="status">{move || new_mail.get().then(|| t.t(Msg::NewMailArrived))}</p>
                <Show when=sent_notice>
                    <p class="notice notice-success" role="status">{t.t(Msg::SentNotice)}</p>
                </Show>
                {done}
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(p) => {
                                let custom = is_own(&p.folder);
                                let (s, label) = folder_entry(&p.folder);
                                let s = if custom { p.folder.clone() } else { s.to_string() };
                                let title = if custom { p.name.clone() } else { t.t(label).to_string() };
                                let first = p.page * p.per_page;
                                let range = t.fmt(Msg::PageInfo, &[
                                    ("from", &(first + 1).min(p.total).to_string()),
                                    ("to", &(first + p.items.len() as i64).to_string()),
                                    ("total", &p.total.to_string()),
                                ]);
                                let newer = (p.page > 0).then(|| view! {
                                    <a href=format!("/messagerie/{s}?page={}", p.page - 1)>{t.t(Msg::NewerPage)}</a>
                                });
                                let older = (first + (p.items.len() as i64) < p.total).then(|| view! {
                                    <a href=format!("/messagerie/{s}?page={}", p.page + 1)>{t.t(Msg::OlderPage)}</a>
                                });
                                let folder_id: i64 = p.folder.trim_start_matches('d').parse().unwrap_or(0);
                                let manage = custom.then(|| {
                                    let name = RwSignal::new(p.name.clone());
                                    let confirming = RwSignal::new(false);
                                    let rename_error = move || match rename.value().get() {
                                        Some(Err(e)) => Some(sentence(t, &e)),
                                        _ => None,
                                    };
                                    view! {
                                        <div class="folder-manage button-row">
                                            <details>
                                                <summary>{t.t(Msg::FolderRename)}</summary>
                                                <form class="form" on:submit=move |ev: SubmitEvent| {
                                                    ev.prevent_default();
                                                    rename.dispatch(MailFolderRename { id: folder_id, name: name.get_untracked() });
                                                }>
                                                    <label for="folder-rename">{t.t(Msg::FolderName)}</label>
                                                    <input id="folder-rename" type="text" maxlength="60" required
                                                        prop:value=move || name.get()
                                                        on:input=move |ev| name.set(event_target_value(&ev))/>
                                                    <p class="error" role="alert">{rename_error}</p>
                                                    <button type="submit" class="button">{t.t(Msg::FolderRenameSave)}</button>
                                                </form>
                                            </details>
                                            {move || if confirming.get() {
                                                view! {
                                                    <button type="button" class="button button-danger"
                                                        on:click=move |_| { remove.dispatch(MailFolderDelete { id: folder_id }); }>
                                                        {t.t(Msg::FolderDeleteConfirm)}
                                                    </button>
                                                }.into_any()
                                            } else {
                                                view! {
                                                    <button type="button" class="button" on:click=move |_| confirming.set(true)>
                                                        {t.t(Msg::FolderDelete)}
                                                    </button>
                                                }.into_any()
                                            }}
                                        </div>
                                    }
                                });
                                let current_key = p.folder.clone();
                                let move_menu = move || {
                                    let current_key = current_key.clone();
                                    Suspend::new(async move {
                                        let targets: Vec<FolderView> = move_folders
                                            .await
                                            .unwrap_or_default()
                                            .into_iter()
                                            .filter(|f| f.key != current_key && !["sent", "drafts", "trash"].contains(&f.role.as_str()))
                                            .collect();
                                        view! {
                                            <label for="move-target" class="sr-only">{t.t(Msg::MoveTo)}</label>
                                            <select id="move-target" on:change=move |ev| move_target.set(event_target_value(&ev))>
                                                <option value="">{t.t(Msg::MoveTo)}"…"</option>
                                                {targets.into_iter().map(|f| {
                                                    let label = if f.role == "custom" { f.name.clone() } else { folder_entry(&f.role).1.text(t.locale).to_string() };
                                                    view! { <option value=f.key.clone()>{label}</option> }
                                                }).collect_view()}
                                            </select>
                                            <button type="button" class="button" on:click=move |_| {
                                                if let Some(action) = drop_action(&move_target.get_untracked()) {
                                                    let ids = selected.get_untracked();
                                                    if !ids.is_empty() {
                                                        act.dispatch(MailAct { action, ids });
                                                        selected.set(Vec::new());
                                                    }
                                                }
                                            }>{t.t(Msg::Move)}</button>
                                        }
                                    })
                                };
                                let in_trash = p.folder == "trash";
                                let drafts = p.folder == "drafts";
                                let toolbar = (!p.items.is_empty()).then(|| view! {
                                    <div class="button-row mail-toolbar" role="toolbar" aria-label=t.t(Msg::SelectionActions)>
                                        {if in_trash {
                                            view! {
                                                <button type="button" class="button" on:click=move |_| run("restore")>{t.t(Msg::Restore)}</button>
                                                <button type="button" class="button" on:click=move |_| run("delete")>{t.t(Msg::DeleteForever)}</button>
                                                <button type="button" class="button" on:click=move |_| { empty.dispatch(MailEmptyTrash {}); }>{t.t(Msg::EmptyTrash)}</button>
                                            }.into_any()
                                        } else {
                                            view! {
                                                <button type="button" class="button" on:click=move |_| run("read")>{t.t(Msg::MarkRead)}</button>
                                                <button type="button" class="button" on:click=move |_| run("unread")>{t.t(Msg::MarkUnread)}</button>
                                                <button type="button" class="button" on:click=move |_| run("flag")>{t.t(Msg::Flag)}</button>
                                                <button type="button" class="button" on:click=move |_| run("unflag")>{t.t(Msg::Unflag)}</button>
                                                <button type="button" class="button" on:click=move |_| run("archive")>{t.t(Msg::Archive)}</button>
                                                <button type="button" class="button" on:click=move |_| run("trash")>{t.t(Msg::Delete)}</button>
                                                <Suspense fallback=|| ()>{move_menu.clone()}</Suspense>
                                            }.into_any()
                                        }}
                                    </div>
                                });
                                let fold_toggle = (!drafts).then(|| {
                                    let folded = p.folded;
                                    view! {
                                        <button type="button" class="link-button fold-toggle" aria-pressed=folded.to_string()
                                            on:click=move |_| { folding.dispatch(MailSetFolding { fold: !folded }); }>
                                            {t.t(Msg::FoldConversations)}
                                        </button>
                                    }
                                });
                                view! {
                                    <div class="list-head">
                                        <h1>{title}</h1>
                                        {fold_toggle}
                                    </div>
                                    {manage}
                                    {toolbar}
                                    {if p.items.is_empty() {
                                        view! { <p>{t.t(Msg::NoMessages)}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="message-list">
                                                {p.items.into_iter().map(|m| message_row(t, m, Some(selected), drafts)).collect_view()}
                                            </ul>
                                            <p class="pager">{newer}" "<span>{range}</span>" "{older}</p>
                                        }.into_any()
                                    }}
                                }.into_any()
                            }
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

/// What the list's shortcuts do to the page.
mod keys {
    /// Puts the focus on the element with this id.
    pub fn focus_id(id: &str) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(el) = leptos::prelude::document()
                .get_element_by_id(id)
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }

    /// Moves the focus `by` rows in the message list (from the first when none has it).
    pub fn step_rows(by: i32) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let doc = leptos::prelude::document();
            let Ok(links) = doc.query_selector_all(".message-list li > a") else { return };
            let links: Vec<web_sys::HtmlElement> =
                (0..links.length()).filter_map(|i| links.get(i)?.dyn_into().ok()).collect();
            if links.is_empty() {
                return;
            }
            let active = doc.active_element();
            let at = links.iter().position(|l| {
                active
                    .as_ref()
                    .is_some_and(|a| l.is_same_node(Some(a)) || l.parent_node().is_some_and(|p| p.contains(Some(a))))
            });
            let next = match at {
                Some(i) => (i as i32 + by).clamp(0, links.len() as i32 - 1) as usize,
                None => 0,
            };
            let _ = links[next].focus();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = by;
    }

    /// Ticks or unticks the selection box of the row that has the focus.
    pub fn toggle_row() {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let doc = leptos::prelude::document();
            let row = doc.active_element().and_then(|a| a.closest(".message-list li").ok().flatten());
            if let Some(box_) = row
                .and_then(|r| r.query_selector("input.select").ok().flatten())
                .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
            {
                box_.click();
            }
        }
    }
}

/// One line of a message list; with `selected`, a checkbox to select it.
/// Drafts open in the composer.
fn message_row(t: I18n, m: MessageLine, selected: Option<RwSignal<Vec<i64>>>, draft: bool) -> impl IntoView {
    let subject = if m.subject.is_empty() { t.t(Msg::NoSubject).to_string() } else { m.subject.clone() };
    let id = m.open;
    // The messages the line stands for (a folded conversation: all of them in this folder).
    let ids = StoredValue::new(m.ids.clone());
    let select_label = if m.ids.len() > 1 {
        t.fmt(Msg::SelectConversation, &[("subject", &subject), ("count", &m.ids.len().to_string())])
    } else {
        t.fmt(Msg::SelectMessage, &[("subject", &subject)])
    };
    let checkbox = selected.map(|selected| {
        view! {
            <input type="checkbox" class="select" aria-label=select_label
                prop:checked=move || ids.with_value(|ids| selected.with(|s| ids.iter().all(|i| s.contains(i))))
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    let mine = ids.get_value();
                    selected.update(|s| {
                        s.retain(|x| !mine.contains(x));
                        if on {
                            s.extend(mine);
                        }
                    });
                }/>
        }
    });
    view! {
        <li class:unread=m.unread draggable=selected.is_some().then_some("true")
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                // The selection if this line is in it, else this line's messages alone.
                let mine = ids.get_value();
                let mut ids = selected.map(|s| s.get_untracked()).unwrap_or_default();
                if !mine.iter().all(|i| ids.contains(i)) {
                    ids = mine;
                }
                let text = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                if let Some(d) = ev.data_transfer() {
                    let _ = d.set_data("text/plain", &format!("hygie-ids:{text}"));
                }
            }>
            {checkbox}
            <a href=if draft { format!("/messagerie/ecrire?brouillon={id}") } else { format!("/messagerie/message/{id}") }>
                <span class="who">
                    {m.unread.then(|| view! { <span class="sr-only">{t.t(Msg::Unread)}" : "</span> })}
                    {m.who.clone()}
                </span>
                <span class="subject">
                    {m.urgent.then(|| view! { <span class="tag tag-urgent">{t.t(Msg::Urgent)}</span>" " })}
                    {m.flagged.then(|| view! {
                        <span class="mark mark-flag" aria-hidden="true">"★"</span>
                        <span class="sr-only">{t.t(Msg::Flagged)}" : "</span>
                    })}
                    {subject}
                    {(m.thread_count > 1).then(|| view! {
                        " "<span class="thread-count">{m.thread_count}
                            <span class="sr-only">" "{t.t(Msg::ThreadMessages)}</span></span>
                    })}
                    {m.has_attachments.then(|| view! {
                        " "<span class="mark" aria-hidden="true">"📎"</span>
                        <span class="sr-only">{t.t(Msg::WithAttachments)}</span>
                    })}
                </span>
                <span class="snippet">{m.snippet.clone()}</span>
                <span class="date">{t.locale.date_time(&m.date)}</span>
            </a>
        </li>
    }
}

/// The search box above every list.
#[component]
fn SearchBox(initial: String) -> impl IntoView {
    let t = use_i18n();
    view! {
        <form class="mail-search" role="search" method="get" action="/messagerie/recherche">
            <label for="mail-search-q" class="sr-only">{t.t(Msg::SearchLabel)}</label>
            <input type="search" id="mail-search-q" name="q" value=initial placeholder=t.t(Msg::SearchPlaceholder)/>
            <button type="submit" class="button">{t.t(Msg::SearchButton)}</button>
        </form>
    }
}

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
                <SearchBox initial=q.get_untracked()/>
                <h1>{t.t(Msg::SearchTitle)}</h1>
                <p class="hint">{t.t(Msg::SearchHelp)}</p>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match results.await {
                            Ok(items) if items.is_empty() => view! { <p role="status">{t.t(Msg::SearchNothing)}</p> }.into_any(),
                            Ok(items) => view! {
                                <p role="status">{t.fmt(Msg::SearchCount, &[("count", &items.len().to_string())])}</p>
                                <ul class="message-list">
                                    {items.into_iter().map(|m| message_row(t, m, None, false)).collect_view()}
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

/// `/messagerie/message/:id`: one message.
#[component]
pub fn ReadPage() -> impl IntoView {
    let t = use_i18n();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let allow = ServerAction::<MailAllowImages>::new();
    provide_context(allow);
    let message = Resource::new(move || (id(), allow.version().get()), |(id, _)| mail_open(id));
    let role = RwSignal::new(String::new());
    view! {
        <Title text=t.t(Msg::NavMail)/>
        <div class="mail-layout">
            <FolderNav current=role.into()/>
            <section class="mail-main">
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match message.await {
                            Ok(m) => {
                                role.set(m.folder.clone());
                                view! { <MessageDetails m/> }.into_any()
                            }
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

#[component]
fn MessageDetails(m: MessageView) -> impl IntoView {
    let t = use_i18n();
    let (slug, _) = folder_entry(&m.folder);
    let act = ServerAction::<MailAct>::new();
    let navigate = use_navigate();
    let back = format!("/messagerie/{slug}");
    Effect::new(move |_| {
        if let Some(Ok(_)) = act.value().get() {
            navigate(&back, Default::default());
        }
    });
    let id = m.id;
    let run = move |action: &'static str| {
        act.dispatch(MailAct { action: action.into(), ids: vec![id] });
    };
    let actions = if m.folder == "trash" {
        view! {
            <button type="button" class="button" on:click=move |_| run("restore")>{t.t(Msg::Restore)}</button>
            <button type="button" class="button" on:click=move |_| run("delete")>{t.t(Msg::DeleteForever)}</button>
        }
        .into_any()
    } else {
        let archive = (m.folder != "archive").then(|| {
            view! {
                <button type="button" class="button" on:click=move |_| run("archive")>{t.t(Msg::Archive)}</button>
            }
        });
        view! {
            {archive}
            <button type="button" class="button" on:click=move |_| run("trash")>{t.t(Msg::Delete)}</button>
            <button type="button" class="button" on:click=move |_| run("unread")>{t.t(Msg::MarkUnread)}</button>
        }
        .into_any()
    };
    let help = RwSignal::new(false);
    let go = use_navigate();
    let (slug_for_keys, message) = (slug, m.id);
    let trash = m.folder == "trash";
    use_shortcuts(help, move |key| {
        let to = match key {
            "r" => format!("/messagerie/ecrire?repondre={message}"),
            "a" => format!("/messagerie/ecrire?repondre={message}&tous=1"),
            "f" => format!("/messagerie/ecrire?transferer={message}"),
            "c" => "/messagerie/ecrire".to_string(),
            "u" => format!("/messagerie/{slug_for_keys}"),
            "e" if !trash => return run("archive"),
            "#" if !trash => return run("trash"),
            _ => return,
        };
        go(&to, Default::default());
    });
    let subject = if m.subject.is_empty() { t.t(Msg::NoSubject).to_string() } else { m.subject.clone() };
    let from = if m.from_name.is_empty() { m.from_addr.clone() } else { format!("{} <{}>", m.from_name, m.from_addr) };
    let row = |label: Msg, value: String| (!value.is_empty()).then(|| view! { <dt>{t.t(label)}</dt><dd>{value}</dd> });
    view! {
        <ShortcutHelp open=help/>
        <article class="message" aria-labelledby="message-subject">
            <h1 id="message-subject">
                {m.urgent.then(|| view! { <span class="tag tag-urgent">{t.t(Msg::Urgent)}</span>" " })}
                {subject}
            </h1>
            <dl class="details message-headers">
                {row(Msg::MailFrom, from)}
                {row(Msg::MailTo, m.to.clone())}
                {row(Msg::MailCc, m.cc.clone())}
                {row(Msg::MailBcc, m.bcc.clone())}
                {row(Msg::MailDate, t.locale.date_time(&m.date))}
            </dl>
            <div class="button-row">
                <a class="button" href=format!("/messagerie/ecrire?repondre={}", m.id)>{t.t(Msg::Reply)}</a>
                <a class="button" href=format!("/messagerie/ecrire?repondre={}&tous=1", m.id)>{t.t(Msg::ReplyAll)}</a>
                <a class="button" href=format!("/messagerie/ecrire?transferer={}", m.id)>{t.t(Msg::Forward)}</a>
                {actions}
                <a href=format!("/messagerie/{slug}")>{t.t(Msg::BackToList)}</a>
            </div>
            {m.remote_images_blocked.then(|| {
                let allow = use_context::<ServerAction<MailAllowImages>>();
                let id = m.id;
                view! {
                    <div class="notice images-blocked" role="note">
                        <p>{t.t(Msg::ImagesBlocked)}</p>
                        <button type="button" class="button"
                            on:click=move |_| if let Some(a) = allow { a.dispatch(MailAllowImages { id }); }>
                            {t.fmt(Msg::ImagesAllow, &[("sender", &m.from_addr)])}
                        </button>
                    </div>
                }
            })}
            {match m.body_html.clone() {
                // Sanitised already; the frame adds a second wall: no scripts, no same origin.
                Some(html) => view! {
                    <iframe class="mail-html" sandbox="allow-popups allow-popups-to-escape-sandbox"
                        title=t.t(Msg::MessageContent) srcdoc=html></iframe>
                }.into_any(),
                None => view! { <pre class="mail-body" tabindex="0">{m.body.clone()}</pre> }.into_any(),
            }}
            {(!m.conversation.is_empty()).then(|| {
                let title = t.fmt(Msg::ConversationTitle, &[("count", &m.conversation.len().to_string())]);
                view! {
                    <section class="conversation" aria-labelledby="conversation-title">
                        <h2 id="conversation-title">{title}</h2>
                        <ol>
                            {m.conversation.iter().map(|c| {
                                let here = c.id == m.id;
                                let line = format!("{} — {}", c.who, t.locale.date_time(&c.date));
                                view! {
                                    <li class:unread=c.unread class:current=here>
                                        {if here {
                                            view! { <span aria-current="true"><strong>{line}</strong></span> }.into_any()
                                        } else {
                                            view! { <a href=format!("/messagerie/message/{}", c.id)>{line}</a> }.into_any()
                                        }}
                                        <span class="snippet">{c.snippet.clone()}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    </section>
                }
            })}
            {(!m.deliveries.is_empty()).then(|| view! {
                <h2>{t.t(Msg::DeliveriesTitle)}</h2>
                <ul class="deliveries">
                    {m.deliveries.iter().map(|d| {
                        let (msg, class) = match d.status.as_str() {
                            "sent" => (Msg::DeliverySent, "delivery-sent"),
                            "failed" => (Msg::DeliveryFailed, "delivery-failed"),
                            _ => (Msg::DeliveryPending, "delivery-pending"),
                        };
                        let text = t.fmt(msg, &[("address", &d.recipient), ("attempts", &d.attempts.to_string())]);
                        view! { <li class=class>{text}</li> }
                    }).collect_view()}
                </ul>
            })}
            {(!m.attachments.is_empty()).then(|| view! {
                <h2>{t.t(Msg::Attachments)}</h2>
                <ul class="attachments">
                    {m.attachments.iter().enumerate().map(|(n, a)| {
                        let pdf = m.attachment_pdf.get(n).copied().unwrap_or(false);
                        view! {
                            <li>
                                <a href=format!("/messagerie/pj/{}/{n}", m.id) rel="external" download=a.clone()>{a.clone()}</a>
                                {pdf.then(|| view! { " " <PdfPreview id=m.id index=n name=a.clone()/> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </article>
    }
}

fn label_of(field: &str) -> Msg {
    match field {
        "to" => Msg::FieldTo,
        "cc" => Msg::FieldCc,
        "bcc" => Msg::FieldBcc,
        "subject" => Msg::FieldMailSubject,
        "attachments" => Msg::Attachments,
        _ => Msg::FieldBody,
    }
}

/// How the composer starts.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Start {
    Blank { to: Option<String> },
    Reply { m: MessageView, all: bool },
    Forward { m: MessageView },
    Draft { m: MessageView },
}

/// The composer's starting point: empty, addressed (`?a=`), a reply (`?repondre=ID`, `&tous=1`
/// for all), or a forward (`?transferer=ID`, with the message's attachments).
fn prefill(t: I18n, start: Start) -> (ComposeInput, Vec<ForwardedFile>) {
    let (m, all) = match start {
        Start::Blank { to } => return (ComposeInput { to: to.unwrap_or_default(), ..Default::default() }, Vec::new()),
        Start::Forward { m } => {
            let subject = if m.subject.to_lowercase().starts_with("tr:") || m.subject.to_lowercase().starts_with("fwd:")
            {
                m.subject.clone()
            } else {
                format!("TR: {}", m.subject)
            };
            let from =
                if m.from_name.is_empty() { m.from_addr.clone() } else { format!("{} <{}>", m.from_name, m.from_addr) };
            let intro = t.fmt(
                Msg::ForwardIntro,
                &[("from", &from), ("date", &t.locale.date_time(&m.date)), ("subject", &m.subject), ("to", &m.to)],
            );
            let files = m
                .attachments
                .iter()
                .enumerate()
                .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: false })
                .collect();
            let input = ComposeInput {
                subject,
                body: format!("\n\n{intro}\n\n{}\n", m.body),
                forward_from: m.id,
                // As the composer lists them, so that an untouched forward is not saved as a draft.
                forward_parts: (0..m.attachments.len()).collect(),
                ..Default::default()
            };
            return (input, files);
        }
        Start::Draft { m } => {
            let files = m
                .attachments
                .iter()
                .enumerate()
                .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: true })
                .collect();
            let input = ComposeInput {
                to: m.to.clone(),
                cc: m.cc.clone(),
                bcc: m.bcc.clone(),
                subject: m.subject.clone(),
                body: m.body.trim_end_matches('\n').to_string(),
                urgent: m.urgent,
                in_reply_to: m.in_reply_to.clone(),
                references: m.references.join(" "),
                attachments: Vec::new(),
                forward_from: m.id,
                forward_parts: (0..m.attachments.len()).collect(),
                draft_id: m.id,
            };
            return (input, files);
        }
        Start::Reply { m, all } => (m, all),
    };
    let mine = m.folder == "sent";
    let split = |s: &str| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>();
    let (to, cc) = if mine {
        (m.to.clone(), if all { m.cc.clone() } else { String::new() })
    } else if all {
        let mut others: Vec<String> = split(&m.to);
        others.extend(split(&m.cc));
        (m.from_addr.clone(), others.join(", "))
    } else {
        (m.from_addr.clone(), String::new())
    };
    let subject =
        if m.subject.to_lowercase().starts_with("re:") { m.subject.clone() } else { format!("RE: {}", m.subject) };
    let who = if m.from_name.is_empty() { m.from_addr.clone() } else { m.from_name.clone() };
    let intro = t.fmt(Msg::ReplyQuote, &[("date", &t.locale.date_time(&m.date)), ("who", &who)]);
    let quoted: Vec<String> = m.body.lines().map(|l| format!("> {l}")).collect();
    let input = ComposeInput {
        to,
        cc,
        subject,
        body: format!("\n\n{intro}\n{}\n", quoted.join("\n")),
        in_reply_to: m.message_id.clone(),
        references: m.thread_refs.join(" "),
        ..Default::default()
    };
    (input, Vec::new())
}

/// `/messagerie/ecrire`: write a message.
#[component]
pub fn ComposePage() -> impl IntoView {
    let t = use_i18n();
    let query = use_query_map();
    // Tracked: another address on this page (Écrire while replying or in a draft) loads another
    // message into a new form; the one on screen is saved as a draft as it leaves.
    let source = Resource::new(
        move || {
            query.with(|q| {
                let id = |key: &str| q.get(key).and_then(|v| v.parse::<i64>().ok());
                (id("repondre"), id("transferer"), id("brouillon"), q.get("tous").is_some(), q.get("a"))
            })
        },
        move |(reply, forward, draft, all, address)| async move {
            let usage = mail_usage().await?;
            let start = match (reply, forward, draft) {
                (Some(id), _, _) => Start::Reply { m: mail_open(id).await?, all },
                (None, Some(id), _) => Start::Forward { m: mail_open(id).await? },
                (None, None, Some(id)) => Start::Draft { m: mail_open(id).await? },
                (None, None, None) => Start::Blank { to: address },
            };
            Ok::<_, AppError>((start, usage.max_message_bytes))
        },
    );
    view! {
        <Title text=t.t(Msg::ComposeTitle)/>
        <div class="mail-layout">
            <FolderNav current=Signal::derive(String::new)/>
            <section class="mail-main">
                <h1>{t.t(Msg::ComposeTitle)}</h1>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match source.await {
                            Ok((start, max_bytes)) => {
                                let (initial, forwarded) = prefill(t, start);
                                view! { <ComposeForm initial forwarded max_bytes/> }.into_any()
                            }
                            Err(error) => failure_view(t, error),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

#[component]
fn ComposeForm(initial: ComposeInput, forwarded: Vec<ForwardedFile>, max_bytes: i64) -> impl IntoView {
    let t = use_i18n();
    let files = RwSignal::new(Vec::<PendingFile>::new());
    let forwarded = RwSignal::new(forwarded);
    let forward_from = RwSignal::new(initial.forward_from);
    let draft_id = RwSignal::new(initial.draft_id);
    let uploading = move || files.with(|f| f.iter().any(|p| p.id.get().is_none()));
    let to = RwSignal::new(initial.to.clone());
    let cc = RwSignal::new(initial.cc.clone());
    let bcc = RwSignal::new(initial.bcc.clone());
    let subject = RwSignal::new(initial.subject.clone());
    let body = RwSignal::new(initial.body.clone());
    let urgent = RwSignal::new(initial.urgent);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let send = ServerAction::<MailSend>::new();
    let pending = send.pending();
    let navigate = use_navigate();
    let (in_reply_to, references) =
        (StoredValue::new(initial.in_reply_to.clone()), StoredValue::new(initial.references.clone()));

    // The message as it stands (nothing tracked: read on demand).
    let current = move || ComposeInput {
        to: to.get_untracked(),
        cc: cc.get_untracked(),
        bcc: bcc.get_untracked(),
        subject: subject.get_untracked(),
        body: body.get_untracked(),
        urgent: urgent.get_untracked(),
        in_reply_to: in_reply_to.get_value(),
        references: references.get_value(),
        attachments: files.with_untracked(|f| f.iter().filter_map(|p| p.id.get_untracked()).collect()),
        forward_from: forward_from.get_untracked(),
        forward_parts: forwarded.with_untracked(|f| f.iter().map(|x| x.index).collect()),
        draft_id: draft_id.get_untracked(),
    };

    // Drafts: saved every 5 seconds when something changed, when the page is hidden or left.
    let save_draft = ServerAction::<MailSaveDraft>::new();
    let saving = save_draft.pending();
    let saved_as = StoredValue::new(initial.clone());
    let in_flight = StoredValue::new(ComposeInput::default());
    let finished = StoredValue::new(false);
    let draft_status = RwSignal::new(None::<Result<(), String>>);
    // Counts the save answers once taken in: what waited for a save (sending, discarding) runs
    // after this, so it sees the draft's id and files as the answer left them.
    let settled = RwSignal::new(0_u32);
    let try_save = move || {
        if finished.get_value() || saving.get_untracked() || pending.get_untracked() {
            return;
        }
        if files.with_untracked(|f| f.iter().any(|p| p.id.get_untracked().is_none())) {
            return;
        }
        let input = current();
        if input == saved_as.get_value() {
            return;
        }
        in_flight.set_value(input.clone());
        save_draft.dispatch(MailSaveDraft { input });
    };
    Effect::new(move |_| {
        let Some(answer) = save_draft.value().get() else { return };
        match answer {
            Ok(saved) => {
                let sent = in_flight.get_value();
                // The uploads now live in the draft: they come back as its attachments.
                files.update(|f| f.retain(|p| !p.id.get_untracked().is_some_and(|id| sent.attachments.contains(&id))));
                let kept: Vec<ForwardedFile> = saved
                    .attachments
                    .iter()
                    .enumerate()
                    .map(|(index, name)| ForwardedFile { index, name: name.clone(), in_draft: true })
                    .collect();
                forwarded.set(kept.clone());
                forward_from.set(saved.id);
                draft_id.set(saved.id);
                saved_as.set_value(ComposeInput {
                    attachments: Vec::new(),
                    forward_from: saved.id,
                    forward_parts: kept.iter().map(|k| k.index).collect(),
                    draft_id: saved.id,
                    ..sent
                });
                draft_status.set(Some(Ok(())));
            }
            Err(e) => {
                // Sent or deleted from another window: the text on screen becomes a new draft at
                // the next save, and the message says so.
                if matches!(e, AppError::DraftGone) && !finished.get_value() {
                    draft_id.set(0);
                    saved_as.set_value(ComposeInput::default());
                }
                draft_status.set(Some(Err(e.message(t))));
            }
        }
        settled.update(|n| *n += 1);
    });
    #[cfg(feature = "hydrate")]
    {
        let timer = set_interval_with_handle(try_save, std::time::Duration::from_secs(5)).ok();
        let hidden = window_event_listener(leptos::ev::pagehide, move |_| try_save());
        on_cleanup(move || {
            if let Some(timer) = timer {
                timer.clear();
            }
            hidden.remove();
            // Leaving the composer: one last save, outside the component being dropped.
            if !finished.try_get_value().unwrap_or(true) {
                let input = ComposeInput {
                    to: to.try_get_untracked().unwrap_or_default(),
                    cc: cc.try_get_untracked().unwrap_or_default(),
                    bcc: bcc.try_get_untracked().unwrap_or_default(),
                    subject: subject.try_get_untracked().unwrap_or_default(),
                    body: body.try_get_untracked().unwrap_or_default(),
                    urgent: urgent.try_get_untracked().unwrap_or_default(),
                    in_reply_to: in_reply_to.try_get_value().unwrap_or_default(),
                    references: references.try_get_value().unwrap_or_default(),
                    attachments: files
                        .try_with_untracked(|f| f.iter().filter_map(|p| p.id.get_untracked()).collect())
                        .unwrap_or_default(),
                    forward_from: forward_from.try_get_untracked().unwrap_or_default(),
                    forward_parts: forwarded
                        .try_with_untracked(|f| f.iter().map(|x| x.index).collect())
                        .unwrap_or_default(),
                    draft_id: draft_id.try_get_untracked().unwrap_or_default(),
                };
                if Some(&input) != saved_as.try_get_value().as_ref() {
                    leptos::task::spawn_local(async move {
                        let _ = crate::api::mail_save_draft(input).await;
                    });
                }
            }
        });
    }

    Effect::new(move |_| match send.value().get() {
        Some(Ok(_)) => {
            finished.set_value(true);
            navigate("/messagerie/envoyes?envoye=1", Default::default())
        }
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    // Sending waits for a draft save under way, so that the save cannot bring the draft back.
    let send_queued = StoredValue::new(false);
    let submit_now = move || {
        if pending.get_untracked() {
            return;
        }
        if saving.get_untracked() {
            send_queued.set_value(true);
            return;
        }
        if files.with_untracked(|f| f.iter().any(|p| p.id.get_untracked().is_none())) {
            errors.set(vec![FieldError { field: "attachments".into(), problem: crate::domain::FieldProblem::Pending }]);
            focus_later(summary);
            return;
        }
        let input = current();
        failure.set(None);
        match crate::domain::compose::Compose::parse(&input) {
            Err(e) => {
                errors.set(e);
                focus_later(summary);
            }
            Ok(_) => {
                errors.set(Vec::new());
                send.dispatch(MailSend { input });
            }
        }
    };
    Effect::new(move |_| {
        settled.track();
        if send_queued.get_value() {
            send_queued.set_value(false);
            submit_now();
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit_now();
    };
    // Until the page is interactive, sending cannot work: the button waits (and a form posted
    // before that carries nothing in its address).
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let discard = ServerAction::<MailAct>::new();
    let navigate_away = use_navigate();
    let leave = navigate_away.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = discard.value().get() {
            navigate_away("/messagerie/brouillons", Default::default());
        }
    });
    let discard_now = move || {
        let id = draft_id.get_untracked();
        if id > 0 {
            discard.dispatch(MailAct { action: "trash".into(), ids: vec![id] });
        } else {
            leave("/messagerie/reception", Default::default());
        }
    };
    // Discarding waits for a save under way too: its answer names the draft to throw away (the
    // first save creates it), and a save arriving after the discard would find no draft.
    let discard_queued = StoredValue::new(false);
    let discard_later = discard_now.clone();
    Effect::new(move |_| {
        settled.track();
        if discard_queued.get_value() {
            discard_queued.set_value(false);
            discard_later();
        }
    });
    let on_discard = move |_| {
        finished.set_value(true);
        if saving.get_untracked() {
            discard_queued.set_value(true);
        } else {
            discard_now();
        }
    };
    view! {
        <ErrorSummary prefix="compose" errors failure label_of node_ref=summary intro=Msg::ErrMailSummary/>
        <form class="form compose" method="post" novalidate on:submit=on_submit>
            <RecipientField prefix="compose" id="to" label=Msg::FieldTo hint=Some(Msg::FieldRecipientsHint) value=to
                initial=initial.to.clone() problem=problem_of(errors, "to")/>
            <RecipientField prefix="compose" id="cc" label=Msg::FieldCc hint=None value=cc initial=initial.cc.clone()
                problem=problem_of(errors, "cc") optional=true/>
            <RecipientField prefix="compose" id="bcc" label=Msg::FieldBcc hint=None value=bcc initial=initial.bcc.clone()
                problem=problem_of(errors, "bcc") optional=true/>
            <Field prefix="compose" id="subject" label=Msg::FieldMailSubject hint=None value=subject
                initial=initial.subject.clone() problem=problem_of(errors, "subject") autocomplete="off" input_type="text"
                maxlength=Some(SUBJECT_MAX) optional=true/>
            <Field prefix="compose" id="body" label=Msg::FieldBody hint=None value=body initial=initial.body.clone()
                problem=problem_of(errors, "body") autocomplete="off" input_type="textarea" maxlength=None optional=true/>
            <AttachmentsField files forwarded max_bytes/>
            <div class="check">
                <input type="checkbox" id="compose-urgent" prop:checked=move || urgent.get()
                    on:change=move |ev| urgent.set(event_target_checked(&ev))/>
                <label for="compose-urgent">{t.t(Msg::FieldUrgent)}</label>
            </div>
            <div class="button-row">
                <button type="submit" class="button button-primary" disabled=move || pending.get() || !ready.get()>
                    {move || if pending.get() {
                        t.t(Msg::Sending)
                    } else if uploading() {
                        t.t(Msg::AttachWaiting)
                    } else {
                        t.t(Msg::Send)
                    }}
                </button>
                <button type="button" class="button" on:click=move |_| try_save()>{t.t(Msg::DraftSave)}</button>
                <button type="button" class="button" on:click=on_discard>{t.t(Msg::DraftDiscard)}</button>
                <span class="draft-status" role="status">
                    {move || match draft_status.get() {
                        Some(Ok(())) if saving.get() => t.t(Msg::DraftSaving).to_string(),
                        Some(Ok(())) => t.t(Msg::DraftSaved).to_string(),
                        Some(Err(e)) => e,
                        None if saving.get() => t.t(Msg::DraftSaving).to_string(),
                        None => String::new(),
                    }}
                </span>
            </div>
        </form>
    }
}
