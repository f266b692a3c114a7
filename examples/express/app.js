// A documents API protected by permsvc: list, read, share, unshare, delete.
//
// express-oauth2-jwt-bearer's auth() validates the caller's access token (req.auth); permsvc's
// requirePermission() forwards it as subject_token and lets the request through only if permsvc
// allows it. Each protected route is one middleware: can('can_read').
//
//   ISSUER_BASE_URL=https://TENANT.us.auth0.com/ AUDIENCE=https://api.example.com \
//   PERMSVC_URL=http://127.0.0.1:8080 PERMSVC_API_KEY=psk_... PERMSVC_ADMIN_KEY=psk_... \
//   PERMSVC_STORE=01J... node app.js
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { clientFromEnv, explainTokenErrors, requirePermission } from 'permsvc-client';

const documents = new Map([
  ['roadmap', { id: 'roadmap', title: 'Roadmap 2027', body: 'Ship the clients.' }],
  ['budget', { id: 'budget', title: 'Budget', body: 'Numbers.' }],
  ['handbook', { id: 'handbook', title: 'Employee handbook', body: 'Be kind.' }],
]);

const permsvc = clientFromEnv(); // PERMSVC_URL, PERMSVC_API_KEY (check role), PERMSVC_STORE
const admin = clientFromEnv({ credential: process.env.PERMSVC_ADMIN_KEY }); // grants and revokes
const can = (relation) => requirePermission({ client: permsvc, relation, object: (req) => `document:${req.params.id}` });
const tuple = (id, relation, user) => ({ object: `document:${id}`, relation, user: `user:${user}` });

const app = express();
app.use(express.json());
app.use(auth({ issuerBaseURL: process.env.ISSUER_BASE_URL, audience: process.env.AUDIENCE }));

// Express 5 passes a rejected handler's error to the error handlers below.
app.get('/documents', async (req, res) => {
  const page = await permsvc.listObjects({ type: 'document', relation: 'can_read', subjectToken: req.auth.token });
  res.json(page.objects.map((o) => documents.get(o.slice('document:'.length))).filter(Boolean));
});

app.get('/documents/:id', can('can_read'), (req, res) => {
  const doc = documents.get(req.params.id);
  if (!doc) return res.status(404).json({ code: 'not_found', message: 'no such document' });
  return res.json(doc);
});

app.post('/documents/:id/share', can('can_share'), async (req, res) => {
  const { user, relation = 'viewer' } = req.body ?? {};
  if (typeof user !== 'string' || !['viewer', 'editor'].includes(relation)) {
    return res.status(400).json({ code: 'invalid_request', message: 'send {"user": "<sub>", "relation": "viewer"|"editor"}' });
  }
  const change = await admin.grant([tuple(req.params.id, relation, user)]);
  return res.json({ shared_with: user, relation, revision: change.revision });
});

app.delete('/documents/:id/share/:user', can('can_share'), async (req, res) => {
  const { id, user } = req.params;
  const change = await admin.revoke([tuple(id, 'viewer', user), tuple(id, 'editor', user)]);
  res.json({ unshared: user, revision: change.revision });
});

app.delete('/documents/:id', can('can_delete'), async (req, res) => {
  documents.delete(req.params.id);
  await admin.deleteTuples({ object: `document:${req.params.id}` });
  res.status(204).end();
});

app.use(explainTokenErrors({ audience: process.env.AUDIENCE })); // names Auth0's no-audience token
app.use((err, req, res, next) => { // a permsvc error inside a handler (listing, sharing)
  console.error(err.message);
  const status = err.name === 'TokenRejectedError' ? 401 : err.name === 'UnavailableError' ? 503 : 500;
  res.status(status).json({ code: 'error', message: status === 401 ? err.detail : 'request failed' });
});

const port = Number(process.env.PORT || 3000);
const server = app.listen(port, '127.0.0.1', () => console.log(`documents API on http://127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
