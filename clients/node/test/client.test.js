// Unit tests of permsvc-client against a fake fetch: what goes on the wire, typed answers,
// batching, the claim reader, every error class, and the middleware's answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createClient, parseClaim, requirePermission, explainToken, explainTokenErrors, bearerToken,
  TokenRejectedError, CredentialError, InvalidRequestError, NotFoundError, UnavailableError,
} from '../index.js';

const KEY = 'psk_service_secret';
const CLAIM = 'https://permsvc.example.com/perms';
const answered = (user, revision = 7) => ({
  user, store_id: '01STORE', authorization_model_id: '01MODEL', revision, consistency_token: `v1.tok${revision}`,
});
const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function fakePermsvc(allowed = new Set(['user:alice|can_read|document:a', 'user:alice|can_read|folder:f'])) {
  const calls = [];
  const state = { mode: 'ok' };
  const users = { 'alice-token': 'user:alice' };
  async function fetch(url, init) {
    const body = JSON.parse(init.body);
    const path = new URL(url).pathname;
    calls.push({ path, body, headers: init.headers });
    if (state.mode === 'down') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    if (state.mode === 'slow') { const e = new Error('timed out'); e.name = 'TimeoutError'; throw e; }
    if (state.mode === '503') return json(503, { code: 'unavailable', message: 'database unavailable' }, { 'retry-after': '3' });
    if (state.mode === 'garbage') return new Response('<html>', { status: 200 });
    const bearer = init.headers.authorization.replace('Bearer ', '');
    let user;
    if (bearer === KEY) {
      if (body.subject_token === 'jwe-token') return json(400, { code: 'invalid_request', message: 'subject_token is not acceptable: the token is encrypted (JWE): request the token with audience=https://my-api' });
      if (body.subject_token === 'no-oidc') return json(400, { code: 'invalid_request', message: 'subject_token cannot be verified: this permsvc accepts no access tokens (PERMSVC_OIDC_ISSUER is not set)' });
      if (body.subject_token === 'forged') return json(401, { code: 'unauthenticated', message: "subject_token: the token's signature does not verify" });
      user = users[body.subject_token] ?? body.user;
    } else if (users[bearer]) {
      user = users[bearer];
    } else if (bearer === 'jwe-token') {
      return json(401, { code: 'unauthenticated', message: 'the token is encrypted (JWE): request the token with audience=https://my-api' });
    } else {
      return json(401, { code: 'unauthenticated', message: "API key 'x' is unknown or revoked" });
    }
    if (path === '/v1/check') {
      if (body.relation === 'nope') return json(400, { code: 'relation_not_found', message: "relation 'document#nope' not found" });
      if (body.store_id === 'missing') return json(404, { code: 'store_id_not_found', message: 'store not found' });
      return json(200, { ...answered(user), allowed: allowed.has(`${user}|${body.relation}|${body.object}`), object: body.object, relation: body.relation });
    }
    if (path === '/v1/check/batch') {
      return json(200, { ...answered(user, calls.length), results: body.checks.map((c) => ({ correlation_id: c.correlation_id, object: c.object, relation: c.relation, allowed: allowed.has(`${user}|${c.relation}|${c.object}`) })) });
    }
    if (path === '/v1/objects') return json(200, { ...answered(user), objects: ['document:a'], continuation_token: '' });
    if (path === '/v1/relations') return json(200, { ...answered(user), object: body.object, relations: ['can_read'] });
    return json(404, { code: 'undefined_endpoint', message: 'Not Found' });
  }
  return { fetch, calls, state };
}

test('a service credential forwards the user token as subject_token', async () => {
  const fake = fakePermsvc();
  const permsvc = createClient({ url: 'http://permsvc.test/', credential: KEY, storeId: '01STORE', fetch: fake.fetch });
  const result = await permsvc.check({ relation: 'can_read', object: 'document:a', subjectToken: 'alice-token' });
  assert.equal(result.allowed, true);
  assert.equal(result.source, 'check');
  assert.equal(result.consistencyToken, 'v1.tok7');
  assert.equal(fake.calls[0].headers.authorization, `Bearer ${KEY}`);
  assert.equal(fake.calls[0].headers['content-type'], 'application/json');
  assert.deepEqual(fake.calls[0].body, { relation: 'can_read', object: 'document:a', store_id: '01STORE', subject_token: 'alice-token' });
});

test('without a credential the user token is the bearer', async () => {
  const fake = fakePermsvc();
  const permsvc = createClient({ url: 'http://permsvc.test', fetch: fake.fetch });
  assert.equal((await permsvc.check({ relation: 'can_read', object: 'document:z', subjectToken: 'alice-token' })).allowed, false);
  assert.equal(fake.calls[0].headers.authorization, 'Bearer alice-token');
  assert.equal('subject_token' in fake.calls[0].body, false);
});

test('unclear users are refused before sending', async () => {
  const fake = fakePermsvc();
  const service = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const bare = createClient({ url: 'http://permsvc.test', fetch: fake.fetch });
  await assert.rejects(service.check({ relation: 'r', object: 'o:1' }), /name the user/);
  await assert.rejects(bare.check({ relation: 'r', object: 'o:1' }), /nothing to authenticate with/);
  await assert.rejects(bare.check({ relation: 'r', object: 'o:1', user: 'user:a' }), /needs a service credential/);
  await assert.rejects(service.check({ relation: 'r', object: 'o:1', subjectToken: 'Bearer x' }), /strip the 'Bearer '/);
  await assert.rejects(service.check({ relation: '', object: 'o:1', subjectToken: 't' }), /relation must be/);
  assert.throws(() => createClient({ url: 'localhost:8080' }), /http\(s\) URL/);
  assert.equal(fake.calls.length, 0);
});

test('batchCheck splits at 50, keeps order and reports the oldest revision', async () => {
  const fake = fakePermsvc();
  const permsvc = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const checks = Array.from({ length: 120 }, (_, i) => ({ relation: 'can_read', object: `document:${i}` }));
  checks.push({ relation: 'can_read', object: 'document:a' });
  const result = await permsvc.batchCheck({ checks, subjectToken: 'alice-token' });
  assert.deepEqual(fake.calls.map((c) => c.body.checks.length), [50, 50, 21]);
  assert.deepEqual(result.results.map((r) => r.correlationId), checks.map((_, i) => String(i)));
  assert.equal(result.results.at(-1).allowed, true);
  assert.equal(result.revision, 1);
  assert.deepEqual(await permsvc.filterAllowed({ relation: 'can_read', objects: ['document:x', 'document:a'], subjectToken: 'alice-token' }), ['document:a']);
  await assert.rejects(permsvc.batchCheck({ checks: [], subjectToken: 'alice-token' }), /at least one/);
});

test('listObjects and listRelations', async () => {
  const fake = fakePermsvc();
  const permsvc = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const page = await permsvc.listObjects({ type: 'document', relation: 'can_read', subjectToken: 'alice-token', pageSize: 10 });
  assert.deepEqual(page.objects, ['document:a']);
  assert.equal(fake.calls[0].body.page_size, 10);
  assert.deepEqual((await permsvc.listRelations({ object: 'document:a', subjectToken: 'alice-token' })).relations, ['can_read']);
});

test('parseClaim follows the v1 rules', () => {
  const good = parseClaim({ [CLAIM]: { v: 1, rev: 9, o: true, d: ['folder#can_read'], p: { 'document#can_read': ['a'] } } }, { claimName: CLAIM });
  assert.equal(good.has('can_read', 'document:a'), true);
  assert.equal(good.has('can_read', 'document:b'), false);
  assert.equal(good.has('can_read', 'folder:f'), null);
  assert.equal(good.has('can_read', 'nocolon'), null);
  assert.equal(good.complete, false);
  assert.deepEqual([...good.objects('document', 'can_read')], ['a']);
  const stale = parseClaim({ [CLAIM]: { v: 1, rev: 2, o: false, p: { 'document#can_read': ['a'] } } }, { claimName: CLAIM, minRevision: 5 });
  assert.equal(stale.has('can_read', 'document:a'), null);
  assert.match(stale.reason, /older than the required 5/);
  for (const bad of [undefined, 'x', { v: 2, rev: 1, o: false, p: {} }, { v: 1, o: false, p: {} }, { v: 1, rev: 1, o: 'no', p: {} }, { v: 1, rev: 1, o: false, p: { nohash: [] } }, { v: true, rev: 1, o: false, p: {} }]) {
    const view = parseClaim({ [CLAIM]: bad }, { claimName: CLAIM });
    assert.equal(view.usable, false, JSON.stringify(bad));
    assert.ok(view.reason);
  }
});

test('readClaim answers from the claim, else asks /v1/check', async () => {
  const fake = fakePermsvc();
  const permsvc = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const claims = { [CLAIM]: { v: 1, rev: 9, o: false, p: { 'document#owner': ['a'] } } };
  const local = await permsvc.readClaim(claims, { relation: 'owner', object: 'document:a', claimName: CLAIM, subjectToken: 'alice-token' });
  assert.deepEqual([local.allowed, local.source, local.revision, fake.calls.length], [true, 'claim', 9, 0]);
  const remote = await permsvc.readClaim(claims, { relation: 'can_read', object: 'document:a', claimName: CLAIM, subjectToken: 'alice-token' });
  assert.deepEqual([remote.allowed, remote.source, fake.calls.length], [true, 'check', 1]);
  const stale = await permsvc.readClaim(claims, { relation: 'owner', object: 'document:a', claimName: CLAIM, minRevision: 10, subjectToken: 'alice-token' });
  assert.equal(stale.source, 'check');
});

test('every failure has its error class', async () => {
  const fake = fakePermsvc();
  const service = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const ask = (extra = {}, client = service) => client.check({ relation: 'can_read', object: 'document:a', subjectToken: 'alice-token', ...extra });
  await assert.rejects(ask({ subjectToken: 'jwe-token' }), (e) => e instanceof TokenRejectedError && e.status === 400
    && e.detail.startsWith('the token is encrypted') && /audience=https:\/\/my-api/.test(e.detail));
  await assert.rejects(ask({ subjectToken: 'forged' }), (e) => e instanceof TokenRejectedError && e.status === 401);
  await assert.rejects(ask({ subjectToken: 'no-oidc' }), (e) => e instanceof CredentialError && /PERMSVC_OIDC_ISSUER/.test(e.hint));
  await assert.rejects(ask({ subjectToken: 'jwe-token' }, createClient({ url: 'http://permsvc.test', fetch: fake.fetch })), TokenRejectedError);
  await assert.rejects(ask({}, createClient({ url: 'http://permsvc.test', credential: 'psk_nope', fetch: fake.fetch })),
    (e) => e instanceof CredentialError && /PERMSVC_API_KEY/.test(e.message));
  await assert.rejects(ask({ relation: 'nope' }), (e) => e instanceof InvalidRequestError && e.code === 'relation_not_found' && /authorization model/.test(e.hint));
  await assert.rejects(ask({ storeId: 'missing' }), NotFoundError);
  fake.state.mode = 'down';
  await assert.rejects(ask(), (e) => e instanceof UnavailableError && /ECONNREFUSED/.test(e.message));
  fake.state.mode = 'slow';
  await assert.rejects(ask(), (e) => e instanceof UnavailableError && /did not answer/.test(e.message));
  fake.state.mode = '503';
  await assert.rejects(ask(), (e) => e instanceof UnavailableError && e.retryAfter === 3);
  fake.state.mode = 'garbage';
  await assert.rejects(ask(), (e) => e instanceof UnavailableError && /unreadable body/.test(e.message));
});

test('the credential function is asked per request', async () => {
  const fake = fakePermsvc();
  let n = 0;
  const permsvc = createClient({ url: 'http://permsvc.test', credential: async () => { n += 1; return KEY; }, fetch: fake.fetch });
  await permsvc.check({ relation: 'can_read', object: 'document:a', subjectToken: 'alice-token' });
  await permsvc.check({ relation: 'can_read', object: 'document:a', subjectToken: 'alice-token' });
  assert.equal(n, 2);
});

// ---------------------------------------------------------------- the middleware

function fakeRes() {
  const res = { statusCode: 200, headers: {}, body: null, setHeader(k, v) { this.headers[k.toLowerCase()] = v; }, end(b) { this.body = JSON.parse(b); } };
  return res;
}

async function run(middleware, req) {
  const res = fakeRes();
  let nextArg = 'not called';
  await middleware(req, res, (err) => { nextArg = err; });
  return { res, nextArg, req };
}

test('requirePermission: allowed, denied, no token, refused token, permsvc down', async () => {
  const fake = fakePermsvc();
  const client = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const mw = requirePermission({ client, relation: 'can_read', object: (req) => `document:${req.params.id}` });
  const ok = await run(mw, { params: { id: 'a' }, headers: { authorization: 'Bearer alice-token' } });
  assert.equal(ok.nextArg, undefined);
  assert.equal(ok.req.permsvc.results[0].allowed, true);
  assert.equal(ok.req.permsvc.subjectToken, 'alice-token');
  const viaAuth = await run(mw, { params: { id: 'a' }, headers: {}, auth: { token: 'alice-token', payload: {} } });
  assert.equal(viaAuth.nextArg, undefined);
  const denied = await run(mw, { params: { id: 'b' }, headers: { authorization: 'Bearer alice-token' } });
  assert.deepEqual([denied.res.statusCode, denied.res.body.code], [403, 'forbidden']);
  assert.match(denied.res.body.message, /can_read on document:b/);
  const none = await run(mw, { params: { id: 'a' }, headers: {} });
  assert.deepEqual([none.res.statusCode, none.res.headers['www-authenticate']], [401, 'Bearer realm="api"']);
  const jwe = await run(mw, { params: { id: 'a' }, headers: { authorization: 'Bearer jwe-token' } });
  assert.equal(jwe.res.statusCode, 401);
  assert.match(jwe.res.body.message, /audience=https:\/\/my-api/);
  assert.match(jwe.res.headers['www-authenticate'], /error="invalid_token", error_description=".*JWE/);
  fake.state.mode = 'down';
  const down = await run(mw, { params: { id: 'a' }, headers: { authorization: 'Bearer alice-token' } });
  assert.deepEqual([down.res.statusCode, down.res.headers['retry-after'], down.nextArg], [503, '1', 'not called']);
});

test('requirePermission batches several checks and reads the claim first', async () => {
  const fake = fakePermsvc();
  const client = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fake.fetch });
  const mw = requirePermission({ client, checks: [
    { relation: 'can_read', object: (req) => `document:${req.params.id}` },
    { relation: 'can_read', object: async (req) => `folder:${req.params.folder}` },
  ] });
  const ok = await run(mw, { params: { id: 'a', folder: 'f' }, headers: { authorization: 'Bearer alice-token' } });
  assert.equal(ok.nextArg, undefined);
  assert.deepEqual(fake.calls.map((c) => c.path), ['/v1/check/batch']);
  const no = await run(mw, { params: { id: 'a', folder: 'g' }, headers: { authorization: 'Bearer alice-token' } });
  assert.equal(no.res.statusCode, 403);

  fake.calls.length = 0;
  const claims = { [CLAIM]: { v: 1, rev: 4, o: false, p: { 'document#can_read': ['a'] } } };
  const withClaim = requirePermission({ client, relation: 'can_read', object: (req) => `document:${req.params.id}`, claimName: CLAIM });
  const local = await run(withClaim, { params: { id: 'a' }, headers: {}, auth: { token: 'alice-token', payload: claims } });
  assert.equal(local.nextArg, undefined);
  assert.equal(local.req.permsvc.results[0].source, 'claim');
  const localNo = await run(withClaim, { params: { id: 'z' }, headers: {}, auth: { token: 'alice-token', payload: claims } });
  assert.equal(localNo.res.statusCode, 403);
  assert.equal(fake.calls.length, 0);
});

test('requirePermission checks its options and passes programming errors on', async () => {
  const client = createClient({ url: 'http://permsvc.test', credential: KEY, fetch: fakePermsvc().fetch });
  assert.throws(() => requirePermission({ relation: 'r', object: 'o:1' }), /needs \{ client \}/);
  assert.throws(() => requirePermission({ client }), /relation, object/);
  assert.throws(() => requirePermission({ client, relation: 'r', object: 'noColon' }), /type:id/);
  const bad = requirePermission({ client, relation: 'r', object: () => 42 });
  const out = await run(bad, { params: {}, headers: { authorization: 'Bearer alice-token' } });
  assert.ok(out.nextArg instanceof TypeError);
});

test('explainToken and explainTokenErrors name the no-audience JWE', () => {
  const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', iss: 'https://tenant.auth0.com/' })).toString('base64url');
  const jwe = `${header}..iv.cipher.tag`;
  assert.match(explainToken(jwe, { audience: 'https://my-api' }), /5-segment JWE.*only https:\/\/tenant\.auth0\.com\/userinfo.*audience=https:\/\/my-api/);
  assert.equal(explainToken('a.b.c'), null);
  assert.equal(explainToken(`${Buffer.from('{"alg":"RSA-OAEP-256"}').toString('base64url')}.a.b.c.d`), null);
  assert.equal(bearerToken('bearer abc'), 'abc');
  assert.throws(() => bearerToken('Basic abc'), /Bearer <access token>/);

  const handler = explainTokenErrors({ audience: 'https://my-api' });
  const err = Object.assign(new Error('Invalid Compact JWS'), { status: 401, code: 'invalid_token', headers: { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_token"' } });
  const res = fakeRes();
  handler(err, { headers: { authorization: `Bearer ${jwe}` } }, res, () => assert.fail('next'));
  assert.equal(res.statusCode, 401);
  assert.match(res.body.message, /audience=https:\/\/my-api/);
  const other = fakeRes();
  handler(err, { headers: { authorization: 'Bearer a.b.c' } }, other, () => assert.fail('next'));
  assert.deepEqual([other.statusCode, other.body.message, other.headers['www-authenticate']], [401, 'Invalid Compact JWS', 'Bearer realm="api", error="invalid_token"']);
  let passed;
  handler(new Error('boom'), { headers: {} }, fakeRes(), (e) => { passed = e; });
  assert.equal(passed.message, 'boom');
});
