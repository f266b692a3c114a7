/**
 * permsvc claim feed -- Auth0 post-login Action (Node 18/22 runtime, no dependencies).
 *
 * Puts permsvc's permission summary into the access token of the configured API(s):
 * a namespaced claim such as "https://permsvc.example.com/perms" holding
 *   {"v":1,"rev":42,"p":{"project#viewer":["apollo"]},"o":false}
 * computed by permsvc from the real permission graph (never from user_metadata, which users
 * can edit). Paste this file into Actions > Library > Build Custom > post-login, add the
 * secrets below, deploy, and drag it into the Login flow.
 *
 * Secrets (event.secrets):
 *   PERMSVC_URL         base URL of permsvc, e.g. https://authz.example.com  (required)
 *   PERMSVC_CLAIMS_KEY  an API key with the "claims" role (permsvc admin create-key --roles claims)  (required)
 *   PERMSVC_AUDIENCES   comma-separated API identifiers whose tokens get the claim  (required)
 *   PERMSVC_STORE_ID    store to summarise (optional; permsvc's default store otherwise)
 *   PERMSVC_TIMEOUT_MS  how long to wait for permsvc, default 3000, at most 10000
 *   PERMSVC_FAIL_MODE   "open" (default): on any failure log and issue the token without the
 *                       claim -- APIs then call /v1/check for everything;
 *                       "closed": deny the login instead
 *   PERMSVC_ID_TOKEN    "true" to copy the claim into the ID token too (UI hints only; an ID
 *                       token is never an authorization credential)
 *
 * The Action never throws (Auth0: "Actions should never intentionally throw an error"):
 * timeouts, network errors, non-2xx answers, malformed bodies and bad configuration all end
 * in the fail mode above. Logins for other audiences (or none) are left untouched and cost no
 * request.
 */

const DEFAULT_TIMEOUT_MS = 3000;
const MAX_TIMEOUT_MS = 10000;
const MAX_BODY_CHARS = 65536;

class FeedError extends Error {}

function settingsFrom(secrets) {
  const s = secrets || {};
  const url = (s.PERMSVC_URL || '').trim().replace(/\/+$/, '');
  const key = (s.PERMSVC_CLAIMS_KEY || '').trim();
  const audiences = (s.PERMSVC_AUDIENCES || '').split(',').map((a) => a.trim()).filter(Boolean);
  const failClosed = (s.PERMSVC_FAIL_MODE || 'open').trim().toLowerCase() === 'closed';
  const parsed = Number.parseInt(s.PERMSVC_TIMEOUT_MS || '', 10);
  const timeoutMs = Number.isFinite(parsed) && parsed > 0 ? Math.min(parsed, MAX_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS;
  const problems = [];
  if (!/^https?:\/\//.test(url)) problems.push('PERMSVC_URL must be an http(s) URL');
  if (!key) problems.push('PERMSVC_CLAIMS_KEY is empty');
  if (audiences.length === 0) problems.push('PERMSVC_AUDIENCES is empty');
  return {
    url,
    key,
    audiences,
    failClosed,
    timeoutMs,
    storeId: (s.PERMSVC_STORE_ID || '').trim(),
    idToken: (s.PERMSVC_ID_TOKEN || '').trim().toLowerCase() === 'true',
    problems,
  };
}

async function fetchClaims(settings, body) {
  let response;
  try {
    response = await fetch(`${settings.url}/v1/claims`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${settings.key}`,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (err) {
    const timedOut = err && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new FeedError(timedOut ? `no answer within ${settings.timeoutMs} ms` : `request failed: ${err && err.message}`);
  }
  let text;
  try {
    text = await response.text();
  } catch (err) {
    throw new FeedError(`reading the answer failed: ${err && err.message}`);
  }
  if (!response.ok) {
    let detail = '';
    try {
      detail = JSON.parse(text).message || '';
    } catch (_) {
      detail = '';
    }
    throw new FeedError(`permsvc answered ${response.status}${detail ? `: ${String(detail).slice(0, 200)}` : ''}`);
  }
  if (text.length > MAX_BODY_CHARS) throw new FeedError(`answer of ${text.length} characters is too large`);
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (_) {
    throw new FeedError('answer is not JSON');
  }
  const claims = parsed && parsed.claims;
  if (!claims || typeof claims !== 'object' || Array.isArray(claims) || Object.keys(claims).length === 0) {
    throw new FeedError('answer has no "claims" object');
  }
  for (const [name, value] of Object.entries(claims)) {
    if (!/^https?:\/\//.test(name) || !value || typeof value !== 'object') {
      throw new FeedError(`answer holds an unexpected claim ${JSON.stringify(name).slice(0, 100)}`);
    }
  }
  return { claims, revision: parsed.revision, truncated: parsed.truncated === true };
}

function fail(api, settings, reason) {
  console.log(`permsvc claim feed: ${reason} (${settings.failClosed ? 'denying the login' : 'issuing the token without the claim'})`);
  if (settings.failClosed) {
    api.access.deny('Permissions are temporarily unavailable. Please try again.');
  }
}

/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  let settings = { failClosed: false };
  try {
    settings = settingsFrom(event.secrets);
    const audience = event.resource_server && event.resource_server.identifier;
    if (settings.problems.length > 0) {
      fail(api, settings, `misconfigured: ${settings.problems.join('; ')}`);
      return;
    }
    if (!audience || !settings.audiences.includes(audience)) return;
    const body = {
      user_id: event.user.user_id,
      audience,
      client_id: event.client && event.client.client_id,
    };
    if (settings.storeId) body.store_id = settings.storeId;
    const result = await fetchClaims(settings, body);
    for (const [name, value] of Object.entries(result.claims)) {
      api.accessToken.setCustomClaim(name, value);
      if (settings.idToken) api.idToken.setCustomClaim(name, value);
    }
    if (result.truncated) {
      console.log(`permsvc claim feed: summary at revision ${result.revision} is truncated; APIs will call /v1/check`);
    }
  } catch (err) {
    try {
      fail(api, settings, err instanceof FeedError ? err.message : `unexpected error: ${err && err.message}`);
    } catch (_) {
      // api.access.deny itself failed: nothing more an Action can do without throwing.
    }
  }
};

exports.settingsFrom = settingsFrom;
