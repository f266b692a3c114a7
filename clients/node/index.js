// permsvc-client: a client for permsvc's /v1 permission checks and an Express middleware.
// ESM, no runtime dependencies, Node >= 18 (global fetch, AbortSignal.timeout).
//
//   import { createClient, requirePermission } from 'permsvc-client';
//   const permsvc = createClient({ url: process.env.PERMSVC_URL, credential: process.env.PERMSVC_API_KEY });
//   app.get('/documents/:id', auth(), requirePermission({ client: permsvc, relation: 'can_read',
//     object: (req) => `document:${req.params.id}` }), handler);
//
// A backend acting for a user authenticates as itself (`credential`: a psk_... API key or a
// client-credentials token with the check role) and passes the user's access token as
// `subject_token`; permsvc validates it and answers about that user. Without a credential the
// user's token itself is the bearer credential (a user token may ask about itself).
// Nothing here answers "allowed" unless permsvc, or the token's verified summary, said so.

const VERSION = '0.1.0';
export const MAX_BATCH = 50;
const DEFAULT_TIMEOUT_MS = 5000;

// ------------------------------------------------------------------ errors

export class PermsvcError extends Error {
  constructor(message, { status, code = '', hint = '', wwwAuthenticate = '' } = {}) {
    super(hint ? `${message} (fix: ${hint})` : message);
    this.name = new.target.name;
    this.detail = message;
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.wwwAuthenticate = wwwAuthenticate;
  }
}
/** The user's access token was refused; `detail` is permsvc's diagnosis. */
export class TokenRejectedError extends PermsvcError {}
/** The incoming request carries no bearer token. */
export class MissingTokenError extends PermsvcError {}
/** permsvc refused this service's own credential (401), or it lacks the role or store (403). */
export class CredentialError extends PermsvcError {}
/** permsvc refused the question (400). */
export class InvalidRequestError extends PermsvcError {}
/** The store or model does not exist (404). */
export class NotFoundError extends PermsvcError {}
/** permsvc did not answer: unreachable, timed out, 5xx or 429. */
export class UnavailableError extends PermsvcError {
  constructor(message, options = {}) {
    super(message, options);
    this.retryAfter = options.retryAfter ?? null;
  }
}

// ------------------------------------------------------------------ the claim in the token

/**
 * Read permsvc's permission summary (format v1) from a *verified* token payload. Never throws on
 * bad claim content: `has()` answers true/false from the summary, or null ("ask /v1/check") when
 * the claim is missing, malformed, of an unknown version, older than `minRevision`, or does not
 * cover the relation (never summarised, or dropped for size).
 */
export function parseClaim(tokenClaims, { claimName, minRevision } = {}) {
  if (!claimName) throw new TypeError('parseClaim needs { claimName }');
  const value = tokenClaims ? tokenClaims[claimName] : undefined;
  const unusable = (reason, extra = {}) => claimView({ usable: false, reason, ...extra });
  if (value === undefined || value === null) return unusable(`the token has no '${claimName}' claim`);
  if (typeof value !== 'object' || Array.isArray(value)) return unusable(`the '${claimName}' claim is not an object`);
  const { v: version, rev: revision, p: raw, o: overflow } = value;
  if (!Number.isInteger(version)) return unusable("the summary has no integer format version 'v'");
  if (version !== 1) {
    return unusable(`summary format version ${version} is not supported (this reader knows [1]); upgrade permsvc-client`, { version });
  }
  if (!Number.isInteger(revision) || revision < 0) return unusable("the summary has no revision 'rev'", { version });
  const dropped = value.d === undefined ? [] : value.d;
  const strings = (xs) => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || typeof overflow !== 'boolean' || !strings(dropped)) {
    return unusable("the summary is malformed ('p', 'o' or 'd')", { version, revision });
  }
  const entries = new Map();
  for (const [key, ids] of Object.entries(raw)) {
    if (!key.includes('#') || !strings(ids)) {
      return unusable(`the summary entry '${key}' is malformed`, { version, revision });
    }
    entries.set(key, new Set(ids));
  }
  const stale = minRevision !== undefined && minRevision !== null && revision < minRevision;
  return claimView({
    usable: true,
    reason: stale ? `summary at revision ${revision} is older than the required ${minRevision}` : '',
    version, revision, stale, overflow, dropped: new Set(dropped), entries,
  });
}

function claimView({ usable, reason, version = null, revision = null, stale = false, overflow = false,
  dropped = new Set(), entries = new Map() }) {
  const covers = (type, relation) => usable && !stale && entries.has(`${type}#${relation}`);
  return Object.freeze({
    usable, reason, version, revision, stale, overflow, dropped, entries,
    get complete() { return usable && !stale && !overflow; },
    covers,
    has(relation, object) {
      const i = typeof object === 'string' ? object.indexOf(':') : -1;
      if (i < 0) return null;
      const type = object.slice(0, i);
      if (!covers(type, relation)) return null;
      return entries.get(`${type}#${relation}`).has(object.slice(i + 1));
    },
    objects(type, relation) {
      return covers(type, relation) ? entries.get(`${type}#${relation}`) : null;
    },
  });
}

// ------------------------------------------------------------------ the client

function requireText(name, value) {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
}

function answered(data) {
  return {
    user: data.user,
    storeId: data.store_id,
    authorizationModelId: data.authorization_model_id,
    revision: data.revision,
    consistencyToken: data.consistency_token,
  };
}

const parsers = {
  check: (d) => ({ allowed: Boolean(d.allowed), object: d.object, relation: d.relation, source: 'check', ...answered(d) }),
  batch: (d) => ({
    results: d.results.map((r) => ({
      correlationId: r.correlation_id, object: r.object, relation: r.relation, allowed: Boolean(r.allowed),
      error: r.error ? { code: r.error.code, message: r.error.message } : null,
    })),
    ...answered(d),
  }),
  objects: (d) => ({ objects: [...d.objects], continuationToken: d.continuation_token || '', ...answered(d) }),
  relations: (d) => ({ object: d.object, relations: [...d.relations], ...answered(d) }),
  claims: (d) => ({ claims: d.claims, revision: d.revision, truncated: d.truncated }),
  change: (d) => ({
    storeId: d.store_id, changed: d.changed, revision: d.revision, consistencyToken: d.consistency_token,
    auditId: d.audit_id ?? null,
  }),
};

// Words of permsvc's subject_token refusals that are this deployment's problem, not the user's.
const NOT_THE_USERS_FAULT = ['accepts no access tokens', 'not both', 'is empty'];

// permsvc refused the user's token passed as subject_token (400 or 401, naming it).
function subjectTokenRefused(call, status, message, challenge) {
  if (!call.subjectInBody || (status !== 400 && status !== 401)) return false;
  const text = `${message} ${challenge}`.toLowerCase();
  const about = text.includes('subject_token') || text.includes('subject token');
  return about && !NOT_THE_USERS_FAULT.some((words) => text.includes(words));
}

// permsvc's diagnosis as the API's caller should read it: about their token, not a field they never saw.
function usersView(message) {
  for (const prefix of ['subject_token is not acceptable: ', 'subject_token: ']) {
    if (message.startsWith(prefix)) return message.slice(prefix.length);
  }
  return message;
}

function retryAfter(headers) {
  const n = Number.parseFloat(headers.get('retry-after') ?? '');
  return Number.isFinite(n) ? n : null;
}

async function errorFor(call, response) {
  const { status } = response;
  let code = '';
  let message = '';
  const text = await response.text();
  try {
    const data = JSON.parse(text);
    code = String(data.code ?? '');
    message = String(data.message ?? '');
  } catch {
    message = text.slice(0, 300);
  }
  const wwwAuthenticate = response.headers.get('www-authenticate') ?? '';
  const where = `permsvc answered ${status} to POST ${call.path}`;
  const base = { status, code, wwwAuthenticate };
  if ((status === 401 && call.userTokenAsBearer) || subjectTokenRefused(call, status, message, wwwAuthenticate)) {
    return new TokenRejectedError(usersView(message) || 'the access token was refused',
      { ...base, hint: 'the user must send a valid access token for this API' });
  }
  if (message.includes('accepts no access tokens')) {
    return new CredentialError(`${where}: ${message}`,
      { ...base, hint: "configure permsvc to validate your identity provider's tokens (PERMSVC_OIDC_ISSUER, PERMSVC_OIDC_AUDIENCE)" });
  }
  if (status === 401) {
    return new CredentialError(`${where}: this service's credential was refused: ${message}`,
      { ...base, hint: 'check PERMSVC_API_KEY (a psk_... key that is not revoked) or the client-credentials token' });
  }
  if (status === 403) {
    const hint = call.userTokenAsBearer
      ? "a user's own token may only ask about itself; give the client a service credential with the check role"
      : 'give this service a credential with the role the call needs (check for /v1 queries, claims for /v1/claims, admin for grants) and access to the store';
    return new CredentialError(`${where}: ${message}`, { ...base, hint });
  }
  if (status === 404) return new NotFoundError(`${where}: ${message}`, { ...base, hint: 'check the store id (PERMSVC_STORE)' });
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    return new UnavailableError(`${where}: ${message || 'no usable answer'}`,
      { ...base, retryAfter: retryAfter(response.headers), hint: 'retry later; the middleware denies meanwhile (fail closed)' });
  }
  const hint = code === 'relation_not_found' || code === 'type_not_found'
    ? "use a type and relation of the store's authorization model" : 'fix the request as the message says';
  return new InvalidRequestError(`${where}: ${message}`, { ...base, hint });
}

/**
 * Create a client. One client reuses its connections (Node's fetch keeps them alive): create it
 * once per process.
 * @param {object} options
 * @param {string} options.url permsvc's URL, e.g. http://127.0.0.1:8080
 * @param {string|(() => string|Promise<string>)} [options.credential] this service's API key or
 *   client-credentials token (or a function returning one, called per request)
 * @param {string} [options.storeId] the default store (else the server's PERMSVC_STORE)
 * @param {number} [options.timeoutMs=5000]
 * @param {typeof fetch} [options.fetch] a fetch implementation (tests pass a fake)
 */
export function createClient({ url, credential, storeId, timeoutMs = DEFAULT_TIMEOUT_MS, fetch: fetchImpl } = {}) {
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw new TypeError(`url must be permsvc's http(s) URL (PERMSVC_URL), got ${JSON.stringify(url)}`);
  }
  const baseUrl = url.replace(/\/+$/, '');
  const doFetch = fetchImpl ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new TypeError('no fetch available: Node >= 18 has one, or pass { fetch }');

  async function credentialValue() {
    const value = typeof credential === 'function' ? await credential() : credential;
    return value || null;
  }

  async function query(path, body, parse, opts = {}) {
    const { subjectToken, user, storeId: store, context, contextualTuples, consistencyToken, authorizationModelId } = opts;
    const cred = await credentialValue();
    if (subjectToken !== undefined && user !== undefined) throw new TypeError('pass subjectToken (the user\'s access token) or user, not both');
    if (subjectToken !== undefined) {
      requireText('subjectToken', subjectToken);
      if (/^bearer /i.test(subjectToken)) throw new TypeError("subjectToken is the bare access token: strip the 'Bearer ' prefix");
    }
    if (user !== undefined) requireText('user', user);
    if (cred === null && user !== undefined) {
      throw new TypeError('asking about a named user needs a service credential with the check role: createClient({ credential }) (PERMSVC_API_KEY)');
    }
    if (cred === null && subjectToken === undefined) {
      throw new TypeError("nothing to authenticate with: pass subjectToken (the user's access token), or give the client a service credential to ask about a named user");
    }
    if (cred !== null && subjectToken === undefined && user === undefined) {
      throw new TypeError("name the user: pass subjectToken (the user's access token) or user: 'user:<id>'");
    }
    const out = { ...body };
    if (store || storeId) out.store_id = store || storeId;
    if (user !== undefined) out.user = user;
    const subjectInBody = cred !== null && subjectToken !== undefined;
    if (subjectInBody) out.subject_token = subjectToken;
    if (context !== undefined) out.context = context;
    if (contextualTuples !== undefined) out.contextual_tuples = contextualTuples;
    if (consistencyToken) out.consistency_token = consistencyToken;
    if (authorizationModelId) out.authorization_model_id = authorizationModelId;
    return send({ path, body: out, parse, bearer: cred ?? subjectToken, subjectInBody, userTokenAsBearer: cred === null });
  }

  async function admin(path, body, parse, store) {
    const cred = await credentialValue();
    if (cred === null) throw new TypeError(`${path} needs a service credential: createClient({ credential }) (PERMSVC_API_KEY)`);
    const out = { ...body };
    if (store || storeId) out.store_id = store || storeId;
    return send({ path, body: out, parse, bearer: cred, subjectInBody: false, userTokenAsBearer: false });
  }

  async function send(call) {
    let response;
    try {
      response = await doFetch(`${baseUrl}${call.path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${call.bearer}`,
          'user-agent': `permsvc-client-node/${VERSION}`,
        },
        body: JSON.stringify(call.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
        throw new UnavailableError(`permsvc at ${baseUrl} did not answer POST ${call.path} within ${timeoutMs} ms`,
          { hint: "raise the client's timeoutMs or check permsvc's load" });
      }
      throw new UnavailableError(`permsvc at ${baseUrl} is unreachable for POST ${call.path}: ${err?.cause?.code ?? err?.message ?? err}`,
        { hint: 'check PERMSVC_URL and that permsvc is running' });
    }
    if (response.status < 200 || response.status > 299) throw await errorFor(call, response);
    let data;
    try {
      data = await response.json();
      return call.parse(data);
    } catch (err) {
      throw new UnavailableError(`permsvc answered POST ${call.path} with an unreadable body (${err.message})`,
        { status: response.status, hint: 'is PERMSVC_URL a permsvc server (and a compatible version)?' });
    }
  }

  function splitChecks(checks) {
    if (!Array.isArray(checks) || checks.length === 0) throw new TypeError('batchCheck needs { checks: [{ relation, object }, ...] } (at least one)');
    const items = checks.map((c, i) => {
      requireText('relation', c?.relation);
      requireText('object', c?.object);
      const item = { relation: c.relation, object: c.object, correlation_id: c.correlationId || String(i) };
      if (c.context !== undefined) item.context = c.context;
      if (c.contextualTuples !== undefined) item.contextual_tuples = c.contextualTuples;
      return item;
    });
    const parts = [];
    for (let i = 0; i < items.length; i += MAX_BATCH) parts.push(items.slice(i, i + MAX_BATCH));
    return parts;
  }

  const client = {
    url: baseUrl,
    storeId,

    /** May the user (of subjectToken, or user) `relation` the `object`? */
    async check({ relation, object, ...opts } = {}) {
      requireText('relation', relation);
      requireText('object', object);
      return query('/v1/check', { relation, object }, parsers.check, opts);
    },

    /** Many checks for one user; 50 per request (more are split, results in order). */
    async batchCheck({ checks, ...opts } = {}) {
      const parts = [];
      for (const part of splitChecks(checks)) parts.push(await query('/v1/check/batch', { checks: part }, parsers.batch, opts));
      if (parts.length === 1) return parts[0];
      const oldest = parts.reduce((a, b) => (b.revision < a.revision ? b : a));
      return { ...oldest, results: parts.flatMap((p) => p.results) };
    },

    /** The objects (in order) the user may `relation`, in one batch per 50. */
    async filterAllowed({ relation, objects, ...opts } = {}) {
      if (!Array.isArray(objects) || objects.length === 0) return [];
      const result = await client.batchCheck({ checks: objects.map((object) => ({ relation, object })), ...opts });
      return objects.filter((_, i) => result.results[i].allowed && !result.results[i].error);
    },

    /** One page of the objects of `type` the user may `relation`. */
    async listObjects({ type, relation, pageSize, continuationToken, ...opts } = {}) {
      requireText('type', type);
      requireText('relation', relation);
      const body = { type, relation };
      if (pageSize !== undefined) body.page_size = pageSize;
      if (continuationToken) body.continuation_token = continuationToken;
      return query('/v1/objects', body, parsers.objects, opts);
    },

    /** The relations (default: all of the type) the user has on `object`. */
    async listRelations({ object, relations, ...opts } = {}) {
      requireText('object', object);
      const body = { object };
      if (relations !== undefined) body.relations = relations;
      return query('/v1/relations', body, parsers.relations, opts);
    },

    /**
     * The coarse check: from the verified token's permission summary when it covers `relation`
     * on `object`'s type and is fresh (source 'claim'), else /v1/check (source 'check').
     */
    async readClaim(tokenClaims, { relation, object, claimName, minRevision, ...opts } = {}) {
      requireText('relation', relation);
      requireText('object', object);
      const view = parseClaim(tokenClaims, { claimName, minRevision });
      const allowed = view.has(relation, object);
      if (allowed !== null) {
        return { allowed, object, relation, source: 'claim', revision: view.revision, user: '', storeId: storeId ?? '',
          authorizationModelId: '', consistencyToken: '' };
      }
      return client.check({ relation, object, ...opts });
    },

    /** POST /v1/claims (claims role): the summary a token for `userId` would carry. */
    async claims({ userId, audience, clientId, storeId: store } = {}) {
      requireText('userId', userId);
      const body = { user_id: userId };
      if (audience) body.audience = audience;
      if (clientId) body.client_id = clientId;
      return admin('/v1/claims', body, parsers.claims, store);
    },

    /** POST /v1/admin/grants (admin role): one revision; existing grants are skipped. */
    async grant(tuples, { storeId: store } = {}) {
      if (!Array.isArray(tuples) || tuples.length === 0) throw new TypeError('grant needs [{ object, relation, user }, ...]');
      return admin('/v1/admin/grants', { tuples }, parsers.change, store);
    },

    /** POST /v1/admin/revokes (admin role). */
    async revoke(tuples, { storeId: store } = {}) {
      if (!Array.isArray(tuples) || tuples.length === 0) throw new TypeError('revoke needs [{ object, relation, user }, ...]');
      return admin('/v1/admin/revokes', { tuples }, parsers.change, store);
    },

    /** POST /v1/admin/tuples/delete (admin role): every tuple matching the filter. */
    async deleteTuples({ object, relation, user, storeId: store } = {}) {
      const body = Object.fromEntries(Object.entries({ object, relation, user }).filter(([, v]) => v));
      if (Object.keys(body).length === 0) throw new TypeError('deleteTuples needs a filter: object, relation and/or user');
      return admin('/v1/admin/tuples/delete', body, parsers.change, store);
    },
  };
  return Object.freeze(client);
}

/** createClient from PERMSVC_URL, PERMSVC_API_KEY, PERMSVC_STORE, PERMSVC_TIMEOUT_MS. */
export function clientFromEnv(overrides = {}) {
  const env = process.env;
  return createClient({
    url: env.PERMSVC_URL,
    credential: env.PERMSVC_API_KEY || undefined,
    storeId: env.PERMSVC_STORE || undefined,
    timeoutMs: env.PERMSVC_TIMEOUT_MS ? Number(env.PERMSVC_TIMEOUT_MS) : undefined,
    ...overrides,
  });
}

// ------------------------------------------------------------------ Express middleware

/** The token of `Authorization: Bearer <token>`; MissingTokenError otherwise. */
export function bearerToken(authorization) {
  if (!authorization) throw new MissingTokenError("this API needs an access token: send 'Authorization: Bearer <token>'", { status: 401 });
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) throw new MissingTokenError("the Authorization header must be 'Bearer <access token>' (one token, no other scheme)", { status: 401 });
  return m[1];
}

/**
 * Explain a token that cannot be a signed JWT access token, without verifying anything: the
 * encrypted token (5-segment JWE, alg 'dir') Auth0 issues when the login asked for no audience.
 * @returns {string|null}
 */
export function explainToken(token, { audience } = {}) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 5) return null;
  let header;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!header || header.alg !== 'dir') return null;
  const fix = audience ? `request the token with audience=${audience}` : "request the token with your API's identifier as audience";
  const userinfo = typeof header.iss === 'string' ? `, and only ${header.iss.replace(/\/?$/, '/')}userinfo accepts it` : '';
  return `the token is encrypted (a 5-segment JWE, alg 'dir', enc '${header.enc ?? '?'}'), not a signed JWT access token: `
    + `this is what Auth0 issues when the login asked for no audience${userinfo}; fix: ${fix}`;
}

const quote = (s) => String(s).replace(/\\/g, '/').replace(/"/g, "'");

function reply(res, status, code, message, headers = {}) {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ code, message }));
}

function failure(err, realm) {
  if (err instanceof MissingTokenError) return [401, 'unauthenticated', err.detail, { 'www-authenticate': `Bearer realm="${realm}"` }];
  if (err instanceof TokenRejectedError) {
    return [401, 'invalid_token', err.detail,
      { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="${quote(err.detail)}"` }];
  }
  if (err instanceof InvalidRequestError) return [400, 'invalid_request', err.detail, {}];
  if (err instanceof UnavailableError) {
    console.warn(`permsvc unavailable, denying (fail closed): ${err.message}`);
    return [503, 'unavailable', 'the permission service is unavailable; retry later', { 'retry-after': String(Math.trunc(err.retryAfter ?? 1)) }];
  }
  if (err instanceof PermsvcError) {
    console.error(`permsvc refused this service, denying: ${err.message}`);
    return [503, 'unavailable', 'the permission service cannot decide this request; retry later', { 'retry-after': '5' }];
  }
  return null;
}

/**
 * Express middleware: allow the request only if permsvc says the caller may `relation` the
 * object. Forwards the request's bearer token (req.auth.token from express-oauth2-jwt-bearer's
 * auth(), else the Authorization header) as subject_token. Several checks (`checks`) go as one
 * batch; with `claimName` the verified token's summary (req.auth.payload) answers first.
 * 403 when denied, 401 for a missing or refused token (permsvc's diagnosis in `message` and
 * WWW-Authenticate), 503 + Retry-After when permsvc cannot decide (fail closed).
 * On success `req.permsvc = { results, subjectToken }`.
 */
export function requirePermission({ client, relation, object, checks, claimName, realm = 'api' } = {}) {
  if (!client || typeof client.check !== 'function') throw new TypeError('requirePermission needs { client } (createClient(...))');
  const wanted = [...(relation !== undefined || object !== undefined ? [{ relation, object }] : []), ...(checks ?? [])];
  if (wanted.length === 0) throw new TypeError('requirePermission needs { relation, object } or { checks: [...] }');
  for (const w of wanted) {
    requireText('relation', w.relation);
    if (typeof w.object !== 'function' && (typeof w.object !== 'string' || !w.object.includes(':'))) {
      throw new TypeError(`object must be 'type:id' or a function (req) => 'type:id', got ${JSON.stringify(w.object)}`);
    }
  }

  return async function permsvcRequirement(req, res, next) {
    let asked;
    try {
      const subjectToken = req.auth?.token ?? bearerToken(req.headers?.authorization);
      asked = [];
      for (const w of wanted) {
        const obj = typeof w.object === 'function' ? await w.object(req) : w.object;
        if (typeof obj !== 'string' || !obj.includes(':')) throw new TypeError(`the object function must return 'type:id', got ${JSON.stringify(obj)}`);
        asked.push({ relation: w.relation, object: obj });
      }
      const view = claimName ? parseClaim(req.auth?.payload, { claimName }) : null;
      const results = asked.map((a) => {
        const allowed = view ? view.has(a.relation, a.object) : null;
        return allowed === null ? null : { ...a, allowed, source: 'claim', revision: view.revision };
      });
      const remote = asked.map((a, i) => [i, a]).filter(([i]) => results[i] === null);
      if (remote.length === 1) {
        const [[i, a]] = remote;
        results[i] = await client.check({ ...a, subjectToken });
      } else if (remote.length > 1) {
        const batch = await client.batchCheck({ checks: remote.map(([, a]) => a), subjectToken });
        batch.results.forEach((r, k) => {
          if (r.error) throw new InvalidRequestError(`permsvc could not check ${r.relation} on ${r.object}: ${r.error.message}`, { status: 400, code: r.error.code });
          results[remote[k][0]] = { ...r, source: 'check', revision: batch.revision, user: batch.user };
        });
      }
      const denied = results.filter((r) => !r.allowed);
      if (denied.length) {
        return reply(res, 403, 'forbidden', `permission denied: ${denied.map((r) => `${r.relation} on ${r.object}`).join(', ')}`);
      }
      req.permsvc = { results, subjectToken };
      return next();
    } catch (err) {
      const f = failure(err, realm);
      if (f === null) return next(err);
      return reply(res, ...f);
    }
  };
}

/**
 * Express error handler for express-oauth2-jwt-bearer's errors: answers them as JSON
 * `{code, message}` with their status and WWW-Authenticate, and replaces the opaque
 * "Invalid Compact JWS" of Auth0's no-audience token with what is wrong and how to fix it.
 */
export function explainTokenErrors({ audience, realm = 'api' } = {}) {
  return function permsvcTokenErrors(err, req, res, next) {
    const status = err?.status ?? err?.statusCode;
    if (!err || (status !== 401 && status !== 400 && status !== 403) || res.headersSent) return next(err);
    let token = null;
    try {
      token = bearerToken(req.headers?.authorization);
    } catch { /* no token: keep the original error */ }
    const jwe = status === 401 ? explainToken(token, { audience }) : null;
    if (jwe) {
      return reply(res, 401, 'invalid_token', jwe,
        { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="${quote(jwe)}"` });
    }
    const headers = {};
    for (const [k, v] of Object.entries(err.headers ?? {})) headers[k.toLowerCase()] = v;
    return reply(res, status, err.code || (status === 401 ? 'unauthenticated' : 'invalid_request'), err.message, headers);
  };
}
