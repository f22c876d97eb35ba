//! A software authenticator for tests: it answers WebAuthn options as a browser with a passkey
//! would (ES256 keys, "none" attestation, user present and verified), so that store and API tests
//! run real ceremonies end to end. Only built with the `test-support` feature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_cbor_2::Value;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// One credential the authenticator made.
pub struct SoftKey {
    pub id: Vec<u8>,
    key: SigningKey,
    user_handle: Vec<u8>,
    /// The signature counter, raised before each signature.
    pub counter: u32,
}

impl Clone for SoftKey {
    fn clone(&self) -> Self {
        SoftKey {
            id: self.id.clone(),
            key: self.key.clone(),
            user_handle: self.user_handle.clone(),
            counter: self.counter,
        }
    }
}

/// A set of passkeys for one origin.
pub struct SoftAuthenticator {
    origin: String,
    rp_id: String,
    pub keys: Vec<SoftKey>,
    /// Whether the person is verified (PIN, biometrics): passkeys require it.
    pub user_verified: bool,
}

fn b64(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    B64URL.decode(s.trim_end_matches('=')).expect("base64url from the server")
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

impl SoftAuthenticator {
    /// For the site at `origin` (`https://host:port`); the relying party id is its host.
    pub fn new(origin: &str) -> SoftAuthenticator {
        let rp_id =
            origin.split("://").nth(1).unwrap_or(origin).split([':', '/']).next().unwrap_or_default().to_string();
        SoftAuthenticator {
            origin: origin.trim_end_matches('/').to_string(),
            rp_id,
            keys: Vec::new(),
            user_verified: true,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut f = 0x01; // user present
        if self.user_verified {
            f |= 0x04;
        }
        if attested {
            f |= 0x40;
        }
        f
    }

    /// Answers `navigator.credentials.create` options (the server's JSON): a new key, unless
    /// one of ours is excluded (`Err`, as a browser's InvalidStateError).
    pub fn create(&mut self, options: &str) -> Result<String, &'static str> {
        let o: Json = serde_json::from_str(options).expect("options are JSON");
        let pk = &o["publicKey"];
        let excluded: Vec<Vec<u8>> = pk["excludeCredentials"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["id"].as_str()).map(unb64).collect())
            .unwrap_or_default();
        if self.keys.iter().any(|k| excluded.contains(&k.id)) {
            return Err("InvalidStateError");
        }
        let key = SigningKey::from_slice(&random_bytes::<32>()).expect("a random scalar is a key");
        let user_handle = unb64(pk["user"]["id"].as_str().expect("user id"));
        let key = SoftKey { id: random_bytes::<32>().to_vec(), key, user_handle, counter: 0 };
        let answer = self.attest(pk, &key);
        self.keys.push(key);
        Ok(answer)
    }

    /// Answers registration options with one of our existing keys, ignoring the exclusion list:
    /// what a hostile client would send to bind a key already registered elsewhere.
    pub fn create_reusing(&mut self, options: &str, index: usize) -> String {
        let o: Json = serde_json::from_str(options).expect("options are JSON");
        let key = self.keys[index].clone();
        self.attest(&o["publicKey"], &key)
    }

    fn attest(&self, pk: &Json, key: &SoftKey) -> String {
        let challenge = pk["challenge"].as_str().expect("challenge");
        let id = key.id.clone();
        let point = key.key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..].split_at(32);
        let cose = Value::Map(
            [
                (Value::Integer(1), Value::Integer(2)),
                (Value::Integer(3), Value::Integer(-7)),
                (Value::Integer(-1), Value::Integer(1)),
                (Value::Integer(-2), Value::Bytes(x.to_vec())),
                (Value::Integer(-3), Value::Bytes(y.to_vec())),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).expect("cbor"));
        let attestation = Value::Map(
            [
                (Value::Text("fmt".into()), Value::Text("none".into())),
                (Value::Text("attStmt".into()), Value::Map(Default::default())),
                (Value::Text("authData".into()), Value::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        let client_data = self.client_data("webauthn.create", challenge);
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation).expect("cbor")),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// Answers `navigator.credentials.get` options with the first of our keys they allow (any,
    /// for a discoverable sign-in). `None` when no key of ours fits.
    pub fn get(&mut self, options: &str) -> Option<String> {
        let o: Json = serde_json::from_str(options).expect("options are JSON");
        let pk = &o["publicKey"];
        let allowed: Vec<Vec<u8>> = pk["allowCredentials"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["id"].as_str()).map(unb64).collect())
            .unwrap_or_default();
        let challenge = pk["challenge"].as_str().expect("challenge").to_string();
        let index = self.keys.iter().position(|k| allowed.is_empty() || allowed.contains(&k.id))?;
        self.keys[index].counter += 1;
        let flags = self.flags(false);
        let key = &self.keys[index];
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&key.counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", &challenge);
        let signed = [auth_data.as_slice(), Sha256::digest(&client_data).as_slice()].concat();
        let signature: Signature = key.key.sign(&signed);
        Some(
            json!({
                "id": b64(&key.id),
                "rawId": b64(&key.id),
                "type": "public-key",
                "response": {
                    "authenticatorData": b64(&auth_data),
                    "clientDataJSON": b64(&client_data),
                    "signature": b64(signature.to_der().as_bytes()),
                    "userHandle": b64(&key.user_handle),
                },
                "extensions": {},
            })
            .to_string(),
        )
    }
}
