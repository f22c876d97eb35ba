//! A folder's page: one page of messages, newest first, with selection, actions, folding and
//! keyboard shortcuts.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::{
    mail_folders, mail_list, FolderView, MailAct, MailEmptyTrash, MailFolderDelete, MailFolderRename, MailSetDensity,
    MailSetFolding, MessageLine,
};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::icons::{icon, icon_labelled, Icon};
use crate::components::shortcuts::{use_shortcuts, ShortcutHelp};
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

use super::folders::FolderNav;
use super::{drop_action, failure_view, folder_entry, is_own, role_of, sentence, FolderChanges};

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
    let density = ServerAction::<MailSetDensity>::new();
    // The density chosen on this page, before the next list load brings it back from the account.
    let compact = RwSignal::new(None::<bool>);
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
                                let any_selected = move || selected.with(|s| !s.is_empty());
                                let count_text = move || {
                                    t.fmt(Msg::SelectedCount, &[("count", &selected.with(|s| s.len()).to_string())])
                                };
                                // Shown only while something is selected: the frequent actions as
                                // buttons, the others in a menu.
                                let toolbar = (!p.items.is_empty()).then(|| {
                                    let move_menu = move_menu.clone();
                                    view! {
                                        <Show when=any_selected>
                                            <div class="mail-toolbar" role="toolbar" aria-label=t.t(Msg::SelectionActions)>
                                                <span class="selected-count" role="status">{count_text}</span>
                                                {if in_trash {
                                                    view! {
                                                        <button type="button" class="button" on:click=move |_| run("restore")>{t.t(Msg::Restore)}</button>
                                                        <button type="button" class="button" on:click=move |_| run("delete")>{t.t(Msg::DeleteForever)}</button>
                                                    }.into_any()
                                                } else {
                                                    let move_menu = move_menu.clone();
                                                    view! {
                                                        <button type="button" class="button" on:click=move |_| run("archive")>{t.t(Msg::Archive)}</button>
                                                        <button type="button" class="button" on:click=move |_| run("trash")>{t.t(Msg::Delete)}</button>
                                                        <details class="more-menu">
                                                            <summary class="button">{t.t(Msg::MoreActions)}</summary>
                                                            <div class="menu-list">
                                                                <button type="button" on:click=move |_| run("read")>{t.t(Msg::MarkRead)}</button>
                                                                <button type="button" on:click=move |_| run("unread")>{t.t(Msg::MarkUnread)}</button>
                                                                <button type="button" on:click=move |_| run("flag")>{t.t(Msg::Flag)}</button>
                                                                <button type="button" on:click=move |_| run("unflag")>{t.t(Msg::Unflag)}</button>
                                                                <div class="move-row">
                                                                    <Suspense fallback=|| ()>{move_menu.clone()}</Suspense>
                                                                </div>
                                                            </div>
                                                        </details>
                                                    }.into_any()
                                                }}
                                            </div>
                                        </Show>
                                    }
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
                                let saved_compact = p.compact;
                                let is_compact = move || compact.get().unwrap_or(saved_compact);
                                let choose = move |c: bool| {
                                    compact.set(Some(c));
                                    density.dispatch(MailSetDensity { compact: c });
                                };
                                let view_menu = view! {
                                    <details class="view-menu">
                                        <summary class="icon-button">
                                            {icon(Icon::More)}
                                            <span class="sr-only">{t.t(Msg::DensityLabel)}</span>
                                        </summary>
                                        <div class="menu-list">
                                            <fieldset class="density">
                                                <legend>{t.t(Msg::DensityLabel)}</legend>
                                                <label class="check">
                                                    <input type="radio" name="density" value="comfortable"
                                                        prop:checked=move || !is_compact() on:change=move |_| choose(false)/>
                                                    {t.t(Msg::DensityComfortable)}
                                                </label>
                                                <label class="check">
                                                    <input type="radio" name="density" value="compact"
                                                        prop:checked=is_compact on:change=move |_| choose(true)/>
                                                    {t.t(Msg::DensityCompact)}
                                                </label>
                                            </fieldset>
                                            {fold_toggle}
                                        </div>
                                    </details>
                                };
                                let empty_trash = (in_trash && !p.items.is_empty()).then(|| view! {
                                    <button type="button" class="button button-small" on:click=move |_| { empty.dispatch(MailEmptyTrash {}); }>
                                        {t.t(Msg::EmptyTrash)}
                                    </button>
                                });
                                view! {
                                    <div class="list-head">
                                        <h1>{title}</h1>
                                        {empty_trash}
                                        {view_menu}
                                    </div>
                                    {manage}
                                    {toolbar}
                                    {if p.items.is_empty() {
                                        view! { <p>{t.t(Msg::NoMessages)}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="message-list" class:compact=is_compact>
                                                {p.items.into_iter().map(|m| message_row(t, m, Some(selected), drafts, None)).collect_view()}
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
/// With `current`, the line of the message open beside the list is marked `aria-current`.
pub(super) fn message_row(
    t: I18n,
    m: MessageLine,
    selected: Option<RwSignal<Vec<i64>>>,
    draft: bool,
    current: Option<Signal<i64>>,
) -> impl IntoView {
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
            <a href=if draft { format!("/messagerie/ecrire?brouillon={id}") } else { format!("/messagerie/message/{id}") }
                aria-current=move || current.and_then(|c| ids.with_value(|ids| ids.contains(&c.get())).then_some("true"))>
                <span class="who">
                    {m.unread.then(|| view! { <span class="sr-only">{t.t(Msg::Unread)}" : "</span> })}
                    {m.who.clone()}
                </span>
                <span class="line">
                    {m.urgent.then(|| view! { <span class="tag tag-urgent">{t.t(Msg::Urgent)}</span>" " })}
                    {m.health_document.then(|| view! { <span class="tag tag-health">{t.t(Msg::HealthDocument)}</span>" " })}
                    <span class="subject">{subject}</span>
                    {(m.thread_count > 1).then(|| view! {
                        " "<span class="thread-count">{m.thread_count}
                            <span class="sr-only">" "{t.t(Msg::ThreadMessages)}</span></span>
                    })}
                    {(!m.snippet.is_empty()).then(|| view! { <span class="snippet">" — "{m.snippet.clone()}</span> })}
                </span>
                <span class="marks">
                    {m.flagged.then(|| view! { <span class="mark mark-flag">{icon_labelled(Icon::Flag, t.t(Msg::Flagged).to_string())}</span> })}
                    {m.has_attachments.then(|| view! { <span class="mark">{icon_labelled(Icon::Paperclip, t.t(Msg::WithAttachments).to_string())}</span> })}
                    {crate::components::receipts::receipt_mark(t, &m.receipt)}
                </span>
                {list_time(t, &m)}
            </a>
        </li>
    }
}

/// A list's date: short as people say it ("14:32", "hier", "lun. 7"), in Paris; the full date in
/// its `title` and for screen readers, the instant in `datetime`.
pub(super) fn list_time(t: I18n, m: &MessageLine) -> impl IntoView {
    let (short, full) = if m.local.is_empty() {
        let full = t.locale.date_time(&m.date);
        (full.clone(), full)
    } else {
        (t.locale.list_date(&m.local, m.days_ago), t.locale.paris_date_time(&m.local))
    };
    let title = full.clone();
    view! {
        <time class="date" datetime=m.date.clone() title=title>
            <span aria-hidden="true">{short}</span>
            <span class="sr-only">{full}</span>
        </time>
    }
}
