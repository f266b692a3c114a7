// Tests of post-login.js with simulated Auth0 `event` and `api` objects (node --test).
//
// Live cases run against a permsvc server named by the environment; the Python test
// tests/integration/auth0/test_action.py starts one, loads data, and runs this file:
//   PERMSVC_URL            base URL of the live permsvc
//   PERMSVC_CLAIMS_KEY     a claims-scoped API key
//   PERMSVC_STORE_ID       the store holding the test data
//   PERMSVC_TEST_AUDIENCE  an audience of the spec's default variant
//   PERMSVC_TEST_SMALL_AUDIENCE  an audience whose variant has a small byte budget
//   PERMSVC_TEST_USER      a user with a few grants (organization:acme admin, ...)
//   PERMSVC_TEST_BIG_USER  a user with hundreds of grants (overflows the small budget)
// Fault cases (timeout, 5xx, refused connection, bad body) use local stub servers and run anyway.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

const require = createRequire(import.meta.url);
const { onExecutePostLogin, settingsFrom } = require('../post-login.js');

const env = process.env;
const LIVE = Boolean(env.PERMSVC_URL);
const CLAIM = 'https://permsvc.example.com/perms';

function simulatedApi() {
  const calls = { accessToken: {}, idToken: {}, denied: [] };
  return {
    calls,
    accessToken: { setCustomClaim: (k, v) => { calls.accessToken[k] = v; } },
    idToken: { setCustomClaim: (k, v) => { calls.idToken[k] = v; } },
    access: { deny: (reason) => { calls.denied.push(reason); } },
  };
}

function simulatedEvent({ user = 'auth0|1', audience = env.PERMSVC_TEST_AUDIENCE, secrets = {} } = {}) {
  return {
    user: { user_id: user, user_metadata: { permissions: ['everything'] }, app_metadata: {} },
    client: { client_id: 'spa-client', name: 'SPA' },
    resource_server: audience === null ? undefined : { identifier: audience },
    transaction: { requested_scopes: ['openid'] },
    secrets: {
      PERMSVC_URL: env.PERMSVC_URL,
      PERMSVC_CLAIMS_KEY: env.PERMSVC_CLAIMS_KEY,
      PERMSVC_STORE_ID: env.PERMSVC_STORE_ID,
      PERMSVC_AUDIENCES: `${env.PERMSVC_TEST_AUDIENCE},${env.PERMSVC_TEST_SMALL_AUDIENCE}`,
      PERMSVC_TIMEOUT_MS: '3000',
      ...secrets,
    },
  };
}

async function run(event) {
  const api = simulatedApi();
  const started = performance.now();
  await onExecutePostLogin(event, api); // must never reject
  return { ...api.calls, ms: performance.now() - started };
}

// -- local stubs ------------------------------------------------------------------------------

let stubUrl;
let stub;
const stubHits = [];
const pending = new Set();

before(async () => {
  stub = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      stubHits.push({ url: req.url, body, authorization: req.headers.authorization });
      const mode = req.headers.authorization.replace('Bearer ', '');
      if (mode === 'hang') { pending.add(res); return; }
      if (mode === '500') { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"code":"internal_error","message":"Internal Server Error"}'); return; }
      if (mode === '503-html') { res.writeHead(503, { 'content-type': 'text/html' }); res.end('<h1>bad gateway</h1>'); return; }
      if (mode === 'html') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>login</html>'); return; }
      if (mode === 'no-claims') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"revision":1}'); return; }
      if (mode === 'bare-name') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"claims":{"permissions":{"v":1}},"revision":1,"truncated":false}'); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ claims: { [CLAIM]: { v: 1, rev: 3, p: {}, o: false } }, revision: 3, truncated: false }));
    });
  });
  await new Promise((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${stub.address().port}`;
});

after(async () => {
  for (const res of pending) res.destroy();
  stub.closeAllConnections();
  await new Promise((resolve) => stub.close(resolve));
});

function stubEvent(mode, extra = {}) {
  return simulatedEvent({
    audience: 'https://api.example.com',
    secrets: { PERMSVC_URL: stubUrl, PERMSVC_CLAIMS_KEY: mode, PERMSVC_AUDIENCES: 'https://api.example.com', ...extra },
  });
}

// -- live permsvc ------------------------------------------------------------------------------

describe('against a live permsvc', { skip: !LIVE && 'PERMSVC_URL is not set' }, () => {
  test('success: the summary is set on the access token only', async () => {
    const calls = await run(simulatedEvent({ user: env.PERMSVC_TEST_USER }));
    assert.deepEqual(calls.denied, []);
    const claim = calls.accessToken[CLAIM];
    assert.equal(claim.v, 1);
    assert.equal(claim.o, false);
    assert.ok(Number.isInteger(claim.rev) && claim.rev > 0);
    assert.deepEqual(claim.p['organization#admin'], ['acme']);
    assert.deepEqual(claim.p['project#editor'], ['apollo']);
    assert.deepEqual(Object.keys(calls.accessToken), [CLAIM]);
    assert.deepEqual(calls.idToken, {});
    assert.ok(!('permissions' in calls.accessToken), 'user_metadata is never copied');
  });

  test('success: the ID token gets the claim when asked', async () => {
    const calls = await run(simulatedEvent({ user: env.PERMSVC_TEST_USER, secrets: { PERMSVC_ID_TOKEN: 'true' } }));
    assert.deepEqual(calls.idToken[CLAIM], calls.accessToken[CLAIM]);
  });

  test('overflow: a truncated summary is still set, with its marker', async () => {
    const calls = await run(simulatedEvent({ user: env.PERMSVC_TEST_BIG_USER, audience: env.PERMSVC_TEST_SMALL_AUDIENCE }));
    const claim = calls.accessToken[CLAIM];
    assert.equal(claim.o, true);
    assert.ok(claim.d.includes('project#viewer'), JSON.stringify(claim));
    assert.ok(JSON.stringify(claim).length <= 256);
    assert.deepEqual(calls.denied, []);
  });

  test('4xx (wrong key), fail-open: no claim, no denial', async () => {
    const calls = await run(simulatedEvent({ secrets: { PERMSVC_CLAIMS_KEY: 'psk_aaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } }));
    assert.deepEqual(calls.accessToken, {});
    assert.deepEqual(calls.denied, []);
  });

  test('4xx (unknown store), fail-closed: the login is denied', async () => {
    const calls = await run(simulatedEvent({ secrets: { PERMSVC_STORE_ID: '01HZZZZZZZZZZZZZZZZZZZZZZZ', PERMSVC_FAIL_MODE: 'closed' } }));
    assert.deepEqual(calls.accessToken, {});
    assert.equal(calls.denied.length, 1);
  });

  test('other audiences and audience-less logins are left alone', async () => {
    for (const audience of ['https://other.example.com', null]) {
      const calls = await run(simulatedEvent({ user: env.PERMSVC_TEST_USER, audience }));
      assert.deepEqual(calls.accessToken, {});
      assert.deepEqual(calls.denied, []);
    }
  });
});

// -- faults (stubs) ----------------------------------------------------------------------------

describe('faults', () => {
  test('timeout, fail-open: gives up after PERMSVC_TIMEOUT_MS and omits the claim', async () => {
    const calls = await run(stubEvent('hang', { PERMSVC_TIMEOUT_MS: '300' }));
    assert.deepEqual(calls.accessToken, {});
    assert.deepEqual(calls.denied, []);
    assert.ok(calls.ms >= 250 && calls.ms < 2000, `took ${calls.ms} ms`);
  });

  test('timeout, fail-closed: denies', async () => {
    const calls = await run(stubEvent('hang', { PERMSVC_TIMEOUT_MS: '300', PERMSVC_FAIL_MODE: 'closed' }));
    assert.equal(calls.denied.length, 1);
    assert.deepEqual(calls.accessToken, {});
  });

  for (const mode of ['500', '503-html', 'html', 'no-claims', 'bare-name']) {
    test(`${mode}: fail-open omits, fail-closed denies`, async () => {
      const open = await run(stubEvent(mode));
      assert.deepEqual(open.accessToken, {});
      assert.deepEqual(open.denied, []);
      const closed = await run(stubEvent(mode, { PERMSVC_FAIL_MODE: 'closed' }));
      assert.equal(closed.denied.length, 1);
      assert.deepEqual(closed.accessToken, {});
    });
  }

  test('permsvc down (connection refused)', async () => {
    const down = { PERMSVC_URL: 'http://127.0.0.1:9' };
    assert.deepEqual((await run(stubEvent('ok', down))).accessToken, {});
    assert.equal((await run(stubEvent('ok', { ...down, PERMSVC_FAIL_MODE: 'closed' }))).denied.length, 1);
  });

  test('the request carries user, audience, client and store', async () => {
    stubHits.length = 0;
    const calls = await run(stubEvent('ok', { PERMSVC_STORE_ID: '01HSTORE' }));
    assert.equal(calls.accessToken[CLAIM].rev, 3);
    assert.equal(stubHits.length, 1);
    assert.equal(stubHits[0].url, '/v1/claims');
    assert.deepEqual(JSON.parse(stubHits[0].body), {
      user_id: 'auth0|1', audience: 'https://api.example.com', client_id: 'spa-client', store_id: '01HSTORE',
    });
  });

  test('an unconfigured audience costs no request', async () => {
    stubHits.length = 0;
    const event = stubEvent('ok');
    event.resource_server = { identifier: 'https://elsewhere.example.com' };
    assert.deepEqual((await run(event)).accessToken, {});
    assert.equal(stubHits.length, 0);
  });

  test('misconfiguration follows the fail mode and never throws', async () => {
    const missing = simulatedEvent({ audience: 'https://api.example.com', secrets: { PERMSVC_URL: '', PERMSVC_CLAIMS_KEY: '' } });
    assert.deepEqual((await run(missing)).denied, []);
    missing.secrets.PERMSVC_FAIL_MODE = 'closed';
    assert.equal((await run(missing)).denied.length, 1);
    const broken = { secrets: null, user: null, resource_server: { identifier: 'x' } };
    await run(broken);
  });

  test('timeout setting is bounded', () => {
    assert.equal(settingsFrom({ PERMSVC_TIMEOUT_MS: '999999' }).timeoutMs, 10000);
    assert.equal(settingsFrom({ PERMSVC_TIMEOUT_MS: 'x' }).timeoutMs, 3000);
    assert.equal(settingsFrom({}).failClosed, false);
  });
});
