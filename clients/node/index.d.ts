// Type declarations of permsvc-client (index.js).

import type { IncomingMessage, ServerResponse } from 'node:http';

export declare const MAX_BATCH: 50;

export interface ErrorOptions {
  status?: number;
  code?: string;
  hint?: string;
  wwwAuthenticate?: string;
}

export declare class PermsvcError extends Error {
  constructor(message: string, options?: ErrorOptions);
  /** The message without the hint. */
  detail: string;
  status: number | undefined;
  /** permsvc's error code (`{code, message}` bodies), e.g. `relation_not_found`. */
  code: string;
  /** What to change. */
  hint: string;
  wwwAuthenticate: string;
}
/** The user's access token was refused; `detail` is permsvc's diagnosis. */
export declare class TokenRejectedError extends PermsvcError {}
/** The incoming request carries no bearer token. */
export declare class MissingTokenError extends PermsvcError {}
/** permsvc refused this service's own credential, or it lacks the role or store. */
export declare class CredentialError extends PermsvcError {}
/** permsvc refused the question (400). */
export declare class InvalidRequestError extends PermsvcError {}
/** The store or model does not exist (404). */
export declare class NotFoundError extends PermsvcError {}
/** permsvc did not answer: unreachable, timed out, 5xx or 429. */
export declare class UnavailableError extends PermsvcError {
  constructor(message: string, options?: ErrorOptions & { retryAfter?: number | null });
  retryAfter: number | null;
}

export interface ClaimView {
  readonly usable: boolean;
  readonly reason: string;
  readonly version: number | null;
  readonly revision: number | null;
  readonly stale: boolean;
  readonly overflow: boolean;
  readonly dropped: ReadonlySet<string>;
  readonly entries: ReadonlyMap<string, ReadonlySet<string>>;
  readonly complete: boolean;
  covers(type: string, relation: string): boolean;
  /** true/false from the summary, or null: ask /v1/check. */
  has(relation: string, object: string): boolean | null;
  objects(type: string, relation: string): ReadonlySet<string> | null;
}

export declare function parseClaim(
  tokenClaims: Record<string, unknown> | undefined | null,
  options: { claimName: string; minRevision?: number | null },
): ClaimView;

export interface Answered {
  user: string;
  storeId: string;
  authorizationModelId: string;
  revision: number;
  consistencyToken: string;
}

export interface CheckResult extends Answered {
  allowed: boolean;
  object: string;
  relation: string;
  /** 'check' (permsvc answered) or 'claim' (the token's summary answered). */
  source: 'check' | 'claim';
}

export interface BatchItem {
  correlationId: string;
  object: string;
  relation: string;
  allowed: boolean;
  error: { code: string; message: string } | null;
}

export interface BatchCheckResult extends Answered {
  results: BatchItem[];
}

export interface ObjectsPage extends Answered {
  objects: string[];
  continuationToken: string;
}

export interface RelationsResult extends Answered {
  object: string;
  relations: string[];
}

export interface ClaimsResult {
  claims: Record<string, unknown>;
  revision: number;
  truncated: boolean;
}

export interface TupleChange {
  storeId: string;
  changed: number;
  revision: number;
  consistencyToken: string;
  auditId: number | null;
}

export interface TupleKey {
  object: string;
  relation: string;
  user: string;
  condition?: { name: string; context?: Record<string, unknown> };
}

/** Whom a query is about: the user's access token, or (with a service credential) a named user. */
export interface QueryOptions {
  subjectToken?: string;
  user?: string;
  storeId?: string;
  context?: Record<string, unknown>;
  contextualTuples?: TupleKey[];
  consistencyToken?: string;
  authorizationModelId?: string;
}

export interface Check {
  relation: string;
  object: string;
  correlationId?: string;
  context?: Record<string, unknown>;
  contextualTuples?: TupleKey[];
}

export interface ClientOptions {
  /** permsvc's URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** This service's API key or client-credentials token, or a function returning one. */
  credential?: string | (() => string | Promise<string>);
  /** The default store (else the server's PERMSVC_STORE). */
  storeId?: string;
  /** Per-request timeout; default 5000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface PermsvcClient {
  readonly url: string;
  readonly storeId: string | undefined;
  check(options: QueryOptions & { relation: string; object: string }): Promise<CheckResult>;
  batchCheck(options: QueryOptions & { checks: Check[] }): Promise<BatchCheckResult>;
  filterAllowed(options: QueryOptions & { relation: string; objects: string[] }): Promise<string[]>;
  listObjects(
    options: QueryOptions & { type: string; relation: string; pageSize?: number; continuationToken?: string },
  ): Promise<ObjectsPage>;
  listRelations(options: QueryOptions & { object: string; relations?: string[] }): Promise<RelationsResult>;
  readClaim(
    tokenClaims: Record<string, unknown> | undefined | null,
    options: QueryOptions & { relation: string; object: string; claimName: string; minRevision?: number },
  ): Promise<CheckResult>;
  claims(options: { userId: string; audience?: string; clientId?: string; storeId?: string }): Promise<ClaimsResult>;
  grant(tuples: TupleKey[], options?: { storeId?: string }): Promise<TupleChange>;
  revoke(tuples: TupleKey[], options?: { storeId?: string }): Promise<TupleChange>;
  deleteTuples(filter: { object?: string; relation?: string; user?: string; storeId?: string }): Promise<TupleChange>;
}

export declare function createClient(options: ClientOptions): PermsvcClient;
/** createClient from PERMSVC_URL, PERMSVC_API_KEY, PERMSVC_STORE, PERMSVC_TIMEOUT_MS. */
export declare function clientFromEnv(overrides?: Partial<ClientOptions>): PermsvcClient;

export declare function bearerToken(authorization: string | undefined): string;
export declare function explainToken(token: string | null | undefined, options?: { audience?: string }): string | null;

/** The request as the middleware reads it (Express's, with express-oauth2-jwt-bearer's `auth`). */
export interface PermsvcRequest extends IncomingMessage {
  auth?: { token?: string; payload?: Record<string, unknown> };
  permsvc?: { results: Array<Partial<CheckResult> & { allowed: boolean }>; subjectToken: string };
}

export type ObjectSpec<Req> = string | ((req: Req) => string | Promise<string>);

export interface RequirePermissionOptions<Req extends PermsvcRequest = PermsvcRequest> {
  client: PermsvcClient;
  relation?: string;
  object?: ObjectSpec<Req>;
  /** More checks for the same request: sent with the first as one batch. */
  checks?: Array<{ relation: string; object: ObjectSpec<Req> }>;
  /** Answer from req.auth.payload's permission summary when it covers the check. */
  claimName?: string;
  /** realm of the WWW-Authenticate challenges; default 'api'. */
  realm?: string;
}

export type Middleware<Req> = (req: Req, res: ServerResponse, next: (err?: unknown) => void) => Promise<void>;
export type ErrorMiddleware<Req> = (err: unknown, req: Req, res: ServerResponse, next: (err?: unknown) => void) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export declare function requirePermission<Req extends PermsvcRequest = any>(
  options: RequirePermissionOptions<Req>,
): Middleware<Req>;

export declare function explainTokenErrors(options?: {
  audience?: string;
  realm?: string;
}): ErrorMiddleware<IncomingMessage>;
