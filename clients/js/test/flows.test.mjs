// Signing in (password, two-factor, provider), restoring, signing out.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { AuthError } from '../dist/index.js';
import {
  BASE,
  FakeHub,
  ManualClock,
  NEVER,
  closeAll,
  deferred,
  eventsOf,
  fakeFetch,
  flush,
  json,
  makeClient,
  problem,
  settled,
  tokenResponse,
  track,
} from './helpers.mjs';

afterEach(closeAll);

describe('signIn', { timeout: 10_000 }, () => {
  test('posts /auth/login as JSON with cookie delivery and credentials, and holds the token in memory', async () => {
    const fetch = fakeFetch({ '/auth/login': [tokenResponse('AT1', 900)] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    assert.equal(client.isSignedIn, false);
    assert.equal(client.accessToken, null);

    const result = await client.signIn('ada@example.com', 'correct horse');

    assert.deepEqual(result, { status: 'signedIn' });
    assert.equal(fetch.calls.length, 1);
    const [call] = fetch.calls;
    assert.equal(call.url, `${BASE}/auth/login`);
    assert.equal(call.method, 'POST');
    assert.equal(call.credentials, 'include');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.deepEqual(call.body, {
      email: 'ada@example.com',
      password: 'correct horse',
      refresh_token_delivery: 'cookie',
    });
    assert.equal(client.accessToken, 'AT1');
    assert.equal(client.isSignedIn, true);
    assert.deepEqual(client.events, [{ type: 'signedIn' }]);
    assert.equal(await client.getAccessToken(), 'AT1', 'a fresh token is given without a request');
    assert.equal(fetch.calls.length, 1);
  });

  test('a 403 mfa_required returns the mfa step and does not sign in', async () => {
    const fetch = fakeFetch({
      '/auth/login': [problem(403, 'mfa_required', { mfa_token: 'MFA-T', expires_in: 300 })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });

    const result = await client.signIn('ada@example.com', 'pw');

    assert.deepEqual(result, { status: 'mfaRequired', mfaToken: 'MFA-T', expiresIn: 300 });
    assert.equal(client.isSignedIn, false);
    assert.equal(client.accessToken, null);
    assert.deepEqual(client.events, []);
  });

  test('a 403 mfa_required without an mfa_token rejects (there is nothing to complete)', async () => {
    const fetch = fakeFetch({ '/auth/login': [problem(403, 'mfa_required')] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await assert.rejects(client.signIn('a@example.com', 'pw'), (error) => {
      assert.ok(error instanceof AuthError);
      assert.equal(error.code, 'mfa_required');
      assert.equal(error.status, 403);
      return true;
    });
    assert.equal(client.isSignedIn, false);
  });

  test('completeMfa posts /auth/login/mfa with the mfa_token, the code and cookie delivery', async () => {
    const fetch = fakeFetch({
      '/auth/login': [problem(403, 'mfa_required', { mfa_token: 'MFA-T', expires_in: 300 })],
      '/auth/login/mfa': [tokenResponse('AT-MFA')],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    const step = await client.signIn('ada@example.com', 'pw');
    assert.equal(step.status, 'mfaRequired');

    await client.completeMfa(step.mfaToken, '123456');

    const [call] = fetch.to('/auth/login/mfa');
    assert.equal(call.method, 'POST');
    assert.equal(call.credentials, 'include');
    assert.deepEqual(call.body, { mfa_token: 'MFA-T', code: '123456', refresh_token_delivery: 'cookie' });
    assert.equal(client.accessToken, 'AT-MFA');
    assert.equal(client.isSignedIn, true);
    assert.deepEqual(client.events, [{ type: 'signedIn' }]);
  });

  test('a wrong mfa code rejects with its AuthError and leaves the client signed out', async () => {
    const fetch = fakeFetch({ '/auth/login/mfa': [problem(401, 'invalid_mfa_code', { detail: 'Wrong code.' })] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await assert.rejects(client.completeMfa('MFA-T', '000000'), { name: 'AuthError', code: 'invalid_mfa_code', status: 401 });
    assert.equal(client.isSignedIn, false);
    assert.deepEqual(client.events, []);
  });

  test('a 401 invalid_credentials rejects with an AuthError carrying code, status and detail', async () => {
    const fetch = fakeFetch({
      '/auth/login': [problem(401, 'invalid_credentials', { detail: 'Wrong email or password.' })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });

    await assert.rejects(client.signIn('ada@example.com', 'wrong'), (error) => {
      assert.ok(error instanceof AuthError);
      assert.equal(error.name, 'AuthError');
      assert.equal(error.code, 'invalid_credentials');
      assert.equal(error.status, 401);
      assert.equal(error.message, 'Wrong email or password.');
      return true;
    });
    assert.equal(client.isSignedIn, false);
    assert.deepEqual(client.events, [], 'a failed sign-in is not a sign-out');
  });
});

describe('providers', { timeout: 10_000 }, () => {
  test('startProviderSignIn sends the browser to the authorize URL with redirect_to encoded', () => {
    const assigned = [];
    const client = makeClient({
      fetch: fakeFetch(),
      clock: new ManualClock(),
      location: { assign: (url) => assigned.push(url) },
    });

    client.startProviderSignIn('google', 'https://app.example.com/cb');

    assert.deepEqual(assigned, [
      `${BASE}/auth/oauth/google/authorize?redirect_to=${encodeURIComponent('https://app.example.com/cb')}`,
    ]);
    const url = new URL(assigned[0]);
    assert.equal(url.searchParams.get('redirect_to'), 'https://app.example.com/cb');
  });

  test('startProviderSignIn trims a trailing slash of baseUrl and encodes the provider', () => {
    const assigned = [];
    const client = makeClient({
      baseUrl: `${BASE}/`,
      fetch: fakeFetch(),
      clock: new ManualClock(),
      location: { assign: (url) => assigned.push(url) },
    });
    client.startProviderSignIn('a b', 'https://app.example.com/cb?x=1&y=2');
    assert.equal(
      assigned[0],
      `${BASE}/auth/oauth/a%20b/authorize?redirect_to=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1%26y%3D2`,
    );
  });

  test('providerReturn reads mfa_required with the token from the fragment, without a request', async () => {
    const fetch = fakeFetch();
    const client = makeClient({ fetch, clock: new ManualClock() });
    const result = await client.providerReturn('https://app/x?error=mfa_required#mfa_token=T&expires_in=300');
    assert.deepEqual(result, { status: 'mfaRequired', mfaToken: 'T', expiresIn: 300 });
    assert.equal(fetch.calls.length, 0);
    assert.equal(client.isSignedIn, false);
  });

  test('providerReturn reads ?error= as an error and ?linked= as a linked provider, without a request', async () => {
    const fetch = fakeFetch();
    const client = makeClient({ fetch, clock: new ManualClock() });
    assert.deepEqual(await client.providerReturn('https://app/x?error=access_denied'), {
      status: 'error',
      code: 'access_denied',
    });
    assert.deepEqual(await client.providerReturn(new URL('https://app/x?linked=google')), {
      status: 'linked',
      provider: 'google',
    });
    assert.equal(fetch.calls.length, 0);
  });

  test('providerReturn on a plain URL refreshes once and returns signedIn on 200', async () => {
    const fetch = fakeFetch({ '/auth/refresh': [tokenResponse('AT-P')] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    const result = await client.providerReturn('https://app/x');
    assert.deepEqual(result, { status: 'signedIn' });
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.equal(fetch.calls.length, 1);
    assert.equal(client.accessToken, 'AT-P');
    assert.deepEqual(client.events, [{ type: 'signedIn' }]);
  });

  test('providerReturn on a plain URL returns none on 401, with no signedOut event', async () => {
    const fetch = fakeFetch({ '/auth/refresh': [problem(401, 'invalid_refresh_token')] });
    const hub = new FakeHub();
    const client = makeClient({ fetch, clock: new ManualClock(), channel: hub.channel() });
    const result = await client.providerReturn('https://app/x');
    assert.deepEqual(result, { status: 'none' });
    assert.equal(fetch.calls.length, 1);
    assert.equal(client.isSignedIn, false);
    assert.deepEqual(client.events, [], 'never signed in, so never signed out');
    assert.deepEqual(hub.messages('signedOut'), [], 'nothing to tell the other tabs');
  });
});

describe('restore', { timeout: 10_000 }, () => {
  test('is true and signed in on 200', async () => {
    const fetch = fakeFetch({ '/auth/refresh': [tokenResponse('AT-R')] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    assert.equal(await client.restore(), true);
    assert.equal(client.isSignedIn, true);
    assert.equal(client.accessToken, 'AT-R');
  });

  test('is false on 401, without throwing', async () => {
    const fetch = fakeFetch({ '/auth/refresh': [problem(401, 'invalid_refresh_token')] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    assert.equal(await client.restore(), false);
    assert.equal(client.isSignedIn, false);
    assert.deepEqual(client.events, []);
  });

  test('throws on a persistent 5xx (after its retries)', async () => {
    const clock = new ManualClock();
    const fetch = fakeFetch({ '/auth/refresh': () => problem(503, 'service_unavailable') });
    const client = makeClient({ fetch, clock, refreshAttempts: 3 });
    const restored = track(client.restore());
    await clock.advance(10_000); // more than 500 + 1000 ms of backoff
    await settled(restored);
    assert.equal(restored.state, 'rejected');
    assert.ok(restored.error instanceof AuthError);
    assert.equal(restored.error.code, 'service_unavailable');
    assert.equal(restored.error.status, 503);
    assert.equal(fetch.to('/auth/refresh').length, 3);
  });

  test('throws on a 4xx other than 401 (e.g. a refused CSRF header)', async () => {
    const fetch = fakeFetch({ '/auth/refresh': [problem(403, 'csrf_failed')] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await assert.rejects(client.restore(), { code: 'csrf_failed', status: 403 });
    assert.equal(fetch.calls.length, 1, 'a 4xx is not retried');
  });
});

describe('signOut', { timeout: 10_000 }, () => {
  test('clears the token at once, then posts /auth/logout with credentials, CSRF header and the token', async () => {
    const logout = deferred();
    const fetch = fakeFetch({ '/auth/login': [tokenResponse('AT1')], '/auth/logout': [logout.promise] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');

    const signingOut = track(client.signOut());

    // synchronously, before the logout request has answered
    assert.equal(client.isSignedIn, false);
    assert.equal(client.accessToken, null);
    assert.deepEqual(eventsOf(client, 'signedOut'), [{ type: 'signedOut', reason: 'signOut' }]);
    await flush();
    assert.equal(signingOut.state, 'pending');

    const [call] = fetch.to('/auth/logout');
    assert.equal(call.url, `${BASE}/auth/logout`);
    assert.equal(call.method, 'POST');
    assert.equal(call.credentials, 'include');
    assert.equal(call.headers['x-requested-with'], 'authapi-client');
    assert.equal(call.headers.authorization, 'Bearer AT1');

    logout.resolve(new Response(null, { status: 204 }));
    await settled(signingOut);
    assert.equal(signingOut.state, 'fulfilled');
    assert.equal(eventsOf(client, 'signedOut').length, 1, 'exactly one signedOut');
  });

  test('offline: the logout request failing still leaves the client signed out, without throwing', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/logout': [new TypeError('Failed to fetch')],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    await client.signOut();
    assert.equal(client.isSignedIn, false);
    assert.equal(eventsOf(client, 'signedOut').length, 1);
  });

  test('does not wait for a refresh stuck in flight', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/refresh': [NEVER],
      '/auth/logout': [new Response(null, { status: 204 })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    const refreshing = track(client.refresh());
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1, 'the refresh is in flight');

    const signingOut = track(client.signOut());
    await flush();

    assert.equal(signingOut.state, 'fulfilled', 'signOut finished with the refresh still in flight');
    assert.equal(refreshing.state, 'pending');
    assert.equal(client.isSignedIn, false);
    assert.equal(fetch.to('/auth/logout').length, 1);
  });

  test('a refresh answered after signOut() started is thrown away', async () => {
    const refreshAnswer = deferred();
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/refresh': [refreshAnswer.promise],
      '/auth/logout': [new Response(null, { status: 204 })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    const refreshing = track(client.refresh());
    await flush();

    await client.signOut();
    refreshAnswer.resolve(tokenResponse('AT-STALE'));
    await settled(refreshing);

    assert.equal(client.isSignedIn, false);
    assert.equal(client.accessToken, null);
    assert.deepEqual(
      client.events.map((event) => event.type),
      ['signedIn', 'signedOut'],
      'no signedIn/tokenRefreshed from the stale answer',
    );
  });

  test('signOutEverywhere posts /auth/logout-all with the bearer token, then signs out', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/logout-all': [new Response(null, { status: 204 })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    await client.signOutEverywhere();
    const [call] = fetch.to('/auth/logout-all');
    assert.equal(call.method, 'POST');
    assert.equal(call.headers.authorization, 'Bearer AT1');
    assert.equal(client.isSignedIn, false);
    assert.deepEqual(eventsOf(client, 'signedOut'), [{ type: 'signedOut', reason: 'signOut' }]);
  });
});

describe('account requests', { timeout: 10_000 }, () => {
  test('register and resetPassword post JSON and surface refusals as AuthError', async () => {
    const fetch = fakeFetch({
      '/auth/register': [new Response(null, { status: 202 }), problem(409, 'email_taken')],
      '/auth/reset-password': [new Response(null, { status: 204 })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.register('ada@example.com', 'pw-long-enough');
    assert.deepEqual(fetch.calls[0].body, { email: 'ada@example.com', password: 'pw-long-enough' });
    await assert.rejects(client.register('ada@example.com', 'pw-long-enough'), { code: 'email_taken', status: 409 });
    await client.resetPassword('RESET', 'new-pw');
    assert.deepEqual(fetch.to('/auth/reset-password')[0].body, { token: 'RESET', new_password: 'new-pw' });
    assert.equal(client.isSignedIn, false);
  });

  test('providers lists the sign-in buttons without credentials or a session', async () => {
    const listed = [{ name: 'google', display_name: 'Google' }];
    const fetch = fakeFetch({ '/auth/oauth/providers': [json(200, { providers: listed })] });
    const client = makeClient({ fetch, clock: new ManualClock() });
    assert.deepEqual(await client.providers(), listed);
    const [call] = fetch.calls;
    assert.equal(call.method, 'GET');
    assert.equal(call.headers.authorization, undefined);
  });
});

describe('call', { timeout: 10_000 }, () => {
  test('sends JSON with the bearer token and returns the JSON answer, or undefined for 204', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1', 900)],
      '/users/me/password': [new Response(null, { status: 204 })],
      '/auth/sessions': [json(200, { sessions: [] })],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    const body = { current_password: 'a', new_password: 'b' };
    assert.equal(await client.call('POST', '/users/me/password', body), undefined);
    const [changed] = fetch.to('/users/me/password');
    assert.equal(changed.method, 'POST');
    assert.equal(changed.headers.authorization, 'Bearer AT1');
    assert.equal(changed.headers['content-type'], 'application/json');
    assert.deepEqual(changed.body, body);
    assert.deepEqual(await client.call('GET', '/auth/sessions'), { sessions: [] });
    assert.equal(fetch.to('/auth/sessions')[0].hasBody, false);
  });

  test('a refusal rejects with its AuthError and keeps the session', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1', 900)],
      '/users/me/password': [problem(401, 'invalid_credentials')],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    await assert.rejects(client.call('POST', '/users/me/password', {}), {
      code: 'invalid_credentials',
      status: 401,
    });
    assert.equal(client.isSignedIn, true);
  });
});
