//! The folder list beside every webmail page: the standard folders, one's own (nested), a form
//! for a new one, the quota in use.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::{mail_folders, mail_usage, FolderView, MailAct, MailFolderCreate};
use crate::components::attachments::human_size;
use crate::components::feedback::Loading;
use crate::i18n::Msg;
use crate::use_i18n;

use super::{dragged_ids, drop_action, folder_entry, folder_href, sentence, FolderChanges};

/// The folder list beside every webmail page: the standard folders, one's own (nested), a form
/// for a new one, the quota in use. Messages dragged from the list drop onto a folder.
#[component]
pub(super) fn FolderNav(current: Signal<String>) -> impl IntoView {
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
                            <li>
                                <a href="/messagerie/programmes"
                                    aria-current=move || (current.get() == "scheduled").then_some("page")>
                                    {t.t(Msg::FolderScheduled)}
                                </a>
                            </li>
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
