/**
 * Who may call what on the manager's REST API, on node:sqlite and PostgreSQL: the authorization
 * matrix (anonymous, guest, root, PATs with and without the scope, expired and revoked PATs),
 * sign-in and its cookie, the initial root password, and tokens that exist only in one answer.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { ROOT_PASSWORD_ENV } from '../../manager/index.ts';
import { onBothStores, ROOT_PASSWORD, startManagerOver, type Manager, type OpenStore } from './rest-harness.ts';

const HOUR = 3_600_000;

function expectError(response: LightMyRequestResponse, status: number, code: string, what: string): void {
  assert.equal(response.statusCode, status, `${what}: ${response.body}`);
  assert.equal((response.json() as { code: string }).code, code, what);
}

function authSuite(open: OpenStore): void {
  let manager: Manager;
  let root: string;
  let guest: string;
  const pats: Record<'cluster' | 'job' | 'both' | 'expiring' | 'revoked', string> = { cluster: '', job: '', both: '', expiring: '', revoked: '' };

  async function createPat(name: string, scopes: string[], expiresInMs: number): Promise<{ id: number; token: string }> {
    const expired_at = new Date(manager.clock.now + expiresInMs).toISOString();
    const response = await manager.request('POST', '/api/v1/personal-access-tokens', { token: root, body: { name, scopes, expired_at } });
    assert.equal(response.statusCode, 201, response.body);
    return response.json() as { id: number; token: string };
  }

  beforeAll(async () => {
    manager = await startManagerOver(await open('auth'));
    root = await manager.signIn('root', ROOT_PASSWORD);
    const created = await manager.request('POST', '/api/v1/users', { token: root, body: { name: 'alice', password: 'alice-password' } });
    assert.equal(created.statusCode, 201, created.body);
    guest = await manager.signIn('alice', 'alice-password');
    pats.cluster = (await createPat('harbor', ['cluster'], 24 * HOUR)).token;
    pats.job = (await createPat('jobs-only', ['job'], 24 * HOUR)).token;
    pats.both = (await createPat('both', ['job', 'cluster'], 24 * HOUR)).token;
    pats.expiring = (await createPat('short', ['cluster'], HOUR)).token;
    const revoked = await createPat('leaked', ['cluster'], 24 * HOUR);
    pats.revoked = revoked.token;
    const patch = await manager.request('PATCH', `/api/v1/personal-access-tokens/${revoked.id}`, { token: root, body: { state: 'inactive' } });
    assert.equal(patch.statusCode, 200, patch.body);
    // Past the short token's expiry, well within the JWTs' 24 h.
    manager.clock.now += 2 * HOUR;
  });
  afterAll(async () => {
    await manager?.close();
    await manager?.context.store.close();
  });

  test('authorization matrix over representative routes', async () => {
    let clusters = 0;
    const newCluster = () => ({ name: `matrix-${++clusters}` });
    type Caller = 'anonymous' | 'guest' | 'root' | 'pat cluster' | 'pat job' | 'pat expired' | 'pat revoked';
    const tokenOf = (caller: Caller): string | undefined =>
      ({ anonymous: undefined, guest, root, 'pat cluster': pats.cluster, 'pat job': pats.job, 'pat expired': pats.expiring, 'pat revoked': pats.revoked })[caller];
    const ok = (status: number) => [status, undefined] as const;
    const no = (status: number, code: string) => [status, code] as const;
    const U = no(401, 'DF_ERR_UNAUTHENTICATED');
    const F = no(403, 'DF_ERR_PERMISSION_DENIED');
    const rows: Array<[string, string, (() => unknown) | undefined, Record<Caller, readonly [number, string | undefined]>]> = [
      ['GET', '/api/v1/clusters', undefined, { anonymous: U, guest: ok(200), root: ok(200), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['POST', '/api/v1/clusters', newCluster, { anonymous: U, guest: F, root: ok(201), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['GET', '/api/v1/schedulers', undefined, { anonymous: U, guest: ok(200), root: ok(200), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['GET', '/api/v1/users', undefined, { anonymous: U, guest: F, root: ok(200), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['GET', '/api/v1/users/me', undefined, { anonymous: U, guest: ok(200), root: ok(200), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['GET', '/api/v1/personal-access-tokens', undefined, { anonymous: U, guest: F, root: ok(200), 'pat cluster': U, 'pat job': U, 'pat expired': U, 'pat revoked': U }],
      ['GET', '/oapi/v1/clusters', undefined, { anonymous: U, guest: U, root: U, 'pat cluster': ok(200), 'pat job': F, 'pat expired': U, 'pat revoked': U }],
    ];
    for (const [method, url, body, expected] of rows) {
      for (const [caller, [status, code]] of Object.entries(expected) as Array<[Caller, readonly [number, string | undefined]]>) {
        const token = tokenOf(caller);
        const response = await manager.request(method, url, { ...(token !== undefined && { token }), ...(body && { body: body() }) });
        const what = `${caller} ${method} ${url}`;
        if (code === undefined) assert.equal(response.statusCode, status, `${what}: ${response.body}`);
        else expectError(response, status, code, what);
      }
    }
    // A token with both scopes passes either check.
    assert.equal((await manager.request('GET', '/oapi/v1/clusters', { token: pats.both })).statusCode, 200);
  });

  test('signin: wrong password and unknown user are 401 alike; the cookie is HttpOnly and SameSite=Strict and works alone', async () => {
    expectError(await manager.request('POST', '/api/v1/users/signin', { body: { name: 'root', password: 'wrong' } }), 401, 'DF_ERR_UNAUTHENTICATED', 'wrong password');
    expectError(await manager.request('POST', '/api/v1/users/signin', { body: { name: 'nobody', password: 'x' } }), 401, 'DF_ERR_UNAUTHENTICATED', 'unknown user');
    const response = await manager.request('POST', '/api/v1/users/signin', { body: { name: 'alice', password: 'alice-password' } });
    assert.equal(response.statusCode, 200);
    const { token, expire } = response.json() as { token: string; expire: string };
    assert.equal(Date.parse(expire), manager.clock.now - (manager.clock.now % 1000) + 24 * HOUR);
    const setCookie = String(response.headers['set-cookie']);
    assert.match(setCookie, new RegExp(`^jwt=${token.replaceAll('.', '\\.')};`));
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    const me = await manager.request('GET', '/api/v1/users/me', { cookie: `theme=dark; jwt=${token}` });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal((me.json() as { name: string }).name, 'alice');
    assert.equal(JSON.stringify(me.json()).includes('password'), false, 'no password hash in the answer');
    const signout = await manager.request('POST', '/api/v1/users/signout', { cookie: `jwt=${token}` });
    assert.match(String(signout.headers['set-cookie']), /^jwt=; .*Max-Age=0/);
  });

  test('refresh_token gives a new token; an expired or forged token is 401', async () => {
    const token = await manager.signIn('alice', 'alice-password');
    manager.clock.now += 1000;
    const refreshed = await manager.request('POST', '/api/v1/users/refresh_token', { token });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const fresh = (refreshed.json() as { token: string }).token;
    assert.notEqual(fresh, token);
    const [header, payload] = fresh.split('.');
    expectError(await manager.request('GET', '/api/v1/users/me', { token: `${header}.${payload}.AAAA` }), 401, 'DF_ERR_UNAUTHENTICATED', 'forged signature');
    manager.clock.now += 25 * HOUR;
    try {
      expectError(await manager.request('GET', '/api/v1/users/me', { token: fresh }), 401, 'DF_ERR_UNAUTHENTICATED', 'expired JWT');
    } finally {
      manager.clock.now -= 25 * HOUR;
    }
  });

  test('a PAT is in the create answer only; the row holds its sha256, lists show the prefix; use sets last_used_at', async () => {
    const created = await createPat('shown-once', ['cluster'], 24 * HOUR);
    assert.match(created.token, /^dfp_[A-Za-z0-9_-]{43}$/);
    const row = await manager.context.store.db.selectFrom('personal_access_tokens').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(JSON.stringify(row).includes(created.token.slice(4)), false, 'the stored row has no token text');
    assert.equal(row.token_hash, createHash('sha256').update(created.token).digest('hex'));
    assert.equal(row.last_used_at, null);
    for (const url of ['/api/v1/personal-access-tokens?per_page=100', `/api/v1/personal-access-tokens/${created.id}`]) {
      const text = (await manager.request('GET', url, { token: root })).body;
      assert.equal(text.includes(created.token.slice(4)), false, url);
      assert.equal(text.includes(row.token_hash), false, url);
      assert.ok(text.includes(`"prefix":"${created.token.slice(0, 8)}"`), url);
    }
    assert.equal((await manager.request('GET', '/oapi/v1/clusters', { token: created.token })).statusCode, 200);
    const used = await manager.context.store.db.selectFrom('personal_access_tokens').select('last_used_at').where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(used.last_used_at, manager.clock.now);
    // Revoking is final: the API has no way back to active.
    const reactivate = await manager.request('PATCH', `/api/v1/personal-access-tokens/${created.id}`, { token: root, body: { state: 'active' } });
    assert.equal(reactivate.statusCode, 400);
  });

  test('a guest changes its own password with the old one, not anyone else\'s; a disabled user is locked out at once', async () => {
    const me = (await manager.request('GET', '/api/v1/users/me', { token: guest })).json() as { id: number };
    const rootUser = (await manager.request('GET', '/api/v1/users?name=root', { token: root })).json() as Array<{ id: number }>;
    expectError(await manager.request('POST', `/api/v1/users/${rootUser[0]!.id}/reset_password`, { token: guest, body: { new_password: 'taken-over!' } }), 403, 'DF_ERR_PERMISSION_DENIED', 'guest resets root');
    expectError(await manager.request('POST', `/api/v1/users/${me.id}/reset_password`, { token: guest, body: { old_password: 'nope', new_password: 'alice-password-2' } }), 401, 'DF_ERR_UNAUTHENTICATED', 'wrong old password');
    const changed = await manager.request('POST', `/api/v1/users/${me.id}/reset_password`, { token: guest, body: { old_password: 'alice-password', new_password: 'alice-password-2' } });
    assert.equal(changed.statusCode, 200, changed.body);
    guest = await manager.signIn('alice', 'alice-password-2');
    const disabled = await manager.request('PATCH', `/api/v1/users/${me.id}`, { token: root, body: { state: 'disable' } });
    assert.equal(disabled.statusCode, 200, disabled.body);
    expectError(await manager.request('GET', '/api/v1/users/me', { token: guest }), 401, 'DF_ERR_UNAUTHENTICATED', 'disabled user');
    await manager.request('PATCH', `/api/v1/users/${me.id}`, { token: root, body: { state: 'enable' } });
  });

  test('a second replica on the same database accepts the first one\'s tokens (one shared signing key)', async () => {
    const replica = await startManagerOver(manager.context.store);
    try {
      replica.clock.now = manager.clock.now;
      assert.equal((await replica.request('GET', '/api/v1/users/me', { token: root })).statusCode, 200);
      const keys = await manager.context.store.db.selectFrom('manager_secrets').selectAll().execute();
      assert.equal(keys.length, 1);
    } finally {
      await replica.close();
    }
  });

  test('the root password: config first, then the environment, else random and logged once; never reset later', async () => {
    const fromConfig = await startManagerOver(await open('root-config'), { config: { auth: { rootPassword: 'from-config-1' } }, env: { [ROOT_PASSWORD_ENV]: 'from-env-1' } });
    try {
      await fromConfig.signIn('root', 'from-config-1');
      expectError(await fromConfig.request('POST', '/api/v1/users/signin', { body: { name: 'root', password: 'from-env-1' } }), 401, 'DF_ERR_UNAUTHENTICATED', 'env ignored');
      assert.equal(JSON.stringify(fromConfig.logs).includes('from-config-1'), false, 'a configured password is not logged');
    } finally {
      await fromConfig.close();
      await fromConfig.context.store.close();
    }

    const fromEnv = await startManagerOver(await open('root-env'), { config: { auth: {} }, env: { [ROOT_PASSWORD_ENV]: 'from-env-2' } });
    try {
      await fromEnv.signIn('root', 'from-env-2');
      assert.equal(JSON.stringify(fromEnv.logs).includes('from-env-2'), false);
    } finally {
      await fromEnv.close();
      await fromEnv.context.store.close();
    }

    const store = await open('root-random');
    const first = await startManagerOver(store, { config: { auth: {} } });
    const lines = first.logs.filter((line) => String(line.msg).startsWith('initial root password'));
    assert.equal(lines.length, 1, 'one line with the generated password');
    const password = /: (\S+)$/.exec(String(lines[0]!.msg))![1]!;
    assert.ok(password.length >= 20);
    await first.signIn('root', password);
    await first.close();
    // A restart (even one that now configures a password) neither prints nor resets it.
    const second = await startManagerOver(store, { config: { auth: { rootPassword: 'later-config' } } });
    try {
      assert.equal(JSON.stringify(second.logs).includes(password), false);
      assert.equal(second.logs.some((line) => String(line.msg).startsWith('initial root password')), false);
      await second.signIn('root', password);
      const row = await store.db.selectFrom('users').select('password_hash').where('name', '=', 'root').executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^scrypt\$\d+\$\d+\$\d+\$/);
      assert.equal(row.password_hash.includes(password), false);
    } finally {
      await second.close();
      await store.close();
    }
  });

  test('signup is off unless auth.enableSignup, and then creates a guest', async () => {
    expectError(await manager.request('POST', '/api/v1/users/signup', { body: { name: 'mallory', password: 'mallory-pass' } }), 403, 'DF_ERR_PERMISSION_DENIED', 'signup off');
    const open = await startManagerOver(manager.context.store, { config: { auth: { rootPassword: ROOT_PASSWORD, enableSignup: true } } });
    try {
      const response = await open.request('POST', '/api/v1/users/signup', { body: { name: 'bob', password: 'bob-password' } });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal((response.json() as { role: string }).role, 'guest');
      const bob = await open.signIn('bob', 'bob-password');
      expectError(await open.request('GET', '/api/v1/users', { token: bob }), 403, 'DF_ERR_PERMISSION_DENIED', 'a signed-up user is a guest');
    } finally {
      await open.close();
    }
  });
}

onBothStores(authSuite);
