//! The browser's side of passkeys: the server's options go to `navigator.credentials` through a
//! small script (`app/js/webauthn.js`, a module of the application's own script, so the CSP's
//! `'self'` covers it), and its answer comes back as JSON for the server to verify.

use crate::error::AppError;

#[cfg(feature = "hydrate")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/webauthn.js")]
    extern "C" {
        #[wasm_bindgen(js_name = webauthnSupported)]
        pub fn supported() -> bool;
        #[wasm_bindgen(catch, js_name = createCredential)]
        pub async fn create(options: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_name = getCredential)]
        pub async fn get(options: &str) -> Result<JsValue, JsValue>;
    }
}

/// Whether this browser can use passkeys at all (false while rendering on the server).
pub fn supported() -> bool {
    #[cfg(feature = "hydrate")]
    return js::supported();
    #[cfg(not(feature = "hydrate"))]
    false
}

#[cfg(feature = "hydrate")]
fn answer(r: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>) -> Result<String, AppError> {
    match r {
        Ok(v) => v.as_string().ok_or_else(|| AppError::KeyRefused { reason: "failed".into() }),
        Err(e) => Err(AppError::KeyRefused { reason: e.as_string().unwrap_or_else(|| "failed".into()) }),
    }
}

/// Asks the browser to make a new key with the server's registration `options`.
pub async fn create_credential(options: String) -> Result<String, AppError> {
    #[cfg(feature = "hydrate")]
    return answer(js::create(&options).await);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(AppError::KeyRefused { reason: "unsupported".into() })
    }
}

/// Asks the browser for a key's signature over the server's sign-in `options`.
pub async fn get_credential(options: String) -> Result<String, AppError> {
    #[cfg(feature = "hydrate")]
    return answer(js::get(&options).await);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(AppError::KeyRefused { reason: "unsupported".into() })
    }
}

#[cfg(feature = "hydrate")]
mod phone_js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/phone.js")]
    extern "C" {
        #[wasm_bindgen(js_name = registerWorker)]
        pub fn register_worker();
        #[wasm_bindgen(js_name = subscribePush)]
        pub async fn subscribe_push(vapid: &str) -> JsValue;
        #[wasm_bindgen(js_name = saveDevice)]
        pub fn save_device(token: &str);
        #[wasm_bindgen(js_name = loadDevice)]
        pub fn load_device() -> String;
    }
}

/// A phone's push subscription, as its browser made it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PushSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Installs the service worker (static files, push notifications).
pub fn register_worker() {
    #[cfg(feature = "hydrate")]
    phone_js::register_worker();
}

/// Subscribes this browser to pushes signed with `vapid`; an empty subscription when it cannot.
pub async fn subscribe_push(vapid: String) -> PushSubscription {
    #[cfg(feature = "hydrate")]
    {
        let json = phone_js::subscribe_push(&vapid).await.as_string().unwrap_or_default();
        return serde_json::from_str(&json).unwrap_or_default();
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = vapid;
        PushSubscription::default()
    }
}

/// Keeps this phone's device token (in the browser's storage, for the app).
pub fn save_device(token: &str) {
    #[cfg(feature = "hydrate")]
    phone_js::save_device(token);
    #[cfg(not(feature = "hydrate"))]
    let _ = token;
}

/// This phone's device token, if it was added.
pub fn load_device() -> String {
    #[cfg(feature = "hydrate")]
    return phone_js::load_device();
    #[cfg(not(feature = "hydrate"))]
    String::new()
}
