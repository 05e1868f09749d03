// Fakes for the AuthClient tests: a scripted fetch, a manual clock, tab channels
// (an in-memory hub, or Node's real BroadcastChannel) and a Web Locks manager.
// Nothing here sleeps for real: time only moves through ManualClock.advance().

import { AuthClient } from '../dist/index.js';

export const BASE = 'https://api.example.test';
export const START = Date.UTC(2030, 0, 1); // the manual clock's epoch

// --- promises ---------------------------------------------------------------------

/** Let promise chains and macrotask deliveries (channels, lock grants) run. */
export async function flush(turns = 10) {
  for (let i = 0; i < turns; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve/reject in hand. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Watches a promise without letting a rejection go unhandled:
 * `t.state` is 'pending' | 'fulfilled' | 'rejected', with `t.value` / `t.error`.
 */
export function track(promise) {
  const t = { state: 'pending', value: undefined, error: undefined };
  t.done = promise.then(
    (value) => {
      t.state = 'fulfilled';
      t.value = value;
      return t;
    },
    (error) => {
      t.state = 'rejected';
      t.error = error;
      return t;
    },
  );
  return t;
}

/**
 * Lets promises and deliveries run, then fails (rather than hangs) if a tracked
 * promise is still pending: a client that broke its promise fails fast.
 */
export async function settled(...tracked) {
  await flush();
  for (const t of tracked) {
    if (t.state === 'pending') throw new Error('still pending: the promise did not settle');
  }
  return tracked[0];
}

// --- responses --------------------------------------------------------------------

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A 200 token response, as the API sends it with cookie delivery. */
export function tokenResponse(accessToken, expiresIn = 900, extra = {}) {
  return json(200, { access_token: accessToken, token_type: 'bearer', expires_in: expiresIn, ...extra });
}

/** An RFC 9457 problem; `retryAfter` becomes the Retry-After header. */
export function problem(status, code, { detail, title, type, retryAfter, headers = {}, ...extra } = {}) {
  const body = {
    type: type ?? 'about:blank',
    title: title ?? code,
    status,
    code,
    detail: detail ?? `detail of ${code}`,
    ...extra,
  };
  const allHeaders = { 'Content-Type': 'application/problem+json', ...headers };
  if (retryAfter !== undefined) allHeaders['Retry-After'] = String(retryAfter);
  return new Response(JSON.stringify(body), { status, headers: allHeaders });
}

// --- fetch ------------------------------------------------------------------------

/**
 * A scripted fetch. `script` is either a function `(request) => answer`, or an
 * object mapping a path ('/auth/refresh') to a queue (array) of answers or to a
 * function. An answer is a Response, an Error (the fetch rejects), a promise of
 * either (e.g. `deferred().promise`), `NEVER` (it never settles), or a function
 * of the request returning any of these. The last element of a queue is not
 * repeated. A request with no answer (no route, or an empty queue) gets a 400
 * `unexpected_request` problem, which the client neither retries nor takes for a
 * sign-out (so a test fails at once rather than hanging in backoff), and is kept
 * in `fetch.unexpected`; closeAll() (afterEach) fails the test if there is any.
 *
 * `fetch.calls` records every request: { url, path, method, headers (lower-case
 * names), credentials, body (parsed JSON, or the raw string), hasBody }.
 */
export const NEVER = Symbol('never');
const fakes = new Set(); // every fakeFetch of the running test, checked by closeAll()

export function fakeFetch(script = {}) {
  const calls = [];
  const routes = new Map(typeof script === 'function' ? [] : Object.entries(script));
  const fallback = typeof script === 'function' ? script : null;

  async function settle(answer, request) {
    if (typeof answer === 'function') return settle(await answer(request), request);
    if (answer === NEVER) return new Promise(() => {});
    if (answer instanceof Error) throw answer;
    if (answer && typeof answer.then === 'function') return settle(await answer, request);
    if (answer instanceof Response) return answer;
    throw new Error(`fakeFetch: no usable answer for ${request.method} ${request.url}: ${String(answer)}`);
  }

  const unexpected = [];
  const refuse = (request, why) => {
    unexpected.push(`${request.method} ${request.url} (${why})`);
    return problem(400, 'unexpected_request', { detail: `fakeFetch: ${why}: ${request.method} ${request.url}` });
  };

  function pick(request) {
    const route = routes.get(request.path);
    if (route === undefined) return fallback ?? refuse(request, 'no route');
    if (Array.isArray(route)) return route.length === 0 ? refuse(request, 'no more answers') : route.shift();
    return route;
  }

  const fetchImpl = (input, init = {}) => {
    const url = String(input);
    const raw = init.body;
    let body;
    if (typeof raw === 'string') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const request = {
      url,
      path: new URL(url, BASE).pathname,
      method: (init.method ?? 'GET').toUpperCase(),
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      credentials: init.credentials,
      body,
      hasBody: raw !== undefined && raw !== null,
    };
    calls.push(request);
    return settle(pick(request), request);
  };
  fetchImpl.calls = calls;
  fetchImpl.unexpected = unexpected;
  fakes.add(fetchImpl);
  /** Requests to one path. */
  fetchImpl.to = (path) => calls.filter((call) => call.path === path);
  /** Add answers for a path (a queue is appended to). */
  fetchImpl.on = (path, ...answers) => {
    const route = routes.get(path);
    if (Array.isArray(route)) route.push(...answers);
    else routes.set(path, answers);
    return fetchImpl;
  };
  return fetchImpl;
}

// --- clock ------------------------------------------------------------------------

/** A clock that only moves through advance(); due timers run in order. */
export class ManualClock {
  constructor(start = START) {
    this.time = start;
    this.timers = new Map();
    this.ids = 0;
    this.now = () => this.time;
    this.setTimeout = (callback, ms) => {
      this.ids += 1;
      const delay = Number.isFinite(ms) ? Math.max(0, ms) : 0;
      this.timers.set(this.ids, { id: this.ids, at: this.time + delay, callback });
      return this.ids;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Timers not yet run, earliest first. */
  pending() {
    return [...this.timers.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  }

  /** Moves time by `ms`, running each due timer and letting promises settle in between. */
  async advance(ms) {
    const target = this.time + ms;
    await flush();
    for (;;) {
      const next = this.pending()[0];
      if (next === undefined || next.at > target) break;
      this.timers.delete(next.id);
      this.time = Math.max(this.time, next.at);
      next.callback();
      await flush();
    }
    this.time = target;
    await flush();
  }

  /** Moves time without running anything (to open a race on purpose). */
  jump(ms) {
    this.time += ms;
  }
}

// --- channels ---------------------------------------------------------------------

/**
 * An in-memory BroadcastChannel: what one port posts reaches every other open
 * port of the hub as a later macrotask (setImmediate), as in a browser. A message
 * posted before a FakeLocks release is delivered before the next grant (both are
 * setImmediate, in order): the ordering tabs.ts relies on. With `hold: true`
 * messages wait for `deliver()` (a slow channel). `hub.log` keeps every message.
 */
export class FakeHub {
  constructor({ hold = false } = {}) {
    this.hold = hold;
    this.ports = new Set();
    this.log = [];
    this.held = [];
  }

  channel(label = `port${this.ports.size}`) {
    const hub = this;
    const port = {
      label,
      onmessage: null,
      closed: false,
      postMessage(message) {
        if (port.closed) throw new DOMException('closed', 'InvalidStateError');
        const data = structuredClone(message);
        hub.log.push({ from: label, data });
        for (const other of hub.ports) {
          if (other === port) continue;
          const send = () => {
            if (!other.closed && typeof other.onmessage === 'function') other.onmessage({ data: structuredClone(data) });
          };
          if (hub.hold) hub.held.push(send);
          else setImmediate(send);
        }
      },
      close() {
        port.closed = true;
        hub.ports.delete(port);
      },
    };
    this.ports.add(port);
    return port;
  }

  /** Delivers the held messages, in the order they were posted. */
  deliver() {
    const held = this.held.splice(0);
    for (const send of held) send();
  }

  messages(type) {
    return this.log.filter((entry) => entry.data.type === type);
  }

  close() {
    for (const port of [...this.ports]) port.close();
  }
}

let channelSerial = 0;
/** A fresh name for Node's real BroadcastChannel, unique to one test. */
export function uniqueChannelName(prefix = 'authapi-test') {
  channelSerial += 1;
  return `${prefix}-${process.pid}-${channelSerial}-${Math.random().toString(36).slice(2)}`;
}

// --- locks ------------------------------------------------------------------------

function abortError(signal) {
  return signal?.reason instanceof Error ? signal.reason : new DOMException('The lock request was aborted.', 'AbortError');
}

/**
 * The Web Locks API as used by the client: exclusive per name, waiters granted
 * in order (the grant is a later macrotask, as in a browser), a waiter whose
 * signal aborts before the grant rejects with an AbortError and leaves the queue,
 * and `ifAvailable` runs the callback with null at once when the lock is taken.
 */
export class FakeLocks {
  constructor() {
    this.held = new Map(); // name -> holder label
    this.queues = new Map(); // name -> waiters
    this.requests = []; // { name, granted, aborted }
  }

  request(name, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    const signal = options?.signal;
    const record = { name, granted: false, aborted: false };
    this.requests.push(record);
    if (options?.ifAvailable && (this.held.has(name) || (this.queues.get(name) ?? []).length > 0)) {
      // held: the callback runs at once with no lock, as the Web Locks API does
      record.unavailable = true;
      return new Promise((resolve, reject) => {
        setImmediate(async () => {
          try {
            resolve(await callback(null));
          } catch (error) {
            reject(error);
          }
        });
      });
    }
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        record.aborted = true;
        reject(abortError(signal));
        return;
      }
      const waiter = { record, resolve, reject, callback, signal, onAbort: null };
      waiter.onAbort = () => {
        const queue = this.queues.get(name) ?? [];
        const index = queue.indexOf(waiter);
        if (index === -1) return; // granted already: the abort comes too late
        queue.splice(index, 1);
        record.aborted = true;
        reject(abortError(signal));
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      if (!this.queues.has(name)) this.queues.set(name, []);
      this.queues.get(name).push(waiter);
      this.pump(name);
    });
  }

  pump(name) {
    if (this.held.has(name)) return;
    const queue = this.queues.get(name) ?? [];
    const waiter = queue.shift();
    if (waiter === undefined) return;
    this.held.set(name, waiter);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.record.granted = true;
    setImmediate(async () => {
      try {
        waiter.resolve(await waiter.callback({ name, mode: 'exclusive' }));
      } catch (error) {
        waiter.reject(error);
      } finally {
        this.held.delete(name);
        this.pump(name);
      }
    });
  }

  /** A lock whose holder never lets go (a frozen or crashed tab). */
  holdForever(name) {
    this.held.set(name, { orphan: true });
    return this;
  }

  waiting(name) {
    return (this.queues.get(name) ?? []).length;
  }
}

// --- clients ----------------------------------------------------------------------

/**
 * A client with fakes injected (no channel and no locks unless given); every
 * client made here is closed by `closeAll()` (call it in afterEach) so that no
 * channel keeps the process alive.
 */
const open = new Set();

export function makeClient(options = {}) {
  const client = new AuthClient({
    baseUrl: BASE,
    channel: null,
    locks: null,
    ...options,
  });
  const events = [];
  client.on((event) => events.push(event));
  client.events = events; // own property, for the tests only
  open.add(client);
  return client;
}

export function closeAll() {
  for (const client of open) client.close();
  open.clear();
  const unexpected = [...fakes].flatMap((fetch) => fetch.unexpected);
  fakes.clear();
  if (unexpected.length > 0) throw new Error(`requests nobody expected: ${unexpected.join('; ')}`);
}

/** Events of one type a client emitted. */
export function eventsOf(client, type) {
  return client.events.filter((event) => event.type === type);
}
