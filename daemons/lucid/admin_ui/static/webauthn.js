// navigator.credentials with the JSON forms the API speaks: options arrive as
// PublicKeyCredential{Creation,Request}OptionsJSON, results leave as PublicKeyCredential.toJSON().
const b64u = {
  decode(s) {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  },
  encode(buf) {
    let s = "";
    for (const byte of new Uint8Array(buf)) s += String.fromCharCode(byte);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  return { ...json, challenge: b64u.decode(json.challenge), user: { ...json.user, id: b64u.decode(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: b64u.decode(c.id) })) };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: b64u.decode(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: b64u.decode(c.id) })) };
}

function toJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response, out = {};
  for (const k of ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]) {
    if (r[k]) out[k] = b64u.encode(r[k]);
  }
  if (r.getTransports) out.transports = r.getTransports();
  return { id: cred.id, rawId: b64u.encode(cred.rawId), type: cred.type, response: out,
    authenticatorAttachment: cred.authenticatorAttachment ?? null,
    clientExtensionResults: cred.getClientExtensionResults() };
}

export async function create(publicKey) {
  return toJSON(await navigator.credentials.create({ publicKey: creationOptions(publicKey) }));
}

export async function get(publicKey) {
  return toJSON(await navigator.credentials.get({ publicKey: requestOptions(publicKey) }));
}
