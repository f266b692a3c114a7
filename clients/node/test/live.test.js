// permsvc-client against a live `permsvc serve` with real tokens from the test OpenID provider,
// and requirePermission composed with express-oauth2-jwt-bearer's auth() in a real Express app.
// Started by tests/integration/oidc/test_client_node_live.py, which runs the server and the
// provider and passes them in PERMSVC_TEST_* / OIDC_TEST_*; without them these tests skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import {
  createClient, parseClaim, requirePermission, explainTokenErrors,
  TokenRejectedError, CredentialError, UnavailableError,
} from '../index.js';

const env = process.env;
const live = Boolean(env.PERMSVC_TEST_URL);
const skipAll = live ? false : 'no live permsvc (run through tests/integration/oidc/test_client_node_live.py)';
const CLAIM = 'https://permsvc.example.com/perms';

async function token(subject, resource = env.OIDC_TEST_AUDIENCE) {
  const response = await fetch(`${env.OIDC_TEST_ISSUER}token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('web-client:web-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:example:params:oauth:grant-type:test-subject', subject, resource, scope: 'read:docs' }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).access_token;
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

const client = (credential) => createClient({ url: env.PERMSVC_TEST_URL, credential, storeId: env.PERMSVC_TEST_STORE });

async function queries(permsvc) {
  const alice = await token('alice');
  const yes = await permsvc.check({ relation: 'can_read', object: 'document:roadmap', subjectToken: alice });
  assert.deepEqual([yes.allowed, yes.user, yes.storeId], [true, 'user:alice', env.PERMSVC_TEST_STORE]);
  assert.ok(yes.revision >= 1 && yes.consistencyToken);
  assert.equal((await permsvc.check({ relation: 'can_read', object: 'document:budget', subjectToken: alice })).allowed, false);
  const batch = await permsvc.batchCheck({ subjectToken: alice, checks: [
    { relation: 'can_read', object: 'document:roadmap' }, { relation: 'can_delete', object: 'document:budget' },
    { relation: 'can_read', object: 'document:handbook' },
  ] });
  assert.deepEqual(batch.results.map((r) => r.allowed), [true, false, true]);
  assert.deepEqual(await permsvc.filterAllowed({ relation: 'can_share', objects: ['document:budget', 'document:roadmap'], subjectToken: alice }), ['document:roadmap']);
  const objects = await permsvc.listObjects({ type: 'document', relation: 'can_read', subjectToken: alice });
  assert.deepEqual(objects.objects.sort(), ['document:handbook', 'document:roadmap']);
  const relations = await permsvc.listRelations({ object: 'document:roadmap', subjectToken: alice });
  assert.deepEqual(relations.relations.sort(), ['can_delete', 'can_read', 'can_share', 'editor', 'owner', 'viewer']);
  const jwe = await token('alice', env.OIDC_TEST_JWE_RESOURCE);
  await assert.rejects(permsvc.check({ relation: 'can_read', object: 'document:roadmap', subjectToken: jwe }),
    (e) => e instanceof TokenRejectedError && [400, 401].includes(e.status) && /audience/i.test(e.detail) && /JWE/.test(e.detail));
}

test('check, batchCheck, listObjects, listRelations with the user token as bearer', { skip: skipAll }, async () => {
  await queries(client(undefined));
});

test('the same with a service key and the user token as subject_token', { skip: skipAll }, async () => {
  await queries(client(env.PERMSVC_TEST_CHECK_KEY));
});

test('readClaim: the summary from /v1/claims answers, the rest goes to /v1/check', { skip: skipAll }, async () => {
  const feed = client(env.PERMSVC_TEST_CLAIMS_KEY);
  const { claims } = await feed.claims({ userId: 'alice', audience: env.OIDC_TEST_AUDIENCE });
  const view = parseClaim(claims, { claimName: CLAIM });
  assert.equal(view.has('owner', 'document:roadmap'), true);
  assert.equal(view.has('owner', 'document:budget'), false);
  const permsvc = client(undefined);
  const alice = await token('alice');
  const local = await permsvc.readClaim(claims, { relation: 'owner', object: 'document:roadmap', claimName: CLAIM, subjectToken: alice });
  assert.deepEqual([local.allowed, local.source], [true, 'claim']);
  const remote = await permsvc.readClaim(claims, { relation: 'can_read', object: 'document:handbook', claimName: CLAIM, subjectToken: alice });
  assert.deepEqual([remote.allowed, remote.source], [true, 'check']);
});

test('refused credentials and an unreachable permsvc are typed', { skip: skipAll }, async () => {
  await assert.rejects(client('psk_nope_nope').check({ relation: 'can_read', object: 'document:budget', user: 'user:bob' }),
    (e) => e instanceof CredentialError && e.status === 401);
  await assert.rejects(client(env.PERMSVC_TEST_CLAIMS_KEY).check({ relation: 'can_read', object: 'document:budget', user: 'user:bob' }),
    (e) => e instanceof CredentialError && e.status === 403);
  const dead = createClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 });
  await assert.rejects(dead.check({ relation: 'can_read', object: 'document:budget', subjectToken: 'x' }), UnavailableError);
});

async function expressApp(permsvc) {
  const { default: express } = await import('express');
  const { auth } = await import('express-oauth2-jwt-bearer');
  const app = express();
  app.use(auth({ issuerBaseURL: env.OIDC_TEST_ISSUER, audience: env.OIDC_TEST_AUDIENCE }));
  app.get('/documents/:id', requirePermission({ client: permsvc, relation: 'can_read', object: (req) => `document:${req.params.id}` }),
    (req, res) => res.json({ id: req.params.id, user: req.permsvc.results[0].user }));
  app.get('/owned/:id', requirePermission({ client: permsvc, checks: [
    { relation: 'can_read', object: (req) => `document:${req.params.id}` },
    { relation: 'owner', object: (req) => `document:${req.params.id}` },
  ] }), (req, res) => res.json({ checks: req.permsvc.results.length }));
  app.use(explainTokenErrors({ audience: env.OIDC_TEST_AUDIENCE }));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

async function throughExpress(permsvc) {
  const api = await expressApp(permsvc);
  try {
    const get = (path, bearer) => fetch(`${api.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    const alice = await token('alice');
    const ok = await get('/documents/roadmap', alice);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { id: 'roadmap', user: 'user:alice' });
    assert.equal((await get('/documents/budget', alice)).status, 403);
    assert.deepEqual(await (await get('/owned/roadmap', alice)).json(), { checks: 2 });
    assert.equal((await get('/owned/handbook', alice)).status, 403);
    const none = await get('/documents/roadmap');
    assert.equal(none.status, 401);
    const jwe = await get('/documents/roadmap', await token('alice', env.OIDC_TEST_JWE_RESOURCE));
    assert.equal(jwe.status, 401);
    const body = await jwe.json();
    assert.match(body.message, new RegExp(`JWE.*audience=${env.OIDC_TEST_AUDIENCE}`));
    assert.match(jwe.headers.get('www-authenticate'), /error="invalid_token"/);
  } finally {
    await api.close();
  }
}

test('Express: auth() then requirePermission, user token as bearer', { skip: skipAll }, async () => {
  await throughExpress(client(undefined));
});

test('Express: auth() then requirePermission, service key + subject_token', { skip: skipAll }, async () => {
  await throughExpress(client(env.PERMSVC_TEST_CHECK_KEY));
});

test('Express: permsvc down is 503 with Retry-After (fail closed)', { skip: skipAll }, async () => {
  const api = await expressApp(createClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }));
  try {
    const response = await fetch(`${api.url}/documents/roadmap`, { headers: { authorization: `Bearer ${await token('alice')}` } });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
  } finally {
    await api.close();
  }
});
