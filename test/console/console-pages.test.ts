/**
 * The console in a real Chromium against a real manager: sign-in errors in words, root signs in,
 * creates and edits a cluster, creates a personal access token that is shown once (and works on
 * /oapi), revokes it, creates a guest; the guest sees no tokens or users and gets a "not allowed"
 * page without the console asking the API for them; pages fit a 420 px window. The browser console
 * stays free of errors except the one 401 the wrong password provokes on purpose.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ROOT_USER } from '../../manager/index.ts';
import { launchChromium, openPage } from '../support/browser.ts';
import { rest, ROOT_PASSWORD, startConsoleRig } from './harness.ts';

test('sign in, clusters, a token shown once, users, and a guest kept out of tokens', { timeout: 120_000 }, async (t) => {
  const browser = await launchChromium(t);
  const rig = await startConsoleRig(t, 'pages');
  const { page, errors, requests, shot } = await openPage(browser, rig.shots);

  // Unknown paths under /api stay JSON 404s; client routes get the app.
  assert.equal((await rest(rig.base, 'GET', '/api/v1/nope')).status, 404);
  const deep = await fetch(`${rig.base}/tasks/abc`);
  assert.equal(deep.status, 200);
  assert.match(await deep.text(), /<div id="app">/);

  await page.goto(`${rig.base}/clusters`);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Name').fill(ROOT_USER);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong name or password' }).waitFor();
  await shot('signin-error');
  // Chromium logs the refused sign-in's 401 itself; that one error is expected, nothing else.
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /401/);
  errors.length = 0;

  await page.getByLabel('Password').fill(ROOT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Clusters' }).waitFor();
  await page.getByRole('link', { name: 'Tokens' }).waitFor();

  // A cluster created and edited through the forms, checked through the API.
  await page.getByRole('button', { name: 'New cluster' }).click();
  await page.getByLabel('Name', { exact: true }).fill('edge');
  await page.getByLabel('IDC').fill('idc-a');
  await page.getByLabel('Candidate parents (1-20)').fill('5');
  await page.getByRole('button', { name: 'Create cluster' }).click();
  await page.getByRole('heading', { name: 'Cluster edge' }).waitFor();
  await page.getByText('IDC idc-a').waitFor();
  await page.getByText('No scheduler has registered in this cluster').waitFor();
  await page.getByRole('button', { name: 'Edit scopes and limits' }).click();
  await page.getByLabel('Candidate parents (1-20)').fill('7');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('7 candidates of 15 filtered').waitFor();
  const clusters = await rest<Array<{ name: string; scopes: { idc?: string }; scheduler_cluster_config: { candidate_parent_limit: number } }>>(rig.base, 'GET', '/api/v1/clusters', rig.rootJwt);
  const edge = clusters.json.find((cluster) => cluster.name === 'edge');
  assert.equal(edge?.scopes.idc, 'idc-a');
  assert.equal(edge?.scheduler_cluster_config.candidate_parent_limit, 7);
  await shot('cluster');
  // An API refusal in words: the limit is out of the API's bounds.
  await page.getByRole('button', { name: 'Edit scopes and limits' }).click();
  await page.getByLabel('Filtered parents (10-1000)').evaluate((input) => input.removeAttribute('min'));
  await page.getByLabel('Filtered parents (10-1000)').fill('3');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('alert').filter({ hasText: 'filter_parent_limit' }).waitFor();
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /400/);
  errors.length = 0;
  await page.getByRole('link', { name: 'Clusters' }).click();
  await page.getByRole('link', { name: 'edge' }).waitFor();
  await shot('clusters');

  // A token: shown once, works on /oapi, gone after a reload, revoked from the list.
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByText('No tokens yet').waitFor();
  await page.getByLabel('Name').fill('harbor');
  await page.getByLabel('cluster').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent())!.trim();
  assert.match(token, /^dfp_/);
  await page.getByRole('button', { name: 'Copy' }).waitFor();
  await shot('token-created');
  assert.equal((await rest(rig.base, 'GET', '/oapi/v1/clusters', token)).status, 200, 'the token shown works');
  await page.reload();
  await page.getByRole('cell', { name: 'harbor' }).waitFor();
  assert.ok(!(await page.content()).includes(token), 'the token is gone after a reload');
  await shot('tokens');
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('inactive').waitFor();
  assert.equal((await rest(rig.base, 'GET', '/oapi/v1/clusters', token)).status, 401, 'the revoked token is refused');

  // Users: root creates a guest through the form.
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Name').fill('alice');
  await page.getByLabel('Password (8 or more)').fill('alice-password');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('cell', { name: 'alice' }).waitFor();
  await shot('users');

  // Sign out, then the guest: no tokens or users in the navigation, and a clear refusal.
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Signing out asks the API first: the users page (with its own Name field) stays until it answered.
  await page.getByRole('heading', { name: 'Dragonfly manager' }).waitFor();
  await page.getByLabel('Name').fill('alice');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('alice (guest)').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Tokens' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
  const before = requests.length;
  await page.goto(`${rig.base}/tokens`);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  await page.getByText('are for users with the root role').waitFor();
  assert.ok(!requests.slice(before).some((url) => url.includes('/personal-access-tokens')), 'the guest page asked for no tokens');
  assert.ok(!(await page.content()).includes('harbor'));
  await shot('guest-not-allowed');

  // A narrow window: nothing wider than the viewport.
  const narrow = await openPage(browser, rig.shots, { width: 420, height: 800 });
  await narrow.page.goto(`${rig.base}/clusters`);
  await narrow.page.getByLabel('Name').fill(ROOT_USER);
  await narrow.page.getByLabel('Password').fill(ROOT_PASSWORD);
  await narrow.page.getByRole('button', { name: 'Sign in' }).click();
  await narrow.page.getByRole('link', { name: 'edge' }).waitFor();
  assert.ok(Number(await narrow.page.evaluate('document.documentElement.scrollWidth')) <= 420, 'no sideways scrolling at 420 px');
  await narrow.shot('clusters-narrow');
  await narrow.page.getByRole('link', { name: 'Tokens' }).click();
  await narrow.page.getByRole('cell', { name: 'harbor' }).waitFor();
  assert.ok(Number(await narrow.page.evaluate('document.documentElement.scrollWidth')) <= 420);
  await narrow.shot('tokens-narrow');

  assert.deepEqual([...errors, ...narrow.errors], [], 'no browser console errors');
});
