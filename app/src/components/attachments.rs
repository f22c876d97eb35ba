//! The composer's attachments: a file picker and a drop zone, each file uploaded at once (with
//! its progress) to `POST /messagerie/pj`, the per-message limit explained before anything is
//! sent, and files forwarded from another message.

use leptos::prelude::*;

use crate::i18n::{I18n, Msg};
use crate::use_i18n;

/// One file being added to the message.
#[derive(Clone)]
pub struct PendingFile {
    pub key: u64,
    pub name: String,
    pub size: i64,
    /// 0 to 100.
    pub progress: RwSignal<u32>,
    /// The upload's id, once stored.
    pub id: RwSignal<Option<i64>>,
    pub error: RwSignal<Option<String>>,
}

/// A file of the forwarded message: its index there and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedFile {
    pub index: usize,
    pub name: String,
    /// Already saved in this message's draft (rather than taken from a forwarded message).
    pub in_draft: bool,
}

/// "2,5 Mo" / "2.5 MB", "830 ko" / "830 kB".
pub fn human_size(t: I18n, bytes: i64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let text = if mb >= 1.0 {
        format!("{} {}", format!("{mb:.1}").trim_end_matches(".0"), t.t(Msg::UnitMb))
    } else {
        format!("{} {}", (bytes as f64 / 1024.0).ceil() as i64, t.t(Msg::UnitKb))
    };
    match t.locale {
        crate::i18n::Locale::Fr => text.replace('.', ","),
        crate::i18n::Locale::En => text,
    }
}

#[component]
pub fn AttachmentsField(
    files: RwSignal<Vec<PendingFile>>,
    forwarded: RwSignal<Vec<ForwardedFile>>,
    /// The per-message limit, in bytes.
    max_bytes: i64,
) -> impl IntoView {
    let t = use_i18n();
    let refused = RwSignal::new(Vec::<String>::new());
    let dragging = RwSignal::new(false);
    let next_key = StoredValue::new(0u64);
    let max_text = human_size(t, max_bytes);
    let hint = t.fmt(Msg::AttachHint, &[("max", &max_text)]);

    // Checks each chosen file against what is left of the limit, then uploads it.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    let add_files = move |list: Vec<(String, i64, Option<Box<dyn FnOnce(PendingFile)>>)>| {
        let mut used: i64 =
            files.with_untracked(|f| f.iter().filter(|p| p.error.get_untracked().is_none()).map(|p| p.size).sum());
        let mut problems = Vec::new();
        for (name, size, start) in list {
            if used + size > max_bytes {
                problems.push(t.fmt(
                    Msg::AttachTooBig,
                    &[("name", &name), ("size", &human_size(t, size)), ("max", &human_size(t, max_bytes))],
                ));
                continue;
            }
            used += size;
            let key = next_key.get_value();
            next_key.set_value(key + 1);
            let p = PendingFile {
                key,
                name,
                size,
                progress: RwSignal::new(0),
                id: RwSignal::new(None),
                error: RwSignal::new(None),
            };
            files.update(|f| f.push(p.clone()));
            if let Some(start) = start {
                start(p);
            }
        }
        refused.set(problems);
    };

    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
                return;
            };
            if let Some(list) = input.files() {
                add_files(browser::chosen(t, &list));
            }
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
            add_files(browser::chosen(t, &list));
        }
    };
    let remove = move |key: u64| {
        let gone = files.with_untracked(|f| f.iter().find(|p| p.key == key).cloned());
        files.update(|f| f.retain(|p| p.key != key));
        if let Some(id) = gone.and_then(|p| p.id.get_untracked()) {
            leptos::task::spawn_local(async move {
                let _ = crate::api::mail_upload_delete(id).await;
            });
        }
    };

    view! {
        <fieldset class="attachments-field">
            <legend>{t.t(Msg::Attachments)}</legend>
            <p class="hint" id="compose-files-hint">{hint}</p>
            <div class="dropzone" class:dragging=move || dragging.get()
                on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop>
                <label for="compose-files" class="button">{t.t(Msg::AttachChoose)}</label>
                <input type="file" id="compose-files" class="file-input" multiple
                    aria-describedby="compose-files-hint" on:change=on_change/>
                <span aria-hidden="true">" "{t.t(Msg::AttachDrop)}</span>
            </div>
            <div role="alert" class="attach-refused">
                {move || refused.get().into_iter().map(|p| view! { <p class="error">{p}</p> }).collect_view()}
            </div>
            <ul class="attach-list" aria-live="polite">
                {move || forwarded.get().into_iter().map(|f| {
                    let name = f.name.clone();
                    let index = f.index;
                    view! {
                        <li class="attach-item">
                            <span class="attach-name">{f.name.clone()}</span>
                            {if f.in_draft {
                                view! { <span class="attach-done">{t.t(Msg::AttachDone)}</span> }.into_any()
                            } else {
                                view! { <span class="hint">{t.t(Msg::AttachForwarded)}</span> }.into_any()
                            }}
                            <button type="button" class="link-button"
                                aria-label=t.fmt(Msg::AttachRemove, &[("name", &name)])
                                on:click=move |_| forwarded.update(|v| v.retain(|x| x.index != index))>
                                {t.t(Msg::Remove)}
                            </button>
                        </li>
                    }
                }).collect_view()}
                <For each=move || files.get() key=|p| p.key let:p>
                    {
                        let key = p.key;
                        let name = p.name.clone();
                        let label = t.fmt(Msg::AttachProgress, &[("name", &p.name)]);
                        view! {
                            <li class="attach-item">
                                <span class="attach-name">{p.name.clone()}</span>
                                <span class="hint">{human_size(t, p.size)}</span>
                                {move || match (p.error.get(), p.id.get()) {
                                    (Some(e), _) => view! { <span class="error" role="alert">{e}</span> }.into_any(),
                                    (None, Some(_)) => view! { <span class="attach-done">{t.t(Msg::AttachDone)}</span> }.into_any(),
                                    (None, None) => view! {
                                        <progress max="100" value=move || p.progress.get() aria-label=label.clone()></progress>
                                    }.into_any(),
                                }}
                                <button type="button" class="link-button"
                                    aria-label=t.fmt(Msg::AttachRemove, &[("name", &name)])
                                    on:click=move |_| remove(key)>
                                    {t.t(Msg::Remove)}
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
        </fieldset>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    use super::PendingFile;
    use crate::error::AppError;
    use crate::i18n::{I18n, Msg};

    type Start = Option<Box<dyn FnOnce(PendingFile)>>;

    /// The files of a picker or a drop, each with what starts its upload.
    pub fn chosen(t: I18n, list: &web_sys::FileList) -> Vec<(String, i64, Start)> {
        (0..list.length())
            .filter_map(|i| list.get(i))
            .map(|file| {
                let (name, size) = (file.name(), file.size() as i64);
                let start: Start = Some(Box::new(move |p: PendingFile| upload(t, file, p)));
                (name, size, start)
            })
            .collect()
    }

    /// Sends one file with XMLHttpRequest, whose upload events give the progress.
    fn upload(t: I18n, file: web_sys::File, p: PendingFile) {
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            p.error.set(Some(t.t(Msg::AttachFailed).into()));
            return;
        };
        let url = format!("/messagerie/pj?nom={}", crate::encode_query_value(&file.name()));
        if xhr.open("POST", &url).is_err() {
            p.error.set(Some(t.t(Msg::AttachFailed).into()));
            return;
        }
        let kind = file.type_();
        let _ =
            xhr.set_request_header("Content-Type", if kind.is_empty() { "application/octet-stream" } else { &kind });
        let progress = p.progress;
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress.try_set(((e.loaded() / e.total()) * 100.0).min(100.0) as u32);
            }
        });
        if let Ok(up) = xhr.upload() {
            up.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        on_progress.forget();
        let done_xhr = xhr.clone();
        let (id, error) = (p.id, p.error);
        let on_load = Closure::<dyn FnMut()>::new(move || {
            let status = done_xhr.status().unwrap_or(0);
            let text = done_xhr.response_text().ok().flatten().unwrap_or_default();
            if status == 200 {
                match serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["id"].as_i64()) {
                    Some(n) => {
                        progress.try_set(100);
                        id.try_set(Some(n));
                    }
                    None => {
                        error.try_set(Some(t.t(Msg::AttachFailed).into()));
                    }
                }
            } else {
                let message = serde_json::from_str::<AppError>(&text)
                    .map(|e| e.message(t))
                    .unwrap_or_else(|_| t.t(Msg::AttachFailed).into());
                error.try_set(Some(message));
            }
        });
        xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            error.try_set(Some(t.t(Msg::AttachFailed).into()));
        });
        xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            p.error.set(Some(t.t(Msg::AttachFailed).into()));
        }
    }
}
