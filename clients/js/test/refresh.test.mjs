// Refreshing in one tab: the request, single-flight, retries, what ends a session,
// the proactive timer, and fetch() with its one retry.

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

async function signedIn({ token = 'AT1', expiresIn = 900, routes = {}, ...options } = {}) {
  const clock = options.clock ?? new ManualClock();
  const fetch = fakeFetch({ '/auth/login': [tokenResponse(token, expiresIn)], ...routes });
  const client = makeClient({ fetch, clock, ...options });
  await client.signIn('ada@example.com', 'pw');
  return { client, fetch, clock };
}

describe('the refresh request', { timeout: 10_000 }, () => {
  test('posts /auth/refresh with credentials and X-Requested-With, and no body and no token', async () => {
    const { client, fetch } = await signedIn({ routes: { '/auth/refresh': [tokenResponse('AT2')] } });

    await client.refresh();

    const calls = fetch.to('/auth/refresh');
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.url, `${BASE}/auth/refresh`);
    assert.equal(call.method, 'POST');
    assert.equal(call.credentials, 'include');
    assert.equal(call.headers['x-requested-with'], 'authapi-client');
    assert.equal(call.hasBody, false, 'no body: the refresh token is the httpOnly cookie');
    assert.equal(call.headers.authorization, undefined, 'no bearer token on a refresh');
    assert.equal(client.accessToken, 'AT2');
    assert.deepEqual(client.events, [{ type: 'signedIn' }, { type: 'tokenRefreshed' }]);
  });

  test('concurrent refresh() calls in one tab share one request (single-flight)', async () => {
    const answer = deferred();
    const { client, fetch } = await signedIn({ routes: { '/auth/refresh': [answer.promise, tokenResponse('AT3')] } });

    const calls = [client.refresh(), client.refresh(), client.refresh()].map(track);
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.ok(calls.every((call) => call.state === 'pending'));

    answer.resolve(tokenResponse('AT2'));
    await settled(...calls);
    assert.ok(calls.every((call) => call.state === 'fulfilled'));
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.equal(client.accessToken, 'AT2');
    assert.equal(eventsOf(client, 'tokenRefreshed').length, 1);

    // once settled, the next refresh is a new request
    await client.refresh();
    assert.equal(fetch.to('/auth/refresh').length, 2);
    assert.equal(client.accessToken, 'AT3');
  });

  test('concurrent getAccessToken() and refresh() without a token share one request', async () => {
    const answer = deferred();
    const fetch = fakeFetch({ '/auth/refresh': [answer.promise] });
    const client = makeClient({ fetch, clock: new ManualClock() });

    const calls = [client.getAccessToken(), client.getAccessToken(), client.refresh(), client.getAccessToken()].map(
      track,
    );
    await flush();
    assert.equal(fetch.calls.length, 1);

    answer.resolve(tokenResponse('AT-NEW'));
    await settled(...calls);
    assert.deepEqual(
      calls.map((call) => call.value),
      ['AT-NEW', 'AT-NEW', undefined, 'AT-NEW'],
    );
    assert.equal(fetch.calls.length, 1);
  });

  test('getAccessToken() refreshes a token within 5 s of its expiry, once for concurrent callers', async () => {
    // a 20 s token (its proactive timer, due after 8–10 s, is not run: jump() skips timers)
    const { client, fetch, clock } = await signedIn({
      expiresIn: 20,
      routes: { '/auth/refresh': [tokenResponse('AT2', 900)] },
    });
    clock.jump(15_001); // 4.999 s left; no timers run
    const tokens = await Promise.all([client.getAccessToken(), client.getAccessToken()]);
    assert.deepEqual(tokens, ['AT2', 'AT2']);
    assert.equal(fetch.to('/auth/refresh').length, 1);
  });
});

describe('failures that are not sign-outs', { timeout: 10_000 }, () => {
  test('a 503 is retried after a backoff, and the retry signs in with the session kept', async () => {
    const { client, fetch, clock } = await signedIn({
      routes: { '/auth/refresh': [problem(503, 'service_unavailable'), tokenResponse('AT2')] },
    });
    const refreshing = track(client.refresh());
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1);

    await clock.advance(249); // the first backoff is 500 ms × [0.5, 1)
    assert.equal(fetch.to('/auth/refresh').length, 1, 'not retried at once');
    assert.equal(refreshing.state, 'pending');
    assert.equal(client.accessToken, 'AT1', 'the old token is kept meanwhile');

    await clock.advance(251);
    await settled(refreshing);
    assert.equal(refreshing.state, 'fulfilled');
    assert.equal(fetch.to('/auth/refresh').length, 2);
    assert.equal(client.accessToken, 'AT2');
    assert.deepEqual(eventsOf(client, 'signedOut'), []);
  });

  test('a 429 with Retry-After: 2 is retried no earlier than 2 s later', async () => {
    const { client, fetch, clock } = await signedIn({
      routes: { '/auth/refresh': [problem(429, 'rate_limited', { retryAfter: 2 }), tokenResponse('AT2')] },
    });
    const refreshing = track(client.refresh());
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1);

    await clock.advance(1_999);
    assert.equal(fetch.to('/auth/refresh').length, 1, 'Retry-After is honoured');

    await clock.advance(1);
    await settled(refreshing);
    assert.equal(fetch.to('/auth/refresh').length, 2);
    assert.equal(refreshing.state, 'fulfilled');
    assert.equal(client.accessToken, 'AT2');
  });

  test('a Retry-After longer than a minute is capped at 60 s', async () => {
    const { client, fetch, clock } = await signedIn({
      routes: { '/auth/refresh': [problem(429, 'rate_limited', { retryAfter: 3600 }), tokenResponse('AT2')] },
    });
    const refreshing = track(client.refresh());
    await clock.advance(59_999);
    assert.equal(fetch.to('/auth/refresh').length, 1);
    await clock.advance(1);
    await settled(refreshing);
    assert.equal(fetch.to('/auth/refresh').length, 2);
  });

  test('network errors are retried', async () => {
    const { client, fetch, clock } = await signedIn({
      routes: {
        '/auth/refresh': [new TypeError('Failed to fetch'), new TypeError('Failed to fetch'), tokenResponse('AT2')],
      },
    });
    const refreshing = track(client.refresh());
    await clock.advance(500 + 1_000); // the two longest backoffs
    await settled(refreshing);
    assert.equal(refreshing.state, 'fulfilled');
    assert.equal(fetch.to('/auth/refresh').length, 3);
    assert.equal(client.accessToken, 'AT2');
  });

  test('after refreshAttempts network errors it rejects with network_error, still signed in', async () => {
    const { client, fetch, clock } = await signedIn({
      refreshAttempts: 3,
      routes: { '/auth/refresh': () => new TypeError('Failed to fetch') },
    });
    const refreshing = track(client.refresh());
    await clock.advance(500 + 1_000 + 1);
    await settled(refreshing);

    assert.equal(refreshing.state, 'rejected');
    assert.ok(refreshing.error instanceof AuthError);
    assert.equal(refreshing.error.code, 'network_error');
    assert.equal(refreshing.error.status, 0);
    assert.ok(refreshing.error.cause instanceof TypeError, 'the network failure is the cause');
    assert.equal(fetch.to('/auth/refresh').length, 3, 'exactly refreshAttempts tries');
    assert.equal(client.isSignedIn, true);
    assert.equal(client.accessToken, 'AT1');
    assert.deepEqual(eventsOf(client, 'signedOut'), []);
  });

  test('after refreshAttempts 5xx answers it rejects with their code, still signed in', async () => {
    const hub = new FakeHub();
    const { client, fetch, clock } = await signedIn({
      channel: hub.channel('A'),
      routes: { '/auth/refresh': () => problem(502, 'bad_gateway') },
    });
    const refreshing = track(client.refresh());
    await clock.advance(500 + 1_000 + 2_000 + 4_000 + 1); // default: 5 tries
    await settled(refreshing);

    assert.equal(refreshing.state, 'rejected');
    assert.equal(refreshing.error.code, 'bad_gateway');
    assert.equal(refreshing.error.status, 502);
    assert.equal(fetch.to('/auth/refresh').length, 5);
    assert.equal(client.isSignedIn, true);
    assert.deepEqual(eventsOf(client, 'signedOut'), []);
    assert.deepEqual(hub.messages('signedOut'), [], 'the other tabs are not signed out either');
  });

  test('a 4xx other than 401 and 429 rejects at once and keeps the session', async () => {
    const { client, fetch } = await signedIn({ routes: { '/auth/refresh': [problem(403, 'csrf_failed')] } });
    await assert.rejects(client.refresh(), { code: 'csrf_failed', status: 403 });
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.equal(client.isSignedIn, true);
    assert.deepEqual(eventsOf(client, 'signedOut'), []);
  });
});

describe('only a 401 ends the session', { timeout: 10_000 }, () => {
  test('a 401 refresh_token_reused rejects, signs out once with its code, and tells the other tabs', async () => {
    const hub = new FakeHub();
    const clock = new ManualClock();
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/refresh': [problem(401, 'refresh_token_reused')],
    });
    const a = makeClient({ fetch, clock, channel: hub.channel('A') });
    const b = makeClient({ fetch, clock, channel: hub.channel('B') });
    await a.signIn('ada@example.com', 'pw');
    await flush();
    assert.equal(b.accessToken, 'AT1', 'B had the session through the channel');

    await assert.rejects(a.refresh(), (error) => {
      assert.ok(error instanceof AuthError);
      assert.equal(error.code, 'refresh_token_reused');
      assert.equal(error.status, 401);
      return true;
    });
    await flush();

    assert.equal(a.isSignedIn, false);
    assert.deepEqual(eventsOf(a, 'signedOut'), [{ type: 'signedOut', reason: 'refresh_token_reused' }]);
    assert.equal(b.isSignedIn, false);
    assert.deepEqual(eventsOf(b, 'signedOut'), [{ type: 'signedOut', reason: 'refresh_token_reused' }]);
    assert.equal(fetch.to('/auth/refresh').length, 1, 'B did not refresh');
  });

  test('the proactive timer stops with the session', async () => {
    const { client, fetch, clock } = await signedIn({
      routes: { '/auth/refresh': [problem(401, 'session_revoked')] },
    });
    await assert.rejects(client.refresh());
    await clock.advance(2 * 900_000);
    assert.equal(fetch.to('/auth/refresh').length, 1, 'no refresh after the session ended');
  });
});

describe('proactive refresh', { timeout: 10_000 }, () => {
  test('runs once, between 2 s and 0 s before the 30 s margin ahead of expiry', async () => {
    const { client, fetch, clock } = await signedIn({
      expiresIn: 900,
      routes: { '/auth/refresh': [tokenResponse('AT2', 900)] },
    });

    await clock.advance(870_000 - 2_000 - 1);
    assert.equal(fetch.to('/auth/refresh').length, 0, 'not before 868 s');

    await clock.advance(2_001); // now 870 s after sign-in
    assert.equal(fetch.to('/auth/refresh').length, 1, 'exactly one by 870 s');
    assert.equal(client.accessToken, 'AT2');
    assert.deepEqual(eventsOf(client, 'tokenRefreshed'), [{ type: 'tokenRefreshed' }]);

    await clock.advance(800_000); // the next one is due 868–870 s after this refresh
    assert.equal(fetch.to('/auth/refresh').length, 1);
  });

  test('honours refreshMarginSeconds', async () => {
    const { fetch, clock } = await signedIn({
      expiresIn: 900,
      refreshMarginSeconds: 120,
      routes: { '/auth/refresh': [tokenResponse('AT2', 900)] },
    });
    await clock.advance(780_000 - 2_000 - 1);
    assert.equal(fetch.to('/auth/refresh').length, 0);
    await clock.advance(2_001);
    assert.equal(fetch.to('/auth/refresh').length, 1);
  });

  test('a proactive refresh that fails keeps the session and raises nothing', async () => {
    const { client, fetch, clock } = await signedIn({
      refreshAttempts: 2,
      routes: { '/auth/refresh': () => problem(503, 'service_unavailable') },
    });
    await clock.advance(870_000 + 1_000);
    assert.equal(fetch.to('/auth/refresh').length, 2);
    assert.equal(client.isSignedIn, true);
    assert.deepEqual(eventsOf(client, 'signedOut'), []);
  });
});

describe('fetch()', { timeout: 10_000 }, () => {
  const DATA = `${BASE}/users/me`;

  test('adds Authorization: Bearer and keeps the caller’s method, headers and body', async () => {
    const { client, fetch } = await signedIn({ routes: { '/users/me': [json(200, { id: 1 })] } });
    const response = await client.fetch(DATA, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-Extra': 'yes' },
      body: JSON.stringify({ name: 'Ada' }),
    });
    assert.equal(response.status, 200);
    const [call] = fetch.to('/users/me');
    assert.equal(call.method, 'PATCH');
    assert.equal(call.headers.authorization, 'Bearer AT1');
    assert.equal(call.headers['x-extra'], 'yes');
    assert.deepEqual(call.body, { name: 'Ada' });
  });

  test('a 401 token_expired refreshes once and retries once with the new token', async () => {
    const { client, fetch } = await signedIn({
      routes: {
        '/users/me': [problem(401, 'token_expired'), json(200, { id: 1 })],
        '/auth/refresh': [tokenResponse('AT2')],
      },
    });
    const response = await client.fetch(DATA, { method: 'POST', body: '{"a":1}' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { id: 1 });
    assert.deepEqual(
      fetch.calls.slice(1).map((call) => [call.path, call.headers.authorization]),
      [
        ['/users/me', 'Bearer AT1'],
        ['/auth/refresh', undefined],
        ['/users/me', 'Bearer AT2'],
      ],
    );
    assert.deepEqual(fetch.to('/users/me')[1].body, { a: 1 }, 'the retry sends the same body');
  });

  test('a 401 with another code (invalid_token) is returned as is, without a refresh', async () => {
    const { client, fetch } = await signedIn({ routes: { '/users/me': [problem(401, 'invalid_token')] } });
    const response = await client.fetch(DATA);
    assert.equal(response.status, 401);
    assert.equal((await response.json()).code, 'invalid_token', 'the body is still readable');
    assert.equal(fetch.to('/users/me').length, 1);
    assert.equal(fetch.to('/auth/refresh').length, 0);
  });

  test('a 403 token_expired (not a 401) is not retried', async () => {
    const { client, fetch } = await signedIn({ routes: { '/users/me': [problem(403, 'token_expired')] } });
    const response = await client.fetch(DATA);
    assert.equal(response.status, 403);
    assert.equal(fetch.to('/auth/refresh').length, 0);
  });

  test('never retries twice: a second 401 token_expired is returned', async () => {
    const { client, fetch } = await signedIn({
      routes: {
        '/users/me': () => problem(401, 'token_expired'),
        '/auth/refresh': () => tokenResponse(`AT-${fetch.to('/auth/refresh').length + 1}`),
      },
    });
    const response = await client.fetch(DATA);
    assert.equal(response.status, 401);
    assert.equal((await response.json()).code, 'token_expired');
    assert.equal(fetch.to('/users/me').length, 2);
    assert.equal(fetch.to('/auth/refresh').length, 1);
  });

  test('a 200 is returned with its body untouched', async () => {
    const { client } = await signedIn({ routes: { '/users/me': [json(200, { id: 7 })] } });
    const response = await client.fetch(new URL(DATA));
    assert.deepEqual(await response.json(), { id: 7 });
  });

  test('a refresh that ends the session makes fetch() reject', async () => {
    const { client, fetch } = await signedIn({
      routes: { '/users/me': [problem(401, 'token_expired')], '/auth/refresh': [problem(401, 'session_revoked')] },
    });
    await assert.rejects(client.fetch(DATA), { code: 'session_revoked' });
    assert.equal(fetch.to('/users/me').length, 1);
    assert.equal(client.isSignedIn, false);
  });

  test('a refresh stuck in flight is joined, not duplicated, by fetch()', async () => {
    const answer = deferred();
    const { client, fetch, clock } = await signedIn({
      expiresIn: 20,
      routes: { '/auth/refresh': [answer.promise, NEVER], '/users/me': [json(200, {})] },
    });
    clock.jump(16_000);
    const refreshing = track(client.refresh());
    const fetching = track(client.fetch(DATA));
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.equal(fetch.to('/users/me').length, 0, 'waits for the token');
    answer.resolve(tokenResponse('AT2'));
    await settled(fetching);
    await settled(refreshing);
    assert.equal(fetch.to('/users/me')[0].headers.authorization, 'Bearer AT2');
  });
});

describe('after a sign-out', { timeout: 10_000 }, () => {
  test('getAccessToken() resolves null when signed out (the refresh it tries answers 401)', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/logout': [new Response(null, { status: 204 })],
      '/auth/refresh': [problem(401, 'invalid_refresh_token'), problem(401, 'invalid_refresh_token')],
      '/users/me': [problem(401, 'not_authenticated')],
    });
    const client = makeClient({ fetch, clock: new ManualClock() });
    await client.signIn('ada@example.com', 'pw');
    await client.signOut();
    assert.equal(await client.getAccessToken(), null);
    assert.equal(fetch.to('/auth/refresh').length, 1);

    const response = await client.fetch(`${BASE}/users/me`);
    assert.equal(response.status, 401);
    assert.equal(fetch.to('/users/me')[0].headers.authorization, undefined, 'sent without a token');
    assert.deepEqual(eventsOf(client, 'signedOut').length, 1);
  });

  test(
    'a refresh after signing in again does not join the previous session’s refresh stuck in flight',
    async () => {
      const fetch = fakeFetch({
        '/auth/login': [tokenResponse('AT1'), tokenResponse('AT2')],
        '/auth/logout': [new Response(null, { status: 204 })],
        '/auth/refresh': [NEVER, tokenResponse('AT3')],
      });
      const client = makeClient({ fetch, clock: new ManualClock() });
      await client.signIn('ada@example.com', 'pw');
      track(client.refresh()); // stuck
      await flush();
      await client.signOut();
      await client.signIn('ada@example.com', 'pw');
      assert.equal(client.accessToken, 'AT2');

      const refreshing = track(client.refresh());
      await flush();
      assert.equal(fetch.to('/auth/refresh').length, 2, 'a request of the new session');
      assert.equal(refreshing.state, 'fulfilled');
      assert.equal(client.accessToken, 'AT3');
    },
  );
});
