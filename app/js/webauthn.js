// Hygie's bridge to the browser's WebAuthn API, called from the WebAssembly. The server's
// options and the browser's answers cross as JSON, with binary fields in base64url, the form
// webauthn-rs reads. Loaded as a module of the application's script (CSP: 'self').

const toBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

const toText = (buf) => {
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));

// The reason a ceremony failed, as a word the interface translates.
const reason = (e) => {
  if (!window.PublicKeyCredential) return 'unsupported';
  switch (e && e.name) {
    case 'InvalidStateError': return 'already_registered';
    case 'NotAllowedError': return 'cancelled';
    case 'SecurityError': return 'insecure';
    case 'NotSupportedError': return 'unsupported';
    default: return 'failed';
  }
};

export function webauthnSupported() {
  return !!(window.PublicKeyCredential && navigator.credentials);
}

// Adds a key: `options` is the server's CreationChallengeResponse.
export async function createCredential(options) {
  try {
    const o = JSON.parse(options).publicKey;
    o.challenge = toBytes(o.challenge);
    o.user = { ...o.user, id: toBytes(o.user.id) };
    o.excludeCredentials = withIds(o.excludeCredentials);
    const cred = await navigator.credentials.create({ publicKey: o });
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toText(r.attestationObject),
        clientDataJSON: toText(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
      },
      extensions: cred.getClientExtensionResults(),
    });
  } catch (e) {
    throw reason(e);
  }
}

// Proves a sign-in: `options` is the server's RequestChallengeResponse.
export async function getCredential(options) {
  try {
    const parsed = JSON.parse(options);
    const o = parsed.publicKey;
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = withIds(o.allowCredentials);
    const request = { publicKey: o };
    if (parsed.mediation) request.mediation = parsed.mediation;
    const cred = await navigator.credentials.get(request);
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toText(r.authenticatorData),
        clientDataJSON: toText(r.clientDataJSON),
        signature: toText(r.signature),
        userHandle: r.userHandle ? toText(r.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults(),
    });
  } catch (e) {
    throw reason(e);
  }
}
