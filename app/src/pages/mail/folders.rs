//! The folder list beside every webmail page: the standard folders, one's own (nested), a form
//! for a new one, the quota in use. On a phone it is a drawer over the page, opened from the app
//! bar: the focus stays inside while it is open, Escape closes it.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::{mail_folders, mail_usage, FolderView, MailAct, MailFolderCreate};
use crate::components::attachments::human_size;
use crate::components::feedback::Loading;
use crate::components::icons::{icon, Icon};
use crate::components::layout::use_drawer;
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
    let drawer = use_drawer();
    // Closed by the keyboard: the focus goes back to the drawer's button.
    let close = move || {
        drawer.set(false);
        keys::focus_later(".drawer-toggle");
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if !drawer.get_untracked() {
            return;
        }
        match ev.key().as_str() {
            "Escape" => {
                ev.prevent_default();
                close();
            }
            "Tab" => {
                if keys::trap_tab("#mail-folders", ev.shift_key()) {
                    ev.prevent_default();
                }
            }
            _ => {}
        }
    };
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
        <div class="drawer-backdrop" class:open=move || drawer.get() on:click=move |_| drawer.set(false)></div>
        <nav id="mail-folders" class="mail-folders" class:open=move || drawer.get() aria-label=t.t(Msg::FoldersLabel)
            on:keydown=on_keydown
            on:click=move |ev: leptos::ev::MouseEvent| {
                // A folder chosen: the drawer gives the page back.
                if keys::is_link_click(&ev) {
                    drawer.set(false);
                }
            }>
            <button type="button" id="drawer-close" class="icon-button drawer-close" on:click=move |_| close()>
                {icon(Icon::Close)}
                <span class="sr-only">{t.t(Msg::CloseFolders)}</span>
            </button>
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

/// The drawer's focus handling (the browser's only).
pub(crate) mod keys {
    /// Puts the focus on the first element matching `selector` once the page has been drawn
    /// again (an element just made visible can take it only then).
    pub fn focus_later(selector: &'static str) {
        leptos::prelude::request_animation_frame(move || focus_selector(selector));
    }

    /// Puts the focus on the first element matching `selector`.
    pub fn focus_selector(selector: &str) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(el) = leptos::prelude::document()
                .query_selector(selector)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = selector;
    }

    /// Keeps Tab inside `container`: from its last focusable element to its first (and back
    /// with Shift). `true` when it moved the focus itself.
    pub fn trap_tab(container: &str, backwards: bool) -> bool {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let doc = leptos::prelude::document();
            let Some(root) = doc.query_selector(container).ok().flatten() else { return false };
            let Ok(list) = root.query_selector_all(
                "a[href], button:not([disabled]), input:not([disabled]), select, textarea, summary, [tabindex]:not([tabindex='-1'])",
            ) else {
                return false;
            };
            let items: Vec<web_sys::HtmlElement> = (0..list.length())
                .filter_map(|i| list.get(i)?.dyn_into::<web_sys::HtmlElement>().ok())
                .filter(|e| e.offset_parent().is_some())
                .collect();
            let (Some(first), Some(last)) = (items.first(), items.last()) else { return false };
            let active = doc.active_element();
            let at = |e: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| e.is_same_node(Some(a)));
            let inside = active.as_ref().is_some_and(|a| root.contains(Some(a)));
            if !inside || (backwards && at(first)) {
                let _ = last.focus();
                return true;
            }
            if !backwards && at(last) {
                let _ = first.focus();
                return true;
            }
            false
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (container, backwards);
            false
        }
    }

    /// Whether a click landed on a link.
    pub fn is_link_click(ev: &leptos::ev::MouseEvent) -> bool {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            ev.target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten())
                .is_some()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = ev;
            false
        }
    }
}
