// Passkeys: the base64url <-> ArrayBuffer conversions, what the client sends for each
// step of registering and signing in, and that a passkey sign-in ends signed in exactly
// as a password sign-in does. `navigator.credentials` is a stub that records its calls
// and answers with credentials built here.

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import {
  AuthClient,
  AuthError,
  authenticationToJSON,
  base64urlToBuffer,
  bufferToBase64url,
  creationOptionsFromJSON,
  registrationToJSON,
  requestOptionsFromJSON,
} from '../dist/index.js';
import {
  BASE,
  FakeHub,
  ManualClock,
  START,
  closeAll,
  fakeFetch,
  json,
  makeClient,
  problem,
  tokenResponse,
} from './helpers.mjs';

afterEach(closeAll);

const bytes = (...values) => new Uint8Array(values).buffer;
const text = (value) => new TextEncoder().encode(value).buffer;
const b64url = (value) => Buffer.from(value).toString('base64url');
const asBytes = (buffer) => [...new Uint8Array(buffer)];

/** The API's options for navigator.credentials.create() (py_webauthn's JSON form). */
function creationOptions() {
  return {
    rp: { name: 'authapi', id: 'localhost' },
    user: { id: b64url([1, 2, 3, 250]), name: 'ada@example.com', displayName: 'ada@example.com' },
    challenge: b64url([9, 8, 7, 255, 254]),
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    timeout: 300000,
    excludeCredentials: [{ id: b64url([0xfb, 0xff]), type: 'public-key', transports: ['internal'] }],
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    attestation: 'none',
  };
}

/** The API's options for navigator.credentials.get() (discoverable: no allowCredentials). */
function requestOptions(extra = {}) {
  return { challenge: b64url([4, 5, 6, 0xfe]), timeout: 300000, rpId: 'localhost', allowCredentials: [], userVerification: 'required', ...extra };
}

/** What navigator.credentials.create() resolves to, with ArrayBuffers as a browser gives them. */
function newCredential() {
  return {
    id: b64url([0xfa, 0xce]),
    rawId: bytes(0xfa, 0xce),
    type: 'public-key',
    authenticatorAttachment: 'platform',
    response: {
      clientDataJSON: text('{"type":"webauthn.create"}'),
      attestationObject: bytes(0xa3, 0x63, 0x66, 0x6d, 0x74),
      getTransports: () => ['internal', 'hybrid'],
      getAuthenticatorData: () => bytes(0x49, 0x96),
      getPublicKey: () => bytes(0x30, 0x59),
      getPublicKeyAlgorithm: () => -7,
    },
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
  };
}

/** What navigator.credentials.get() resolves to. */
function assertion({ userHandle = bytes(1, 2, 3, 250) } = {}) {
  return {
    id: b64url([0xfa, 0xce]),
    rawId: bytes(0xfa, 0xce),
    type: 'public-key',
    authenticatorAttachment: 'platform',
    response: {
      clientDataJSON: text('{"type":"webauthn.get"}'),
      authenticatorData: bytes(0x49, 0x96, 0x05),
      signature: bytes(0x30, 0x45, 0x02),
      userHandle,
    },
    getClientExtensionResults: () => ({}),
  };
}

/** A stub of navigator.credentials: `calls` records { method, options }. */
function stubCredentials({ create = () => newCredential(), get = () => assertion() } = {}) {
  const calls = [];
  return {
    calls,
    create: async (options) => {
      calls.push({ method: 'create', options });
      return create(options);
    },
    get: async (options) => {
      calls.push({ method: 'get', options });
      return get(options);
    },
  };
}

/** A 201 Passkey, as the API answers a registration. */
function passkey(extra = {}) {
  return {
    id: '0b4c7d5e-8f3a-4c1e-9d2b-6a7f8e9d0c1b',
    name: 'Chrome on Linux',
    created_at: '2030-01-01T00:00:00Z',
    last_used_at: null,
    backed_up: false,
    ...extra,
  };
}

describe('base64url', () => {
  test('encodes without padding, with - and _ in place of + and /', () => {
    assert.equal(bufferToBase64url(bytes()), '');
    assert.equal(bufferToBase64url(bytes(0xfb, 0xff)), '-_8');
    assert.equal(bufferToBase64url(bytes(1, 0, 1)), 'AQAB');
    assert.equal(bufferToBase64url(text('hello')), 'aGVsbG8');
  });

  test('decodes with or without padding', () => {
    assert.deepEqual(asBytes(base64urlToBuffer('-_8')), [0xfb, 0xff]);
    assert.deepEqual(asBytes(base64urlToBuffer('-_8=')), [0xfb, 0xff]);
    assert.deepEqual(asBytes(base64urlToBuffer('AQAB')), [1, 0, 1]);
    assert.deepEqual(asBytes(base64urlToBuffer('')), []);
    assert.ok(base64urlToBuffer('AQAB') instanceof ArrayBuffer);
  });

  test('round-trips every byte value and every length mod 3, as Node encodes them', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (let length = 0; length <= all.length; length += 1) {
      const slice = all.slice(0, length);
      const encoded = bufferToBase64url(slice.buffer);
      assert.equal(encoded, Buffer.from(slice).toString('base64url'));
      assert.deepEqual(asBytes(base64urlToBuffer(encoded)), [...slice]);
    }
  });

  test('encodes only the bytes a view shows, not its whole buffer', () => {
    const view = new Uint8Array([0, 1, 2, 3, 4, 5]).subarray(2, 4);
    assert.equal(bufferToBase64url(view), b64url([2, 3]));
    assert.equal(bufferToBase64url(new DataView(view.buffer, 1, 2)), b64url([1, 2]));
  });

  test('refuses what is not base64url', () => {
    assert.throws(() => base64urlToBuffer('a'));
    assert.throws(() => base64urlToBuffer('ab!c'));
  });
});

describe('the JSON forms', () => {
  test('creation options: challenge, user.id and excluded ids become bytes, the rest stays', () => {
    const json = creationOptions();
    const options = creationOptionsFromJSON(json);
    assert.ok(options.challenge instanceof ArrayBuffer);
    assert.deepEqual(asBytes(options.challenge), [9, 8, 7, 255, 254]);
    assert.deepEqual(asBytes(options.user.id), [1, 2, 3, 250]);
    assert.equal(options.user.name, 'ada@example.com');
    assert.equal(options.user.displayName, 'ada@example.com');
    assert.deepEqual(asBytes(options.excludeCredentials[0].id), [0xfb, 0xff]);
    assert.deepEqual(options.excludeCredentials[0].transports, ['internal']);
    assert.equal(options.excludeCredentials[0].type, 'public-key');
    assert.deepEqual(options.rp, json.rp);
    assert.deepEqual(options.pubKeyCredParams, json.pubKeyCredParams);
    assert.deepEqual(options.authenticatorSelection, json.authenticatorSelection);
    assert.equal(options.timeout, 300000);
    assert.equal(options.attestation, 'none');
    assert.deepEqual(json, creationOptions(), 'the JSON it was given is left as it was');
    const bare = creationOptionsFromJSON({ ...json, excludeCredentials: undefined });
    assert.equal('excludeCredentials' in bare && bare.excludeCredentials !== undefined, false);
  });

  test('request options: the challenge and allowed ids become bytes; an empty list stays empty', () => {
    const discoverable = requestOptionsFromJSON(requestOptions());
    assert.deepEqual(asBytes(discoverable.challenge), [4, 5, 6, 0xfe]);
    assert.deepEqual(discoverable.allowCredentials, []);
    assert.equal(discoverable.rpId, 'localhost');
    assert.equal(discoverable.userVerification, 'required');
    const allowed = requestOptionsFromJSON(
      requestOptions({ allowCredentials: [{ id: b64url([7, 7]), type: 'public-key', transports: ['usb'] }] }),
    );
    assert.deepEqual(asBytes(allowed.allowCredentials[0].id), [7, 7]);
    assert.deepEqual(allowed.allowCredentials[0].transports, ['usb']);
  });

  test('a new credential: every binary field in base64url, as RegistrationResponseJSON', () => {
    assert.deepEqual(registrationToJSON(newCredential()), {
      id: b64url([0xfa, 0xce]),
      rawId: b64url([0xfa, 0xce]),
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: { credProps: { rk: true } },
      response: {
        clientDataJSON: b64url('{"type":"webauthn.create"}'),
        attestationObject: b64url([0xa3, 0x63, 0x66, 0x6d, 0x74]),
        transports: ['internal', 'hybrid'],
        authenticatorData: b64url([0x49, 0x96]),
        publicKey: b64url([0x30, 0x59]),
        publicKeyAlgorithm: -7,
      },
    });
  });

  test('a Level 2 browser (no getTransports & co., no attachment) gives the required fields only', () => {
    const credential = newCredential();
    credential.response = {
      clientDataJSON: credential.response.clientDataJSON,
      attestationObject: credential.response.attestationObject,
    };
    credential.authenticatorAttachment = null;
    delete credential.getClientExtensionResults;
    assert.deepEqual(registrationToJSON(credential), {
      id: b64url([0xfa, 0xce]),
      rawId: b64url([0xfa, 0xce]),
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url('{"type":"webauthn.create"}'),
        attestationObject: b64url([0xa3, 0x63, 0x66, 0x6d, 0x74]),
      },
    });
  });

  test('an assertion: every binary field in base64url, as AuthenticationResponseJSON', () => {
    assert.deepEqual(authenticationToJSON(assertion()), {
      id: b64url([0xfa, 0xce]),
      rawId: b64url([0xfa, 0xce]),
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url('{"type":"webauthn.get"}'),
        authenticatorData: b64url([0x49, 0x96, 0x05]),
        signature: b64url([0x30, 0x45, 0x02]),
        userHandle: b64url([1, 2, 3, 250]),
      },
    });
    // no user handle (a non-discoverable credential): left out, not null
    assert.equal('userHandle' in authenticationToJSON(assertion({ userHandle: null })).response, false);
  });

  test('binary extension outputs (e.g. prf) are base64url too', () => {
    const credential = assertion();
    credential.getClientExtensionResults = () => ({ prf: { results: { first: bytes(1, 2) } } });
    assert.deepEqual(authenticationToJSON(credential).clientExtensionResults, {
      prf: { results: { first: b64url([1, 2]) } },
    });
  });
});

describe('addPasskey', { timeout: 10_000 }, () => {
  test('asks for options with the password, creates the passkey from them, and registers it', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/passkeys/registration/options': [json(200, creationOptions())],
      '/auth/passkeys/registration': [json(201, passkey({ name: 'Work laptop' }))],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await client.signIn('ada@example.com', 'pw');

    const added = await client.addPasskey({ password: 'pw', name: 'Work laptop' });

    assert.deepEqual(added, passkey({ name: 'Work laptop' }));
    const [asked] = fetch.to('/auth/passkeys/registration/options');
    assert.equal(asked.method, 'POST');
    assert.equal(asked.headers.authorization, 'Bearer AT1');
    assert.equal(asked.headers['content-type'], 'application/json');
    assert.deepEqual(asked.body, { password: 'pw' });

    assert.equal(credentials.calls.length, 1);
    const [{ method, options }] = credentials.calls;
    assert.equal(method, 'create');
    assert.deepEqual(asBytes(options.publicKey.challenge), [9, 8, 7, 255, 254]);
    assert.deepEqual(asBytes(options.publicKey.user.id), [1, 2, 3, 250]);
    assert.deepEqual(asBytes(options.publicKey.excludeCredentials[0].id), [0xfb, 0xff]);
    assert.deepEqual(options.publicKey.authenticatorSelection, creationOptions().authenticatorSelection);

    const [registered] = fetch.to('/auth/passkeys/registration');
    assert.equal(registered.method, 'POST');
    assert.equal(registered.headers.authorization, 'Bearer AT1');
    assert.deepEqual(registered.body, { credential: registrationToJSON(newCredential()), name: 'Work laptop' });
  });

  test('without a password or a name it sends {} and no name (the API picks one)', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/passkeys/registration/options': [json(200, creationOptions())],
      '/auth/passkeys/registration': [json(201, passkey())],
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials: stubCredentials() });
    await client.signIn('ada@example.com', 'pw');
    await client.addPasskey();
    assert.deepEqual(fetch.to('/auth/passkeys/registration/options')[0].body, {});
    assert.deepEqual(Object.keys(fetch.to('/auth/passkeys/registration')[0].body), ['credential']);
  });

  test("the API's refusal of the options rejects before the browser is asked", async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/passkeys/registration/options': [problem(401, 'reauthentication_required')],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await client.signIn('ada@example.com', 'pw');
    await assert.rejects(client.addPasskey(), { code: 'reauthentication_required', status: 401 });
    assert.equal(credentials.calls.length, 0);
    assert.equal(client.isSignedIn, true, 'a refused confirmation is not a sign-out');
  });

  test("the browser's refusal (an excluded authenticator) arrives as it is, and nothing is registered", async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/auth/passkeys/registration/options': [json(200, creationOptions())],
    });
    const refusal = new DOMException('already registered', 'InvalidStateError');
    const credentials = stubCredentials({
      create: () => {
        throw refusal;
      },
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await client.signIn('ada@example.com', 'pw');
    await assert.rejects(client.addPasskey({ password: 'pw' }), (error) => error === refusal);
    assert.equal(fetch.to('/auth/passkeys/registration').length, 0);
  });
});

describe('signInWithPasskey', { timeout: 10_000 }, () => {
  test('discoverable: options with {} and credentials, the prompt, then the sign-in with cookie delivery', async () => {
    const fetch = fakeFetch({
      '/auth/passkeys/authentication/options': [json(200, requestOptions())],
      '/auth/passkeys/authentication': [tokenResponse('AT-PK', 900)],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });

    await client.signInWithPasskey();

    const [asked, answered] = fetch.calls;
    assert.equal(asked.url, `${BASE}/auth/passkeys/authentication/options`);
    assert.equal(asked.method, 'POST');
    assert.equal(asked.credentials, 'include', 'the challenge cookie must be kept');
    assert.equal(asked.headers['content-type'], 'application/json');
    assert.deepEqual(asked.body, {});
    assert.equal(asked.headers.authorization, undefined);

    const [{ method, options }] = credentials.calls;
    assert.equal(method, 'get');
    assert.deepEqual(asBytes(options.publicKey.challenge), [4, 5, 6, 0xfe]);
    assert.deepEqual(options.publicKey.allowCredentials, []);
    assert.equal(options.publicKey.userVerification, 'required');
    assert.equal(options.mediation, undefined);

    assert.equal(answered.url, `${BASE}/auth/passkeys/authentication`);
    assert.equal(answered.method, 'POST');
    assert.equal(answered.credentials, 'include', 'the challenge cookie goes back');
    assert.deepEqual(answered.body, {
      credential: authenticationToJSON(assertion()),
      refresh_token_delivery: 'cookie',
    });
    assert.equal(fetch.calls.length, 2);

    assert.equal(client.isSignedIn, true);
    assert.equal(client.accessToken, 'AT-PK');
    assert.deepEqual(client.events, [{ type: 'signedIn' }]);
  });

  test('ends in the same state, events and tab messages as a password sign-in', async () => {
    const clock = new ManualClock();
    const viaPassword = new FakeHub();
    const password = makeClient({
      fetch: fakeFetch({ '/auth/login': [tokenResponse('AT', 900)] }),
      clock,
      channel: viaPassword.channel(),
    });
    await password.signIn('ada@example.com', 'pw');

    const viaPasskey = new FakeHub();
    const passkeyClient = makeClient({
      fetch: fakeFetch({
        '/auth/passkeys/authentication/options': [json(200, requestOptions())],
        '/auth/passkeys/authentication': [tokenResponse('AT', 900)],
      }),
      clock,
      channel: viaPasskey.channel(),
      credentials: stubCredentials(),
    });
    await passkeyClient.signInWithPasskey();

    assert.equal(passkeyClient.accessToken, password.accessToken);
    assert.equal(passkeyClient.isSignedIn, password.isSignedIn);
    assert.deepEqual(passkeyClient.events, password.events);
    assert.deepEqual(viaPasskey.log, viaPassword.log, 'the other tabs hear the same');
    // and each refreshes itself as any session does: a timer 30 s (less jitter) before exp
    const timers = clock.pending();
    assert.equal(timers.length, 2, 'one refresh timer per signed-in client');
    for (const timer of timers) assert.ok(timer.at > START + 867_000 && timer.at <= START + 870_000, timer.at);
  });

  test('email-first: the options ask for that account only', async () => {
    const fetch = fakeFetch({
      '/auth/passkeys/authentication/options': [
        json(200, requestOptions({ allowCredentials: [{ id: b64url([0xfa, 0xce]), type: 'public-key' }] })),
      ],
      '/auth/passkeys/authentication': [tokenResponse('AT-PK')],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await client.signInWithPasskey({ email: 'ada@example.com' });
    assert.deepEqual(fetch.to('/auth/passkeys/authentication/options')[0].body, { email: 'ada@example.com' });
    assert.deepEqual(asBytes(credentials.calls[0].options.publicKey.allowCredentials[0].id), [0xfa, 0xce]);
  });

  test('as the second step: the mfa_token goes with the options and with the answer', async () => {
    const fetch = fakeFetch({
      '/auth/login': [problem(403, 'mfa_required', { mfa_token: 'MFA1', expires_in: 300 })],
      '/auth/passkeys/authentication/options': [json(200, requestOptions())],
      '/auth/passkeys/authentication': [tokenResponse('AT-2F')],
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials: stubCredentials() });
    const step = await client.signIn('ada@example.com', 'pw');
    assert.equal(step.status, 'mfaRequired');

    await client.signInWithPasskey({ mfaToken: step.mfaToken });

    assert.deepEqual(fetch.to('/auth/passkeys/authentication/options')[0].body, { mfa_token: 'MFA1' });
    const [answered] = fetch.to('/auth/passkeys/authentication');
    assert.equal(answered.body.mfa_token, 'MFA1');
    assert.equal(answered.body.refresh_token_delivery, 'cookie');
    assert.equal(client.accessToken, 'AT-2F');
    assert.deepEqual(client.events, [{ type: 'signedIn' }]);
  });

  test('conditional: the mediation and the signal reach the browser', async () => {
    const fetch = fakeFetch({
      '/auth/passkeys/authentication/options': [json(200, requestOptions())],
      '/auth/passkeys/authentication': [tokenResponse('AT-PK')],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    const abort = new AbortController();
    await client.signInWithPasskey({ mediation: 'conditional', signal: abort.signal });
    assert.equal(credentials.calls[0].options.mediation, 'conditional');
    assert.equal(credentials.calls[0].options.signal, abort.signal);
  });

  test('aborted while the options were on their way: the browser is never asked', async () => {
    const abort = new AbortController();
    const fetch = fakeFetch({
      '/auth/passkeys/authentication/options': [
        () => {
          abort.abort();
          return json(200, requestOptions());
        },
      ],
    });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await assert.rejects(client.signInWithPasskey({ mediation: 'conditional', signal: abort.signal }), {
      name: 'AbortError',
    });
    assert.equal(credentials.calls.length, 0);
    assert.equal(client.isSignedIn, false);
  });

  test('cancelled in the browser: the NotAllowedError arrives as it is, with no sign-in request', async () => {
    const fetch = fakeFetch({ '/auth/passkeys/authentication/options': [json(200, requestOptions())] });
    const credentials = stubCredentials({
      get: () => {
        throw new DOMException('cancelled', 'NotAllowedError');
      },
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await assert.rejects(client.signInWithPasskey(), { name: 'NotAllowedError' });
    assert.equal(fetch.to('/auth/passkeys/authentication').length, 0);
    assert.deepEqual(client.events, []);
  });

  test("the API's refusals arrive as AuthError and leave the client signed out", async () => {
    for (const [status, code] of [
      [400, 'invalid_passkey_challenge'],
      [401, 'invalid_passkey'],
    ]) {
      const fetch = fakeFetch({
        '/auth/passkeys/authentication/options': [json(200, requestOptions())],
        '/auth/passkeys/authentication': [problem(status, code)],
      });
      const client = makeClient({ fetch, clock: new ManualClock(), credentials: stubCredentials() });
      await assert.rejects(client.signInWithPasskey(), (error) => {
        assert.ok(error instanceof AuthError);
        assert.equal(error.code, code);
        assert.equal(error.status, status);
        return true;
      });
      assert.equal(client.isSignedIn, false);
      assert.deepEqual(client.events, []);
    }
  });

  test('passkeys off at the API (404 passkeys_off): rejects before the browser is asked', async () => {
    const fetch = fakeFetch({ '/auth/passkeys/authentication/options': [problem(404, 'passkeys_off')] });
    const credentials = stubCredentials();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials });
    await assert.rejects(client.signInWithPasskey(), { code: 'passkeys_off' });
    assert.equal(credentials.calls.length, 0);
  });
});

describe('support', { timeout: 10_000 }, () => {
  test('without WebAuthn: not supported, and the calls reject with NotSupportedError and no request', async () => {
    const fetch = fakeFetch();
    const client = makeClient({ fetch, clock: new ManualClock(), credentials: null });
    assert.equal(client.passkeysSupported(), false);
    assert.equal(await client.conditionalMediationAvailable(), false);
    await assert.rejects(client.signInWithPasskey(), { name: 'NotSupportedError' });
    await assert.rejects(client.addPasskey(), { name: 'NotSupportedError' });
    assert.equal(fetch.calls.length, 0);
  });

  test("by default it is the browser's navigator.credentials, when PublicKeyCredential exists", async (t) => {
    const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    const credentials = stubCredentials();
    const restore = () => {
      delete globalThis.PublicKeyCredential;
      if (had) Object.defineProperty(globalThis, 'navigator', had);
      else delete globalThis.navigator;
    };
    t.after(restore);
    Object.defineProperty(globalThis, 'navigator', { value: { credentials }, configurable: true, writable: true });

    // no PublicKeyCredential (an old browser, or an insecure context): no passkeys
    const without = new AuthClient({ baseUrl: BASE, fetch: fakeFetch(), channel: null, locks: null });
    assert.equal(without.passkeysSupported(), false);
    without.close();

    let available = false;
    globalThis.PublicKeyCredential = { isConditionalMediationAvailable: async () => available };
    const fetch = fakeFetch({
      '/auth/passkeys/authentication/options': [json(200, requestOptions())],
      '/auth/passkeys/authentication': [tokenResponse('AT-PK')],
    });
    const client = new AuthClient({ baseUrl: BASE, fetch, clock: new ManualClock(), channel: null, locks: null });
    try {
      assert.equal(client.passkeysSupported(), true);
      assert.equal(await client.conditionalMediationAvailable(), false);
      available = true;
      assert.equal(await client.conditionalMediationAvailable(), true);
      globalThis.PublicKeyCredential.isConditionalMediationAvailable = async () => {
        throw new Error('broken');
      };
      assert.equal(await client.conditionalMediationAvailable(), false, 'a failing check is a no');
      await client.signInWithPasskey();
      assert.equal(credentials.calls.length, 1, "the browser's navigator.credentials was asked");
      assert.equal(client.isSignedIn, true);
    } finally {
      client.close();
    }
  });
});

describe('managing passkeys', { timeout: 10_000 }, () => {
  test('list, rename and remove: the paths, methods, bodies and the bearer token', async () => {
    const id = 'a/b c';
    const fetch = fakeFetch((request) => {
      if (request.path === '/auth/login') return tokenResponse('AT1');
      if (request.path === '/users/me/passkeys') return json(200, { passkeys: [passkey()] });
      if (request.method === 'PATCH') return json(200, passkey({ name: request.body.name }));
      if (request.method === 'DELETE') return new Response(null, { status: 204 });
      return problem(400, 'unexpected_request');
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials: stubCredentials() });
    await client.signIn('ada@example.com', 'pw');

    assert.deepEqual(await client.passkeys(), [passkey()]);
    assert.deepEqual(await client.renamePasskey(id, 'Phone'), passkey({ name: 'Phone' }));
    assert.equal(await client.deletePasskey(id), undefined);

    const [, listed, renamed, removed] = fetch.calls;
    assert.equal(listed.method, 'GET');
    assert.equal(listed.url, `${BASE}/users/me/passkeys`);
    assert.equal(renamed.method, 'PATCH');
    assert.equal(renamed.url, `${BASE}/users/me/passkeys/a%2Fb%20c`);
    assert.deepEqual(renamed.body, { name: 'Phone' });
    assert.equal(removed.method, 'DELETE');
    assert.equal(removed.url, `${BASE}/users/me/passkeys/a%2Fb%20c`);
    assert.equal(removed.hasBody, false);
    for (const call of [listed, renamed, removed]) assert.equal(call.headers.authorization, 'Bearer AT1');
  });

  test('removing the last way in rejects with last_sign_in_method (409) and its words', async () => {
    const fetch = fakeFetch({
      '/auth/login': [tokenResponse('AT1')],
      '/users/me/passkeys/p1': [problem(409, 'last_sign_in_method', { detail: 'This is the only way to sign in.' })],
    });
    const client = makeClient({ fetch, clock: new ManualClock(), credentials: stubCredentials() });
    await client.signIn('ada@example.com', 'pw');
    await assert.rejects(client.deletePasskey('p1'), {
      code: 'last_sign_in_method',
      status: 409,
      message: 'This is the only way to sign in.',
    });
    assert.equal(client.isSignedIn, true);
  });
});
