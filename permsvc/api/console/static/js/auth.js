// Logging in: an API key, or (when configured) the issuer's authorization-code flow with PKCE.
import { ApiError, get, setCredential } from "./api.js";

const PKCE = "permsvc.console.pkce";

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return b64url(bytes);
}

async function discovery(issuer) {
  const base = issuer.endsWith("/") ? issuer : issuer + "/";
  const response = await fetch(base + ".well-known/openid-configuration");
  if (!response.ok) throw new Error(`the issuer's discovery document answered ${response.status}`);
  return response.json();
}

function redirectUri() {
  return location.origin + "/console";
}

export async function startOidc(config) {
  const meta = await discovery(config.oidc_issuer);
  const verifier = randomString(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = randomString(16);
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const url = new URL(meta.authorization_endpoint);
  const scopes = ["openid", ...config.oidc_scopes.split(" ").filter(Boolean)];
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.oidc_client_id,
    redirect_uri: redirectUri(),
    scope: scopes.join(" "),
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    ...(config.oidc_audience ? { audience: config.oidc_audience, resource: config.oidc_audience } : {}),
  }).toString();
  location.assign(url.toString());
}

// Back from the issuer with ?code=...&state=...: trade the code for tokens.
export async function finishOidc(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return false;
  history.replaceState(null, "", "/console" + location.hash);
  if (params.has("error")) {
    throw new Error(`the identity provider refused: ${params.get("error_description") || params.get("error")}`);
  }
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  if (!saved || saved.state !== params.get("state")) throw new Error("the login's state does not match; start again");
  const meta = await discovery(config.oidc_issuer);
  const response = await fetch(meta.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: config.oidc_client_id,
      code_verifier: saved.verifier,
    }),
  });
  const tokens = await response.json();
  if (!response.ok || !tokens.access_token) {
    throw new Error(`the token endpoint refused: ${tokens.error_description || tokens.error || response.status}`);
  }
  const claims = jwtClaims(tokens.access_token);
  setCredential({
    kind: "oidc",
    token: tokens.access_token,
    label: claims.sub || "signed in",
    scopes: String(claims.scope || (claims.permissions || []).join(" ")).split(" ").filter(Boolean),
  });
  return true;
}

export function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return {};
  }
}

export async function loginWithKey(key) {
  setCredential({ kind: "key", token: key, label: key.startsWith("psk_") ? key.slice(0, 12) + "…" : "API key" });
  try {
    await get("/v1/whoami");
  } catch (err) {
    setCredential(null);
    if (err instanceof ApiError && err.status === 401) throw new Error("this API key was not accepted");
    throw err;
  }
}
