// Across tabs: one refresh for all (Web Locks, or the BroadcastChannel fallback),
// the bounded wait for an orphaned lock, and sign-outs that reach every tab.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import {
  FakeHub,
  FakeLocks,
  ManualClock,
  NEVER,
  closeAll,
  deferred,
  eventsOf,
  fakeFetch,
  flush,
  makeClient,
  problem,
  settled,
  tokenResponse,
  track,
  uniqueChannelName,
} from './helpers.mjs';

afterEach(closeAll);

/** `n` tabs on one hub, lock manager, clock and fetch; tab 0 signed in, the others by the channel. */
async function tabs(n, { locks = new FakeLocks(), channel = 'hub', routes = {}, options = {} } = {}) {
  const clock = new ManualClock();
  const fetch = fakeFetch({
    '/auth/login': [tokenResponse('AT1')],
    '/auth/logout': () => new Response(null, { status: 204 }),
    ...routes,
  });
  const hub = new FakeHub();
  const name = uniqueChannelName();
  const clients = [];
  for (let i = 0; i < n; i += 1) {
    const port = channel === 'hub' ? hub.channel(`tab${i}`) : new BroadcastChannel(name);
    clients.push(makeClient({ fetch, clock, locks, channel: port, ...options }));
  }
  await clients[0].signIn('ada@example.com', 'pw');
  await flush();
  for (const client of clients) assert.equal(client.accessToken, 'AT1', 'every tab has the session');
  // a minute on: a new token expires later than AT1 (a tab adopts only a later expiry)
  await clock.advance(60_000);
  return { clients, fetch, clock, hub, locks };
}

/** A refresh answer that numbers itself, so that a second request shows. */
function numberedRefresh() {
  let count = 0;
  return () => {
    count += 1;
    return tokenResponse(count === 1 ? 'AT-NEW' : `AT-DUPLICATE-${count}`);
  };
}

describe('one refresh for all tabs (Web Locks)', { timeout: 10_000 }, () => {
  for (const n of [2, 5]) {
    test(`${n} tabs refreshing at once make one request and all get its token`, async () => {
      const { clients, fetch, locks, hub } = await tabs(n, { routes: { '/auth/refresh': numberedRefresh() } });

      const refreshes = clients.map((client) => track(client.refresh()));
      await settled(...refreshes);

      assert.ok(refreshes.every((refresh) => refresh.state === 'fulfilled'));
      assert.equal(fetch.to('/auth/refresh').length, 1);
      assert.deepEqual(
        clients.map((client) => client.accessToken),
        clients.map(() => 'AT-NEW'),
      );
      for (const client of clients) {
        assert.deepEqual(eventsOf(client, 'tokenRefreshed'), [{ type: 'tokenRefreshed' }]);
      }
      const travelled = hub.messages('tokens').filter((entry) => entry.data.accessToken === 'AT-NEW');
      assert.equal(travelled.length, 1, 'the new token went out once, on the channel');
      assert.ok(locks.requests.length >= n, 'every tab asked for the lock');
      assert.ok(locks.requests.every((request) => request.name === 'authapi-refresh'));
    });
  }

  test('5 tabs restoring on page load at once make one request', async () => {
    const clock = new ManualClock();
    const fetch = fakeFetch({ '/auth/refresh': numberedRefresh() });
    const hub = new FakeHub();
    const locks = new FakeLocks();
    const clients = Array.from({ length: 5 }, (_, i) => makeClient({ fetch, clock, locks, channel: hub.channel(`tab${i}`) }));

    const restoring = clients.map((client) => track(client.restore()));
    await settled(...restoring);

    assert.deepEqual(
      restoring.map((restore) => restore.value),
      [true, true, true, true, true],
    );
    assert.equal(fetch.calls.length, 1);
    assert.ok(clients.every((client) => client.accessToken === 'AT-NEW'));
  });

  test('the lock is named after the name option', async () => {
    const locks = new FakeLocks();
    const fetch = fakeFetch({ '/auth/refresh': [tokenResponse('AT')] });
    const client = makeClient({ fetch, clock: new ManualClock(), locks, name: 'myapp' });
    await client.refresh();
    assert.deepEqual(
      locks.requests.map((request) => request.name),
      ['myapp-refresh'],
    );
  });

  test('the refresh runs while holding the lock', async () => {
    const answer = deferred();
    const locks = new FakeLocks();
    const fetch = fakeFetch({ '/auth/refresh': [answer.promise] });
    const client = makeClient({ fetch, clock: new ManualClock(), locks });
    const refreshing = track(client.refresh());
    await flush();
    assert.equal(fetch.calls.length, 1);
    assert.ok(locks.held.has('authapi-refresh'), 'held during the request');
    answer.resolve(tokenResponse('AT'));
    await settled(refreshing);
    await flush();
    assert.equal(locks.held.has('authapi-refresh'), false, 'released after it');
  });

  test('5 tabs on Node\'s real BroadcastChannel refreshing at once make one request', async () => {
    const { clients, fetch } = await tabs(5, { channel: 'real', routes: { '/auth/refresh': numberedRefresh() } });
    await settled(...clients.map((client) => track(client.refresh())));
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.ok(clients.every((client) => client.accessToken === 'AT-NEW'));
  });

  test(
    'a tab granted the lock before the holder\'s token reached it does not refresh again',
    async () => {
      const { clients, fetch, hub } = await tabs(2, { routes: { '/auth/refresh': numberedRefresh() } });
      hub.hold = true; // the channel is slower than the lock hand-off
      const refreshes = clients.map((client) => track(client.refresh()));
      await flush();
      hub.deliver();
      await flush();
      hub.deliver();
      await settled(...refreshes);
      assert.equal(fetch.to('/auth/refresh').length, 1);
    },
  );
});

describe('an orphaned lock', { timeout: 10_000 }, () => {
  test('is waited for lockTimeoutMs at most, then the refresh goes on without it', async () => {
    const clock = new ManualClock();
    const locks = new FakeLocks().holdForever('authapi-refresh');
    const fetch = fakeFetch({ '/auth/refresh': [tokenResponse('AT2')] });
    const client = makeClient({ fetch, clock, locks, lockTimeoutMs: 100 });

    const refreshing = track(client.refresh());
    await clock.advance(99);
    assert.equal(fetch.calls.length, 0, 'still waiting for the lock');
    assert.equal(refreshing.state, 'pending');
    assert.equal(locks.waiting('authapi-refresh'), 1);

    await clock.advance(1);
    await settled(refreshing);
    assert.equal(refreshing.state, 'fulfilled');
    assert.equal(fetch.calls.length, 1);
    assert.equal(client.accessToken, 'AT2');
    assert.equal(locks.waiting('authapi-refresh'), 0, 'the lock request was withdrawn');
    // first asked if it is free (it is not), then waited for, and given up
    assert.equal(locks.requests[0].unavailable, true);
    assert.equal(locks.requests[1].aborted, true);
  });

  test('with the default lockTimeoutMs the wait is 5 s', async () => {
    const clock = new ManualClock();
    const locks = new FakeLocks().holdForever('authapi-refresh');
    const fetch = fakeFetch({ '/auth/refresh': [tokenResponse('AT2')] });
    const client = makeClient({ fetch, clock, locks });
    const refreshing = track(client.refresh());
    await clock.advance(4_999);
    assert.equal(fetch.calls.length, 0);
    await clock.advance(1);
    await settled(refreshing);
    assert.equal(fetch.calls.length, 1);
  });

  test('a failure of the refresh itself is not mistaken for a lock timeout', async () => {
    const locks = new FakeLocks();
    const fetch = fakeFetch({ '/auth/refresh': [problem(400, 'bad_request')] });
    const client = makeClient({ fetch, clock: new ManualClock(), locks });
    await assert.rejects(client.refresh(), { code: 'bad_request' });
    assert.equal(fetch.calls.length, 1, 'not run a second time without the lock');
  });
});

describe('without Web Locks (the BroadcastChannel fallback)', { timeout: 10_000 }, () => {
  test('a tab that heard another tab announce its refresh waits for its token instead of refreshing', async () => {
    const answer = deferred();
    const { clients, fetch } = await tabs(2, {
      locks: null,
      channel: 'real',
      routes: { '/auth/refresh': [answer.promise, tokenResponse('AT-DUPLICATE')] },
    });
    const [a, b] = clients;

    const refreshingA = track(a.refresh());
    await flush(); // A's "refreshing" reaches B
    assert.equal(fetch.to('/auth/refresh').length, 1);

    const refreshingB = track(b.refresh());
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1, 'B made no request');
    assert.equal(refreshingB.state, 'pending', 'B waits for A');

    answer.resolve(tokenResponse('AT-A'));
    await settled(refreshingA);
    await settled(refreshingB);
    await flush();
    assert.equal(refreshingB.state, 'fulfilled');
    assert.equal(fetch.to('/auth/refresh').length, 1);
    assert.equal(a.accessToken, 'AT-A');
    assert.equal(b.accessToken, 'AT-A');
  });

  test('the wait for the other tab is bounded by lockTimeoutMs', async () => {
    const { clients, fetch, clock } = await tabs(2, {
      locks: null,
      options: { lockTimeoutMs: 1_000 },
      routes: { '/auth/refresh': [NEVER, tokenResponse('AT-B')] },
    });
    const [a, b] = clients;
    track(a.refresh()); // stuck
    await flush();
    const refreshingB = track(b.refresh());
    await clock.advance(999);
    assert.equal(fetch.to('/auth/refresh').length, 1);
    await clock.advance(1);
    await settled(refreshingB);
    assert.equal(fetch.to('/auth/refresh').length, 2, 'B refreshed by itself');
    assert.equal(b.accessToken, 'AT-B');
  });

  test(
    'a tab that already received the result does not wait again for the finished refresh',
    async () => {
      const { clients, fetch, clock } = await tabs(2, {
        locks: null,
        routes: { '/auth/refresh': [tokenResponse('AT-A'), tokenResponse('AT-B')] },
      });
      const [a, b] = clients;
      await a.refresh();
      await flush();
      assert.equal(b.accessToken, 'AT-A');
      await clock.advance(1_000);

      const refreshingB = track(b.refresh());
      await flush();
      assert.equal(fetch.to('/auth/refresh').length, 2, 'B refreshes at once');
      await clock.advance(4_000);
      await settled(refreshingB);
    },
  );
});

describe('sign-out across tabs', { timeout: 10_000 }, () => {
  test('signOut() signs out every tab, once each, with reason otherTab', async () => {
    const { clients, hub } = await tabs(3);
    const [a, b, c] = clients;

    await a.signOut();
    await flush();

    assert.deepEqual(eventsOf(a, 'signedOut'), [{ type: 'signedOut', reason: 'signOut' }]);
    for (const other of [b, c]) {
      assert.equal(other.isSignedIn, false);
      assert.deepEqual(eventsOf(other, 'signedOut'), [{ type: 'signedOut', reason: 'otherTab' }]);
    }
    assert.equal(hub.messages('signedOut').length, 1, 'the other tabs do not echo it');
  });

  test('signOut() signs out the other tab on a real BroadcastChannel too', async () => {
    const { clients } = await tabs(2, { channel: 'real' });
    const [a, b] = clients;
    await a.signOut();
    await flush();
    assert.equal(b.isSignedIn, false);
    assert.deepEqual(eventsOf(b, 'signedOut'), [{ type: 'signedOut', reason: 'otherTab' }]);
  });

  test('a refresh answered after signOut() started is neither kept nor broadcast', async () => {
    const answer = deferred();
    const { clients, fetch, hub } = await tabs(2, { routes: { '/auth/refresh': [answer.promise] } });
    const [a, b] = clients;
    const refreshing = track(a.refresh());
    await flush();
    assert.equal(fetch.to('/auth/refresh').length, 1);

    await a.signOut();
    await flush();
    answer.resolve(tokenResponse('AT-STALE'));
    await settled(refreshing);
    await flush();

    assert.equal(a.isSignedIn, false);
    assert.equal(b.isSignedIn, false, 'the other tab stays signed out');
    assert.deepEqual(
      hub.messages('tokens').map((entry) => entry.data.accessToken),
      ['AT1'],
      'the stale token was not broadcast',
    );
    assert.deepEqual(eventsOf(b, 'signedIn'), [{ type: 'signedIn' }], 'B signed in once, at the start');
  });

  test('signOut() does not wait for a refresh stuck in flight while it holds the lock', async () => {
    const { clients, fetch, locks } = await tabs(2, { routes: { '/auth/refresh': [NEVER] } });
    const [a, b] = clients;
    track(a.refresh());
    await flush();
    assert.ok(locks.held.has('authapi-refresh'));

    const signingOut = track(a.signOut());
    await flush();

    assert.equal(signingOut.state, 'fulfilled');
    assert.equal(fetch.to('/auth/logout').length, 1);
    assert.equal(a.isSignedIn, false);
    assert.equal(b.isSignedIn, false);
  });

  test('a tab refreshing when another tab signs out throws its answer away', async () => {
    const answer = deferred();
    const { clients, hub } = await tabs(2, { routes: { '/auth/refresh': [answer.promise] } });
    const [a, b] = clients;
    const refreshing = track(b.refresh());
    await flush();

    await a.signOut();
    await flush(); // B hears of it before its answer comes
    answer.resolve(tokenResponse('AT-STALE'));
    await settled(refreshing);
    await flush();

    assert.equal(a.isSignedIn, false);
    assert.equal(b.isSignedIn, false);
    assert.equal(hub.messages('tokens').length, 1);
  });

  test('a token another tab adopted before this tab signed out is not taken after the sign-out', async () => {
    const { clients, clock, hub } = await tabs(2, { routes: { '/auth/refresh': [tokenResponse('AT-OLD')] } });
    const [a, b] = clients;
    hub.hold = true; // channel latency
    await a.refresh(); // A adopts AT-OLD; "tokens" is on its way to B
    clock.jump(1);
    await b.signOut(); // B signs out before it heard of AT-OLD
    hub.deliver();
    await flush();

    assert.equal(b.isSignedIn, false, 'B took no token from before its sign-out');
    assert.equal(a.isSignedIn, false, 'A heard of the sign-out');
    assert.deepEqual(eventsOf(b, 'tokenRefreshed'), []);
  });

  test(
    'a tab whose refresh answer arrives just after another tab signed out does not sign that tab back in',
    async () => {
      const answer = deferred();
      const { clients, clock, hub } = await tabs(2, { routes: { '/auth/refresh': [answer.promise] } });
      const [a, b] = clients;
      const refreshing = track(a.refresh());
      await flush();

      hub.hold = true; // channel latency: messages wait for hub.deliver()
      await b.signOut(); // "signedOut" is on its way to A
      clock.jump(1);
      answer.resolve(tokenResponse('AT-STALE')); // A's answer comes first: A adopts and broadcasts it
      await settled(refreshing);
      hub.deliver(); // now both messages arrive
      await flush();
      hub.deliver();
      await flush();

      assert.equal(a.isSignedIn, false, 'A heard of the sign-out');
      assert.equal(b.isSignedIn, false, 'B, which signed out, must stay signed out');
      assert.equal(b.accessToken, null);
    },
  );
});
