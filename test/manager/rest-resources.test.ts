/**
 * The manager's REST resources on node:sqlite and PostgreSQL: validation errors that name the
 * field, pages with Link and x-total-count, exactly one default cluster, read-only lists of
 * schedulers and hosts with their filters, users' last-root guard, and the OpenAPI document.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { CLUSTER_DEFAULTS } from '../../manager/index.ts';
import { onBothStores, ROOT_PASSWORD, startManagerOver, type Manager, type OpenStore } from './rest-harness.ts';

type Json = Record<string, unknown>;

function expectError(response: LightMyRequestResponse, status: number, code: string, field?: string): void {
  assert.equal(response.statusCode, status, response.body);
  const body = response.json() as { code: string; field?: string };
  assert.equal(body.code, code, response.body);
  if (field !== undefined) assert.equal(body.field, field, response.body);
}

function resourcesSuite(open: OpenStore): void {
  let manager: Manager;
  let root: string;
  const call = (method: string, url: string, body?: unknown) => manager.request(method, url, { token: root, ...(body !== undefined && { body }) });

  beforeAll(async () => {
    manager = await startManagerOver(await open('resources'));
    root = await manager.signIn('root', ROOT_PASSWORD);
  });
  afterAll(async () => {
    await manager?.close();
    await manager?.context.store.close();
  });

  test('validation errors are 400 and name the field, from the schema and from the checks beyond it', async () => {
    const cases: Array<[string, string, unknown, string, string]> = [
      ['POST', '/api/v1/clusters', { bio: 'no name' }, 'DF_ERR_INVALID_ARGUMENT', 'body.name'],
      ['POST', '/api/v1/clusters', { name: 'x', scopes: { cidrs: ['10.0.0.0/33'] } }, 'DF_ERR_INVALID_FIELD', 'body.scopes.cidrs[0]'],
      ['POST', '/api/v1/clusters', { name: 'x', scopes: { cidrs: ['10.0.0.0/8'], hostnames: ['ok', '(unclosed'] } }, 'DF_ERR_INVALID_FIELD', 'body.scopes.hostnames[1]'],
      ['POST', '/api/v1/clusters', { name: 'x', scheduler_cluster_config: { candidate_parent_limit: 0 } }, 'DF_ERR_INVALID_ARGUMENT', 'body.scheduler_cluster_config.candidate_parent_limit'],
      ['POST', '/api/v1/applications', { name: 'a', url: 'https://a.example', priority: { value: 7 } }, 'DF_ERR_INVALID_ARGUMENT', 'body.priority.value'],
      ['POST', '/api/v1/applications', { name: 'a', url: 'https://a.example', priority: { value: 1, urls: [{ regex: '^ok$', value: 2 }, { regex: '[', value: 3 }] } }, 'DF_ERR_INVALID_FIELD', 'body.priority.urls[1].regex'],
      ['POST', '/api/v1/users', { name: 'bob', password: 'short' }, 'DF_ERR_INVALID_ARGUMENT', 'body.password'],
      ['POST', '/api/v1/personal-access-tokens', { name: 't', scopes: ['admin'], expired_at: '2031-01-01T00:00:00Z' }, 'DF_ERR_INVALID_ARGUMENT', 'body.scopes.0'],
      ['POST', '/api/v1/personal-access-tokens', { name: 't', scopes: ['job'], expired_at: '2020-01-01T00:00:00Z' }, 'DF_ERR_INVALID_FIELD', 'body.expired_at'],
      ['GET', '/api/v1/configs?per_page=0', undefined, 'DF_ERR_INVALID_ARGUMENT', 'querystring.per_page'],
      ['GET', '/api/v1/clusters/abc', undefined, 'DF_ERR_INVALID_ARGUMENT', 'params.id'],
      // Numbers SQL cannot take: infinite ones (ajv coerces them and skips its range checks), and past 2^53 or the page bound.
      ['GET', '/api/v1/clusters?per_page=Infinity', undefined, 'DF_ERR_INVALID_FIELD', 'querystring.per_page'],
      ['GET', '/api/v1/configs?page=1e400', undefined, 'DF_ERR_INVALID_FIELD', 'querystring.page'],
      ['GET', '/api/v1/configs?page=99999999999999999999', undefined, 'DF_ERR_INVALID_ARGUMENT', 'querystring.page'],
      ['GET', '/api/v1/clusters/99999999999999999999', undefined, 'DF_ERR_INVALID_ARGUMENT', 'params.id'],
    ];
    for (const [method, url, body, code, field] of cases) expectError(await call(method, url, body), 400, code, field);
    const clusters = (await call('GET', '/api/v1/clusters?name=x')).json() as unknown[];
    assert.deepEqual(clusters, [], 'nothing was stored by a refused request');
  });

  test('lists page with ?page&per_page (10 by default), x-total-count and Link keeping the filters', async () => {
    for (let i = 1; i <= 25; i++) assert.equal((await call('POST', '/api/v1/configs', { name: `page-${String(i).padStart(2, '0')}`, value: String(i) })).statusCode, 201);
    const first = await call('GET', '/api/v1/configs');
    assert.equal((first.json() as unknown[]).length, 10);
    assert.equal(first.headers['x-total-count'], '25');
    const second = await call('GET', '/api/v1/configs?page=2&per_page=10');
    const names = (second.json() as Array<{ name: string }>).map((config) => config.name);
    assert.deepEqual(names, Array.from({ length: 10 }, (_, i) => `page-${String(i + 11).padStart(2, '0')}`));
    const links = String(second.headers.link);
    for (const [page, rel] of [[1, 'first'], [1, 'prev'], [3, 'next'], [3, 'last']] as const) {
      assert.ok(links.includes(`</api/v1/configs?page=${page}&per_page=10>; rel="${rel}"`), `${rel} in ${links}`);
    }
    const last = await call('GET', '/api/v1/configs?page=3&per_page=10');
    assert.equal((last.json() as unknown[]).length, 5);
    assert.equal(String(last.headers.link).includes('rel="next"'), false);
    const filtered = await call('GET', '/api/v1/configs?name=page-07&per_page=5');
    assert.equal(filtered.headers['x-total-count'], '1');
    assert.ok(String(filtered.headers.link).includes('</api/v1/configs?name=page-07&page=1&per_page=5>; rel="first"'));
  });

  test('exactly one default cluster: created at first start, moved by create and patch, never deleted or unset', async () => {
    const defaults = async () => ((await call('GET', '/api/v1/clusters?per_page=100')).json() as Array<Json>).filter((c) => c.is_default).map((c) => c.name);
    assert.deepEqual(await defaults(), ['default']);
    const created = await call('POST', '/api/v1/clusters', { name: 'east', is_default: true, scopes: { idc: 'east-1', cidrs: ['10.1.0.0/16'] } });
    assert.equal(created.statusCode, 201, created.body);
    const east = created.json() as Json & { id: number };
    assert.deepEqual(
      { s: east.scheduler_cluster_config, seed: east.seed_peer_cluster_config, peer: east.peer_cluster_config },
      { s: CLUSTER_DEFAULTS.scheduler_cluster_config, seed: CLUSTER_DEFAULTS.seed_peer_cluster_config, peer: CLUSTER_DEFAULTS.peer_cluster_config },
      "Dragonfly's defaults",
    );
    assert.deepEqual(east.scopes, { idc: 'east-1', cidrs: ['10.1.0.0/16'] });
    assert.deepEqual(await defaults(), ['east']);
    const west = (await call('POST', '/api/v1/clusters', { name: 'west' })).json() as { id: number };
    const patched = await call('PATCH', `/api/v1/clusters/${west.id}`, { is_default: true, peer_cluster_config: { load_limit: 300 } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual((patched.json() as Json).peer_cluster_config, { load_limit: 300, concurrent_piece_count: 8 }, 'a patch merges key by key');
    assert.deepEqual(await defaults(), ['west']);
    expectError(await call('DELETE', `/api/v1/clusters/${west.id}`), 409, 'DF_ERR_MANAGER_CONFLICT');
    expectError(await call('PATCH', `/api/v1/clusters/${west.id}`, { is_default: false }), 409, 'DF_ERR_MANAGER_CONFLICT');
    expectError(await call('POST', '/api/v1/clusters', { name: 'east' }), 409, 'DF_ERR_ALREADY_EXISTS');
    // Two at once: the lock (PostgreSQL) or the single writer (SQLite) leaves one default.
    const racing = await Promise.all(['race-a', 'race-b', 'race-c'].map((name) => call('POST', '/api/v1/clusters', { name, is_default: true })));
    assert.deepEqual(racing.map((r) => r.statusCode), [201, 201, 201]);
    assert.equal((await defaults()).length, 1);
    assert.equal((await call('DELETE', `/api/v1/clusters/${east.id}`)).statusCode, 200);
    expectError(await call('GET', `/api/v1/clusters/${east.id}`), 404, 'DF_ERR_RECORD_NOT_FOUND');
  });

  test('schedulers, seed peers and peers: read-only lists filtered by cluster, state, hostname and ip', async () => {
    const db = manager.context.store.db;
    const now = manager.clock.now;
    const { id: a } = (await call('POST', '/api/v1/clusters', { name: 'hosts-a' })).json() as { id: number };
    const { id: b } = (await call('POST', '/api/v1/clusters', { name: 'hosts-b' })).json() as { id: number };
    const scheduler = (hostname: string, ip: string, cluster: number, state: string) => ({ hostname, ip, port: 8002, idc: null, location: null, state, features: '["schedule"]', scheduler_cluster_id: cluster, last_keepalive_at: now, created_at: now, updated_at: now });
    await db.insertInto('schedulers').values([scheduler('s1', '10.0.0.1', a, 'active'), scheduler('s2', '10.0.0.2', a, 'inactive'), scheduler('s3', '10.0.0.3', b, 'active')]).execute();
    const host = (hostId: string, type: string, hostname: string, ip: string, cluster: number) => ({ host_id: hostId, type, hostname, ip, port: 65000, download_port: 65002, idc: null, location: null, version: '1.0', scheduler_cluster_id: cluster, state: 'active', stats: '{}', first_seen_at: now, last_seen_at: now });
    await db.insertInto('hosts').values([host('h1-seed', 'seed', 'seed-1', '10.0.1.1', a), host('h2', 'normal', 'peer-1', '10.0.2.1', a), host('h3', 'normal', 'peer-2', '10.0.2.2', b)]).execute();

    const names = async (url: string) => ((await call('GET', url)).json() as Array<{ hostname: string }>).map((row) => row.hostname);
    assert.deepEqual(await names(`/api/v1/schedulers?scheduler_cluster_id=${a}`), ['s1', 's2']);
    assert.deepEqual(await names(`/api/v1/schedulers?scheduler_cluster_id=${a}&state=active`), ['s1']);
    assert.deepEqual(await names('/api/v1/schedulers?ip=10.0.0.3'), ['s3']);
    assert.deepEqual(await names('/api/v1/seed-peers'), ['seed-1']);
    assert.deepEqual(await names('/api/v1/peers'), ['peer-1', 'peer-2']);
    assert.deepEqual(await names(`/api/v1/peers?scheduler_cluster_id=${b}`), ['peer-2']);
    assert.deepEqual(await names('/api/v1/peers?hostname=peer-1'), ['peer-1']);
    const s1 = ((await call('GET', '/api/v1/schedulers?hostname=s1')).json() as Array<Json & { id: number }>)[0]!;
    assert.deepEqual(s1.features, ['schedule']);
    assert.equal((await call('GET', `/api/v1/schedulers/${s1.id}`)).statusCode, 200);
    assert.equal((await call('DELETE', `/api/v1/schedulers/${s1.id}`)).statusCode, 404, 'no write routes');
  });

  test('applications and configs: create, get, patch, delete; a name is unique', async () => {
    const created = await call('POST', '/api/v1/applications', { name: 'web', url: 'https://web.example', bio: null, priority: { value: 2, urls: [{ regex: '^https://cdn\\.', value: 5 }] } });
    assert.equal(created.statusCode, 201, created.body);
    const { id } = created.json() as { id: number };
    expectError(await call('POST', '/api/v1/applications', { name: 'web', url: 'https://other.example', priority: { value: 0 } }), 409, 'DF_ERR_ALREADY_EXISTS');
    const patched = await call('PATCH', `/api/v1/applications/${id}`, { priority: { value: 6 } });
    assert.deepEqual((patched.json() as Json).priority, { urls: [], value: 6 });
    assert.equal((await call('DELETE', `/api/v1/applications/${id}`)).statusCode, 200);
    expectError(await call('GET', `/api/v1/applications/${id}`), 404, 'DF_ERR_RECORD_NOT_FOUND');
    const config = (await call('POST', '/api/v1/configs', { name: 'feature.x', value: 'on' })).json() as { id: number };
    assert.equal(((await call('PATCH', `/api/v1/configs/${config.id}`, { value: 'off' })).json() as Json).value, 'off');
    expectError(await call('DELETE', '/api/v1/configs/99999'), 404, 'DF_ERR_RECORD_NOT_FOUND');
  });

  test('users: root manages them; the last root cannot be demoted, disabled or deleted; answers carry no password hash', async () => {
    const created = await call('POST', '/api/v1/users', { name: 'carol', password: 'carol-password', email: 'carol@example.com' });
    assert.equal(created.statusCode, 201, created.body);
    const carol = created.json() as Json & { id: number };
    assert.equal('password_hash' in carol, false);
    expectError(await call('POST', '/api/v1/users', { name: 'carol', password: 'carol-password' }), 409, 'DF_ERR_ALREADY_EXISTS');
    const rootId = ((await call('GET', '/api/v1/users?role=root')).json() as Array<{ id: number }>)[0]!.id;
    expectError(await call('DELETE', `/api/v1/users/${rootId}/roles/root`), 409, 'DF_ERR_MANAGER_CONFLICT');
    expectError(await call('PATCH', `/api/v1/users/${rootId}`, { state: 'disable' }), 409, 'DF_ERR_MANAGER_CONFLICT');
    expectError(await call('DELETE', `/api/v1/users/${rootId}`), 409, 'DF_ERR_MANAGER_CONFLICT');
    assert.equal(((await call('PUT', `/api/v1/users/${carol.id}/roles/root`)).json() as Json).role, 'root');
    assert.deepEqual((await call('GET', `/api/v1/users/${carol.id}/roles`)).json(), ['root']);
    const carolToken = await manager.signIn('carol', 'carol-password');
    assert.equal((await manager.request('GET', '/api/v1/users', { token: carolToken })).statusCode, 200, 'promoted at once');
    assert.equal(((await call('DELETE', `/api/v1/users/${carol.id}/roles/root`)).json() as Json).role, 'guest');
    expectError(await manager.request('GET', '/api/v1/users', { token: carolToken }), 403, 'DF_ERR_PERMISSION_DENIED');
    assert.equal((await call('DELETE', `/api/v1/users/${carol.id}`)).statusCode, 200);
    expectError(await manager.request('GET', '/api/v1/users/me', { token: carolToken }), 401, 'DF_ERR_UNAUTHENTICATED');
  });

  test('GET /openapi.json describes the routes from their schemas', async () => {
    const response = await manager.request('GET', '/openapi.json');
    assert.equal(response.statusCode, 200);
    const document = response.json() as { openapi: string; paths: Record<string, Record<string, Json>> };
    assert.match(document.openapi, /^3\./);
    const patch = document.paths['/api/v1/clusters/{id}']!.patch!;
    assert.deepEqual((patch.parameters as Json[]).map((p) => [p.name, p.in]), [['id', 'path']]);
    const body = (patch.requestBody as { content: Record<string, { schema: { properties: Json } }> }).content['application/json']!.schema;
    assert.ok('scheduler_cluster_config' in body.properties);
    assert.deepEqual(document.paths['/oapi/v1/clusters']!.get!.security, [{ personalAccessToken: [] }]);
    assert.equal(document.paths['/api/v1/users/signin']!.post!.security, undefined);
    const listParams = (document.paths['/api/v1/peers']!.get!.parameters as Json[]).map((p) => p.name);
    assert.deepEqual(listParams.sort(), ['hostname', 'ip', 'page', 'per_page', 'scheduler_cluster_id', 'state']);
  });
}

onBothStores(resourcesSuite);
