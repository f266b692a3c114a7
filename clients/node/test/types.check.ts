// Type-checked (tsc --noEmit --strict) against index.d.ts by the test suite: the declarations
// describe the API as the examples and the docs use it, and refuse misuse.
import express from 'express';
import {
  createClient, clientFromEnv, parseClaim, requirePermission, explainTokenErrors,
  PermsvcError, TokenRejectedError, UnavailableError,
  type CheckResult, type BatchCheckResult, type ObjectsPage, type PermsvcClient,
} from '../index.js';

const permsvc: PermsvcClient = createClient({ url: 'http://127.0.0.1:8080', credential: async () => 'psk_x', timeoutMs: 2000 });
const fromEnv = clientFromEnv({ storeId: '01J' });

async function usage(token: string): Promise<boolean> {
  const one: CheckResult = await permsvc.check({ relation: 'can_read', object: 'document:1', subjectToken: token });
  const many: BatchCheckResult = await fromEnv.batchCheck({ subjectToken: token, checks: [{ relation: 'can_read', object: 'document:1' }] });
  const page: ObjectsPage = await permsvc.listObjects({ type: 'document', relation: 'can_read', subjectToken: token, pageSize: 10 });
  const view = parseClaim({ sub: 'x' }, { claimName: 'https://permsvc.example.com/perms' });
  const fromClaim = await permsvc.readClaim({}, { relation: 'owner', object: 'document:1', claimName: 'https://p.example/p', subjectToken: token });
  const filtered: string[] = await permsvc.filterAllowed({ relation: 'can_read', objects: page.objects, subjectToken: token });
  const change = await permsvc.grant([{ object: 'document:1', relation: 'viewer', user: 'user:bob' }]);
  const n: number = change.revision + many.results.length + filtered.length;
  // @ts-expect-error relation is required
  await permsvc.check({ object: 'document:1', subjectToken: token });
  // @ts-expect-error listObjects needs a type
  await permsvc.listObjects({ relation: 'can_read', subjectToken: token });
  return one.allowed && view.has('owner', 'document:1') !== null && fromClaim.source === 'claim' && n > 0;
}

function errors(err: unknown): string {
  if (err instanceof TokenRejectedError) return err.detail;
  if (err instanceof UnavailableError) return String(err.retryAfter ?? 1);
  if (err instanceof PermsvcError) return `${err.status ?? 0} ${err.code} ${err.hint}`;
  return '';
}

const app = express();
app.get('/documents/:id',
  requirePermission({ client: permsvc, relation: 'can_read', object: (req) => `document:${req.params.id}` }),
  (req, res) => { res.json({ ok: true }); });
app.get('/folders/:f', requirePermission({ client: permsvc, checks: [{ relation: 'can_read', object: async (req) => `folder:${req.params.f}` }] }));
app.use(explainTokenErrors({ audience: 'https://api.example.com' }));
// @ts-expect-error requirePermission needs a client
requirePermission({ relation: 'can_read', object: 'document:1' });

export { usage, errors };
