// AuthError from the API's answers, and tokens that never touch storage.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { AuthError } from '../dist/index.js';
import {
  FakeHub,
  ManualClock,
  closeAll,
  fakeFetch,
  json,
  makeClient,
  problem,
  tokenResponse,
} from './helpers.mjs';

afterEach(closeAll);

/** The AuthError a sign-in answered with `response` rejects with. */
async function signInError(response) {
  const client = makeClient({ fetch: fakeFetch({ '/auth/login': [response] }), clock: new ManualClock() });
  try {
    await client.signIn('ada@example.com', 'pw');
  } catch (error) {
    return error;
  }
  assert.fail('signIn resolved');
}

describe('AuthError', { timeout: 10_000 }, () => {
  test('from problem+json keeps code, status, detail as message, and the whole body', async () => {
    const error = await signInError(
      problem(423, 'account_locked', {
        type: 'https://authapi.example/problems/account-locked',
        title: 'Account locked',
        detail: 'Too many failed sign-ins.',
        locked_until: '2030-01-01T00:00:00Z',
      }),
    );
    assert.ok(error instanceof AuthError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'AuthError');
    assert.equal(error.code, 'account_locked');
    assert.equal(error.status, 423);
    assert.equal(error.message, 'Too many failed sign-ins.');
    assert.equal(error.retryAfter, null, 'no Retry-After header');
    assert.deepEqual(error.body, {
      type: 'https://authapi.example/problems/account-locked',
      title: 'Account locked',
      status: 423,
      code: 'account_locked',
      detail: 'Too many failed sign-ins.',
      locked_until: '2030-01-01T00:00:00Z',
    });
  });

  test('retryAfter reads Retry-After in seconds', async () => {
    const error = await signInError(problem(429, 'rate_limited', { retryAfter: 120 }));
    assert.equal(error.code, 'rate_limited');
    assert.equal(error.status, 429);
    assert.equal(error.retryAfter, 120);
  });

  test('retryAfter reads Retry-After as an HTTP date (seconds from now)', async () => {
    // errors.ts reads the wall clock (Date.now), not the injected clock
    const at = new Date(Date.now() + 120_000).toUTCString(); // whole seconds: up to 1 s earlier
    const error = await signInError(problem(429, 'rate_limited', { retryAfter: at }));
    assert.ok(error.retryAfter !== null && error.retryAfter > 117 && error.retryAfter <= 120, `${error.retryAfter}`);
  });

  test('retryAfter is 0 for a date in the past, and null for an unreadable header', async () => {
    const past = await signInError(problem(503, 'unavailable', { retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' }));
    assert.equal(past.retryAfter, 0);
    const unreadable = await signInError(problem(503, 'unavailable', { retryAfter: 'soon' }));
    assert.equal(unreadable.retryAfter, null);
  });

  test('a non-JSON error body gives code http_<status> and the status line as message', async () => {
    const error = await signInError(
      new Response('<html><body>Bad gateway</body></html>', {
        status: 502,
        statusText: 'Bad Gateway',
        headers: { 'Content-Type': 'text/html' },
      }),
    );
    assert.ok(error instanceof AuthError);
    assert.equal(error.code, 'http_502');
    assert.equal(error.status, 502);
    assert.equal(error.message, '502 Bad Gateway');
    assert.deepEqual(error.body, {});
  });

  test('a JSON body without a code gives http_<status>; an OAuth error_description is the message', async () => {
    const error = await signInError(json(400, { error: 'invalid_request', error_description: 'Missing field.' }));
    assert.equal(error.code, 'http_400');
    assert.equal(error.message, 'Missing field.');
  });

  test('a JSON body that is not an object is ignored', async () => {
    const error = await signInError(json(500, ['not', 'a', 'problem']));
    assert.equal(error.code, 'http_500');
    assert.equal(error.message, '500');
  });

  test('the constructor sets every field, with defaults', () => {
    const cause = new TypeError('Failed to fetch');
    const full = new AuthError('rate_limited', 429, 'Slow down.', { retryAfter: 3, body: { a: 1 }, cause });
    assert.equal(full.code, 'rate_limited');
    assert.equal(full.status, 429);
    assert.equal(full.message, 'Slow down.');
    assert.equal(full.retryAfter, 3);
    assert.deepEqual(full.body, { a: 1 });
    assert.equal(full.cause, cause);
    const bare = new AuthError('network_error', 0, 'Unreachable.');
    assert.equal(bare.retryAfter, null);
    assert.deepEqual(bare.body, {});
  });
});

// --- storage ------------------------------------------------------------------------

const STORAGE_GLOBALS = ['localStorage', 'sessionStorage', 'document', 'indexedDB', 'caches'];

/** Sign in (the server, wrongly, also sends a refresh token in the body), refresh, use, sign out. */
async function everyFlow(hub = new FakeHub()) {
  const clock = new ManualClock();
  const fetch = fakeFetch({
    '/auth/login': [tokenResponse('AT1', 900, { refresh_token: 'RT-SECRET-1' })],
    '/auth/refresh': [tokenResponse('AT2', 900, { refresh_token: 'RT-SECRET-2' })],
    '/users/me': [json(200, { id: 1 })],
    '/auth/logout': [new Response(null, { status: 204 })],
  });
  const client = makeClient({ fetch, clock, channel: hub.channel('A') });
  const other = makeClient({ fetch, clock, channel: hub.channel('B') });
  await client.signIn('ada@example.com', 'pw');
  await clock.advance(1_000);
  await client.refresh();
  await client.fetch('https://api.example.test/users/me');
  await clock.advance(1_000);
  return { client, other, fetch, clock, hub };
}

/** Every string reachable from `root` through own properties, Maps, Sets and arrays (not functions). */
function reachableStrings(root) {
  const seen = new Set();
  const strings = [];
  const walk = (value) => {
    if (typeof value === 'string') {
      strings.push(value);
      return;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Map) {
      for (const [key, entry] of value) {
        walk(key);
        walk(entry);
      }
    } else if (value instanceof Set || Array.isArray(value)) {
      for (const entry of value) walk(entry);
    }
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor && 'value' in descriptor) walk(descriptor.value);
    }
  };
  walk(root);
  return strings;
}

describe('tokens never touch storage', { timeout: 10_000 }, () => {
  test('no storage or document global is created by any flow', async () => {
    for (const name of STORAGE_GLOBALS) assert.equal(globalThis[name], undefined, `${name} before`);
    const { client } = await everyFlow();
    await client.signOut();
    for (const name of STORAGE_GLOBALS) {
      assert.equal(globalThis[name], undefined, `${name} after`);
      assert.equal(name in globalThis, false, `${name} was not defined`);
    }
  });

  test('where storage and document.cookie exist, nothing is read from or written to them', async () => {
    const touched = [];
    const storage = (label) =>
      new Proxy(
        {},
        {
          get: (_target, key) => {
            touched.push(`${label}.${String(key)}`);
            return () => null;
          },
          set: (_target, key) => {
            touched.push(`${label}.${String(key)}=`);
            return true;
          },
        },
      );
    const document = {};
    Object.defineProperty(document, 'cookie', {
      get: () => {
        touched.push('document.cookie');
        return '';
      },
      set: () => touched.push('document.cookie='),
    });
    globalThis.localStorage = storage('localStorage');
    globalThis.sessionStorage = storage('sessionStorage');
    globalThis.document = document;
    try {
      const { client } = await everyFlow();
      await client.signOut();
    } finally {
      delete globalThis.localStorage;
      delete globalThis.sessionStorage;
      delete globalThis.document;
    }
    assert.deepEqual(touched, []);
  });

  test('the client never holds, sends or broadcasts a refresh token, even one the server sent', async () => {
    const { client, other, fetch, hub } = await everyFlow();

    const own = reachableStrings(client);
    assert.ok(own.includes('AT2'), 'the walk does see the state (the access token is held)');
    assert.ok(!own.some((value) => value.includes('RT-SECRET')), 'no refresh token in the client');
    assert.ok(!reachableStrings(other).some((value) => value.includes('RT-SECRET')));

    const serialized = JSON.stringify(client);
    assert.ok(!serialized.includes('RT-SECRET'));
    assert.ok(!/refresh_?token/i.test(serialized), serialized);

    assert.ok(!JSON.stringify(fetch.calls).includes('RT-SECRET'), 'never sent back in a request');
    assert.ok(!JSON.stringify(hub.log).includes('RT-SECRET'), 'never told to the other tabs');
    for (const call of fetch.to('/auth/refresh')) assert.equal(call.hasBody, false);
  });
});
