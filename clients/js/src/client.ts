/**
 * The session of one tab: the access token in memory, the refresh token only as
 * the API's httpOnly cookie (sent with `X-Requested-With`, which the API asks of
 * cookie-authenticated requests).
 *
 * - Refresh is single-flight within the tab (one promise) and across tabs (tabs.ts),
 *   proactive (a timer before `exp`), and on demand (`fetch` retries once after a
 *   401 `token_expired`).
 * - A failed refresh is not a sign-out: 429 (after `Retry-After`), 5xx and network
 *   errors are retried with backoff, then surface as an `AuthError` with the session
 *   kept. Only a 401 ends the session, once, with one `signedOut` event.
 * - Sign-out never waits for a refresh: it bumps the session's epoch, and a refresh
 *   that comes back under an older epoch is thrown away.
 * - Every way in (password, second factor, passkey) ends in the same place: the
 *   tokens are adopted as a sign-in (`finishSignIn`), in this tab and the others.
 */

import type { components } from './api.js';
import { AuthError, errorFrom } from './errors.js';
import { type Channel, type Clock, type Locks, type TabMessage, Tabs } from './tabs.js';

type TokenResponse = components['schemas']['TokenResponse'];
/** A provider one can sign in with: `startProviderSignIn(name, …)`, a button saying `display_name`. */
export type Provider = components['schemas']['ProviderOut'];

export interface AuthClientOptions {
  /** The API's base URL; '' (the default) is this page's origin. */
  baseUrl?: string;
  /** Refresh this many seconds before the access token expires (default 30). */
  refreshMarginSeconds?: number;
  /** The longest wait for another tab's refresh before refreshing anyway (default 5000 ms). */
  lockTimeoutMs?: number;
  /** A refresh request that has not answered after this long is tried again (default 15000 ms). */
  requestTimeoutMs?: number;
  /** Tries of one refresh through 429, 5xx and network errors (default 5). */
  refreshAttempts?: number;
  /** The first backoff after a 5xx or network error, doubled each time (default 500 ms). */
  backoffMs?: number;
  /** The name of the cross-tab lock and channel (default 'authapi'). */
  name?: string;
  // what the browser provides, replaceable in tests
  fetch?: typeof fetch;
  channel?: Channel | null;
  locks?: Locks | null;
  clock?: Clock;
  location?: { assign(url: string): void };
  /** `navigator.credentials` (null: no passkeys); by default the browser's, if it has WebAuthn. */
  credentials?: PasskeyCredentials | null;
}

/** A sign-in that now needs the second factor: complete it with `completeMfa`. */
export type MfaStep = { status: 'mfaRequired'; mfaToken: string; expiresIn: number | null };

export type SignInResult = { status: 'signedIn' } | MfaStep;

export type ProviderReturn =
  | SignInResult
  | { status: 'linked'; provider: string }
  | { status: 'error'; code: string }
  | { status: 'none' };

export type AuthEvent =
  | { type: 'signedIn' }
  | { type: 'tokenRefreshed' }
  /** reason: 'signOut' (here), 'otherTab', or the API's code that ended the session */
  | { type: 'signedOut'; reason: string };

/** A passkey of the account, as `passkeys()` lists it (`backed_up`: synced, e.g. by a
 * password manager, rather than kept on one device only). */
export type Passkey = components['schemas']['PasskeyOut'];
type PasskeyList = components['schemas']['PasskeyList'];

/** What the client uses of `navigator.credentials`. */
export interface PasskeyCredentials {
  create(options: CredentialCreationOptions): Promise<Credential | null>;
  get(options: CredentialRequestOptions): Promise<Credential | null>;
}

/** A new passkey, in the WebAuthn Level 3 JSON form. */
export interface RegistrationResponseJSON {
  id: string;
  rawId: string;
  type: string;
  authenticatorAttachment?: string;
  clientExtensionResults: Record<string, unknown>;
  response: {
    clientDataJSON: string;
    attestationObject: string;
    transports?: string[];
    authenticatorData?: string;
    publicKey?: string;
    publicKeyAlgorithm?: number;
  };
}

/** A passkey's answer to a sign-in, in the WebAuthn Level 3 JSON form. */
export interface AuthenticationResponseJSON {
  id: string;
  rawId: string;
  type: string;
  authenticatorAttachment?: string;
  clientExtensionResults: Record<string, unknown>;
  response: {
    clientDataJSON: string;
    authenticatorData: string;
    signature: string;
    userHandle?: string;
  };
}

export interface PasskeySignInOptions {
  /** Offer only this account's passkeys; without it, any passkey of this site (discoverable). */
  email?: string;
  /** 'conditional': offered in the autofill of a field with `autocomplete="… webauthn"`. */
  mediation?: 'conditional' | 'optional';
  /** The second step of a password sign-in (`MfaStep.mfaToken`), with a passkey as the factor. */
  mfaToken?: string;
  /** Aborts the browser's request (e.g. a conditional one, before a button starts another). */
  signal?: AbortSignal;
}

const SKEW_MS = 5_000; // a token this close to `exp` is treated as expired
const MAX_RETRY_AFTER_MS = 60_000;
const CSRF = { 'X-Requested-With': 'authapi-client' };

function defaultClock(): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

function defaultChannel(name: string): Channel | null {
  return typeof BroadcastChannel === 'function'
    ? (new BroadcastChannel(name) as unknown as Channel)
    : null;
}

/** The browser's `navigator.credentials`, if it has WebAuthn (in a secure context only). */
function defaultCredentials(): PasskeyCredentials | null {
  const scope = globalThis as {
    PublicKeyCredential?: unknown;
    navigator?: { credentials?: PasskeyCredentials };
  };
  return scope.PublicKeyCredential === undefined ? null : (scope.navigator?.credentials ?? null);
}

function defaultLocks(): Locks | null {
  const navigatorLocks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  return navigatorLocks ?? null;
}

export class AuthClient {
  private readonly baseUrl: string;
  private readonly marginMs: number;
  private readonly attempts: number;
  private readonly requestTimeoutMs: number;
  private readonly backoffMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly clock: Clock;
  private readonly location: { assign(url: string): void } | null;
  private readonly credentials: PasskeyCredentials | null;
  private readonly tabs: Tabs;
  private readonly listeners = new Set<(event: AuthEvent) => void>();

  private token: string | null = null;
  private expiresAt = 0; // ms since the epoch
  private serial = 0; // counts tokens adopted, here or from another tab
  private epoch = 0; // counts sign-outs: a result from an older epoch is thrown away
  private signedOutAt = 0; // ms since the epoch
  private inflight: Promise<void> | null = null;
  private inflightEpoch = -1; // a refresh serves only the session it was started for
  private timer: unknown = null;

  constructor(options: AuthClientOptions = {}) {
    const name = options.name ?? 'authapi';
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.marginMs = (options.refreshMarginSeconds ?? 30) * 1000;
    this.attempts = Math.max(1, options.refreshAttempts ?? 5);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.backoffMs = options.backoffMs ?? 500;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.clock = options.clock ?? defaultClock();
    this.location = options.location ?? (globalThis as { location?: Location }).location ?? null;
    this.credentials =
      options.credentials === undefined ? defaultCredentials() : options.credentials;
    this.tabs = new Tabs(
      {
        channel: options.channel === undefined ? defaultChannel(name) : options.channel,
        locks: options.locks === undefined ? defaultLocks() : options.locks,
        lockName: `${name}-refresh`,
        lockTimeoutMs: options.lockTimeoutMs ?? 5_000,
        clock: this.clock,
      },
      (message) => this.fromOtherTab(message),
    );
  }

  // --- state and events -----------------------------------------------------------
  /** The current access token, if one is held (it may be about to expire). */
  get accessToken(): string | null {
    return this.token;
  }

  get isSignedIn(): boolean {
    return this.token !== null;
  }

  /** Listen for sign-in, refresh and sign-out; returns the function that stops it. */
  on(listener: (event: AuthEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stop timers and leave the channel (a page that goes away needs not call it). */
  close(): void {
    this.cancelTimer();
    this.tabs.close();
  }

  // --- accounts ---------------------------------------------------------------------
  async register(email: string, password: string): Promise<void> {
    await this.post('/auth/register', { email, password });
  }

  async verifyEmail(token: string): Promise<void> {
    await this.post('/auth/verify-email', { token });
  }

  async resendVerification(email: string): Promise<void> {
    await this.post('/auth/verify-email/resend', { email });
  }

  async forgotPassword(email: string): Promise<void> {
    await this.post('/auth/forgot-password', { email });
  }

  async resetPassword(token: string, newPassword: string): Promise<void> {
    await this.post('/auth/reset-password', { token, new_password: newPassword });
  }

  /** The providers to offer as sign-in buttons (public; no session needed). */
  async providers(): Promise<Provider[]> {
    const response = await this.fetchImpl(`${this.baseUrl}/auth/oauth/providers`);
    if (!response.ok) throw await errorFrom(response);
    return ((await response.json()) as { providers: Provider[] }).providers;
  }

  // --- signing in and out -----------------------------------------------------------
  /** Password sign-in; with two-factor authentication on, the result asks for a code. */
  async signIn(email: string, password: string): Promise<SignInResult> {
    try {
      await this.finishSignIn('/auth/login', { email, password });
      return { status: 'signedIn' };
    } catch (error) {
      if (error instanceof AuthError && error.code === 'mfa_required') {
        return mfaStep(error.body.mfa_token, error.body.expires_in);
      }
      throw error;
    }
  }

  /** The second step: a code from the authenticator app, or a recovery code. */
  async completeMfa(mfaToken: string, code: string): Promise<void> {
    await this.finishSignIn('/auth/login/mfa', { mfa_token: mfaToken, code });
  }

  /**
   * Sign in with a passkey: the API's challenge, the browser's passkey prompt, then signed
   * in as after `signIn`. The browser's refusals arrive as they are (a `DOMException`:
   * `NotAllowedError` when the person cancelled or it timed out, `AbortError` after
   * `signal`); the API's as an `AuthError` (`invalid_passkey_challenge`: ask again;
   * `invalid_passkey`: that passkey is unknown here or did not verify).
   */
  async signInWithPasskey(options: PasskeySignInOptions = {}): Promise<void> {
    const credentials = this.webauthn();
    const ask: Record<string, string> = {};
    if (options.email !== undefined) ask.email = options.email;
    if (options.mfaToken !== undefined) ask.mfa_token = options.mfaToken;
    // credentials: the answer's cookie ties the challenge to this browser
    const asked = await this.post('/auth/passkeys/authentication/options', ask);
    const json = (await asked.json()) as PublicKeyCredentialRequestOptionsJSON;
    options.signal?.throwIfAborted();
    const request: CredentialRequestOptions = { publicKey: requestOptionsFromJSON(json) };
    if (options.mediation !== undefined) request.mediation = options.mediation;
    if (options.signal !== undefined) request.signal = options.signal;
    const credential = publicKeyCredential(await credentials.get(request));
    const body: Record<string, unknown> = { credential: authenticationToJSON(credential) };
    if (options.mfaToken !== undefined) body.mfa_token = options.mfaToken;
    await this.finishSignIn('/auth/passkeys/authentication', body);
  }

  /** Whether this browser can use passkeys (WebAuthn, in a secure context). */
  passkeysSupported(): boolean {
    return this.credentials !== null;
  }

  /** Whether the browser can offer passkeys in a field's autofill (`mediation: 'conditional'`). */
  async conditionalMediationAvailable(): Promise<boolean> {
    if (this.credentials === null) return false;
    const scope = globalThis as {
      PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> };
    };
    try {
      return (await scope.PublicKeyCredential?.isConditionalMediationAvailable?.()) === true;
    } catch {
      return false;
    }
  }

  /** Send the browser to a provider; it comes back to `redirectTo` (see `providerReturn`). */
  startProviderSignIn(provider: string, redirectTo: string): void {
    const query = new URLSearchParams({ redirect_to: redirectTo });
    const url = `${this.baseUrl}/auth/oauth/${encodeURIComponent(provider)}/authorize?${query}`;
    if (this.location === null) throw new Error('no window.location to send the browser with');
    this.location.assign(url);
  }

  /**
   * Read where a provider sign-in left the browser (`redirect_to` with `?error=`,
   * `?linked=` or `#mfa_token=`); on success the refresh cookie is set, so this
   * refreshes. Remove the fragment from the address bar afterwards.
   */
  async providerReturn(url: string | URL): Promise<ProviderReturn> {
    const parsed = new URL(url);
    const fragment = new URLSearchParams(parsed.hash.replace(/^#/, ''));
    const error = parsed.searchParams.get('error');
    const mfaToken = fragment.get('mfa_token');
    if (error === 'mfa_required' && mfaToken !== null) {
      return mfaStep(mfaToken, fragment.get('expires_in'));
    }
    if (error !== null) return { status: 'error', code: error };
    const linked = parsed.searchParams.get('linked');
    if (linked !== null) return { status: 'linked', provider: linked };
    return (await this.restore()) ? { status: 'signedIn' } : { status: 'none' };
  }

  /** On page load: a session from the refresh cookie, if the browser holds one. */
  async restore(): Promise<boolean> {
    return (await this.getAccessToken()) !== null;
  }

  /** End this session, in every tab. Never waits for a refresh in flight. */
  async signOut(): Promise<void> {
    const token = this.token;
    this.end('signOut');
    this.tabs.post({ type: 'signedOut', reason: 'otherTab' });
    const headers: Record<string, string> = { ...CSRF };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    try {
      await this.fetchImpl(`${this.baseUrl}/auth/logout`, {
        method: 'POST',
        credentials: 'include',
        headers,
      });
    } catch {
      // offline: signed out here; the session on the server runs out by itself
    }
  }

  /** End every session of the account (every device), then this one. */
  async signOutEverywhere(): Promise<void> {
    const response = await this.fetch(`${this.baseUrl}/auth/logout-all`, { method: 'POST' });
    if (!response.ok) throw await errorFrom(response);
    this.end('signOut');
    this.tabs.post({ type: 'signedOut', reason: 'otherTab' });
  }

  // --- passkeys of the signed-in account ---------------------------------------------
  /**
   * Create a passkey on this device (or a security key, or a password manager) and
   * register it. `password`: the account's, when it has one (without one, the API asks
   * for a sign-in in the last minutes: `reauthentication_required`). The browser's
   * refusals arrive as a `DOMException` (`InvalidStateError`: this authenticator holds
   * a passkey of the account already; `NotAllowedError`: cancelled or timed out).
   */
  async addPasskey(options: { password?: string; name?: string } = {}): Promise<Passkey> {
    const credentials = this.webauthn();
    const ask = options.password === undefined ? {} : { password: options.password };
    const json = await this.call<PublicKeyCredentialCreationOptionsJSON>(
      'POST',
      '/auth/passkeys/registration/options',
      ask,
    );
    const credential = publicKeyCredential(
      await credentials.create({ publicKey: creationOptionsFromJSON(json) }),
    );
    const body: { credential: RegistrationResponseJSON; name?: string } = {
      credential: registrationToJSON(credential),
    };
    if (options.name !== undefined) body.name = options.name;
    return this.call<Passkey>('POST', '/auth/passkeys/registration', body);
  }

  async passkeys(): Promise<Passkey[]> {
    return (await this.call<PasskeyList>('GET', '/users/me/passkeys')).passkeys;
  }

  async renamePasskey(id: string, name: string): Promise<Passkey> {
    return this.call<Passkey>('PATCH', `/users/me/passkeys/${encodeURIComponent(id)}`, { name });
  }

  /** Rejects with `last_sign_in_method` (409) when the account would have no way in left. */
  async deletePasskey(id: string): Promise<void> {
    await this.call('DELETE', `/users/me/passkeys/${encodeURIComponent(id)}`);
  }

  // --- using the token --------------------------------------------------------------
  /** A live access token, refreshed first when it is about to expire; null if signed out. */
  async getAccessToken(): Promise<string | null> {
    if (this.isFresh()) return this.token;
    try {
      await this.refresh();
    } catch (error) {
      if (!(error instanceof AuthError) || error.status !== 401) throw error;
    }
    return this.token;
  }

  /**
   * `fetch` with `Authorization: Bearer`, retried once after a 401 `token_expired`.
   * A retried request is sent again as given: use a replayable body (not a stream).
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = (token: string | null): Promise<Response> => {
      const headers = new Headers(init.headers);
      if (token !== null) headers.set('Authorization', `Bearer ${token}`);
      return this.fetchImpl(input, { ...init, headers });
    };
    const sent = await this.getAccessToken();
    const first = await send(sent);
    if (first.status !== 401 || (await errorFrom(first)).code !== 'token_expired') return first;
    if (this.token === sent) await this.refresh(); // unless another refresh replaced it already
    return send(this.token);
  }

  /**
   * An API call with the session's token (through `fetch` above): `body` is sent as
   * JSON, and the answer's JSON is returned (undefined for 204). A refusal rejects
   * with its `AuthError`.
   */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, credentials: 'include' };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const response = await this.fetch(`${this.baseUrl}${path}`, init);
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /**
   * Rotate the refresh cookie for a new access token: once per tab at a time, and
   * once across tabs as far as the browser allows. Rejects with an `AuthError` when
   * the session ended (401) or the API stayed unreachable (the session is kept).
   */
  refresh(): Promise<void> {
    if (this.inflight !== null && this.inflightEpoch === this.epoch) return this.inflight;
    const epoch = this.epoch;
    const serial = this.serial;
    const satisfied = (): boolean =>
      epoch !== this.epoch || (this.serial !== serial && this.isFresh());
    const run = this.tabs
      .exclusive(async () => {
        const rotated = await this.rotate(epoch);
        if (rotated !== null && epoch === this.epoch) {
          this.adopt(rotated.tokens, 'tokenRefreshed', rotated.sentAt);
        }
      }, satisfied)
      .finally(() => {
        if (this.inflight === run) this.inflight = null;
      });
    this.inflight = run;
    this.inflightEpoch = epoch;
    return run;
  }

  // --- the machinery ----------------------------------------------------------------
  private isFresh(): boolean {
    return this.token !== null && this.expiresAt - this.clock.now() > SKEW_MS;
  }

  /** POST /auth/refresh until it answers (or the epoch changes: null). */
  private async rotate(epoch: number): Promise<{ tokens: TokenResponse; sentAt: number } | null> {
    let failure: AuthError | null = null;
    for (let attempt = 0; attempt < this.attempts; attempt += 1) {
      if (attempt > 0 && failure !== null) {
        const backoff = this.backoffMs * 2 ** (attempt - 1);
        const wait =
          failure.retryAfter !== null
            ? Math.min(failure.retryAfter * 1000, MAX_RETRY_AFTER_MS)
            : backoff * (0.5 + Math.random() / 2);
        await this.sleep(wait);
        if (epoch !== this.epoch) return null;
      }
      let response: Response;
      const sentAt = this.clock.now();
      const abort = new AbortController();
      const timer = this.clock.setTimeout(() => abort.abort(), this.requestTimeoutMs);
      try {
        response = await this.fetchImpl(`${this.baseUrl}/auth/refresh`, {
          method: 'POST',
          credentials: 'include',
          headers: CSRF,
          signal: abort.signal,
        });
      } catch (cause) {
        failure = new AuthError('network_error', 0, 'The API could not be reached.', { cause });
        continue;
      } finally {
        this.clock.clearTimeout(timer);
      }
      if (epoch !== this.epoch) return null; // signed out meanwhile: thrown away
      if (response.ok) return { tokens: (await response.json()) as TokenResponse, sentAt };
      failure = await errorFrom(response, this.clock.now());
      if (response.status === 401) {
        // the session is over (reused, revoked, expired, or there was none): the
        // cookie is every tab's, so a tab that had a session tells the others
        if (this.token !== null) {
          this.end(failure.code);
          this.tabs.post({ type: 'signedOut', reason: failure.code });
        }
        throw failure;
      }
      if (response.status !== 429 && response.status < 500) throw failure;
    }
    throw failure ?? new AuthError('network_error', 0, 'The API could not be reached.');
  }

  /** The last request of every sign-in: its tokens become the session, in every tab. */
  private async finishSignIn(path: string, body: Record<string, unknown>): Promise<void> {
    const sentAt = this.clock.now();
    this.adopt(await this.tokens(path, body), 'signedIn', sentAt);
  }

  private webauthn(): PasskeyCredentials {
    if (this.credentials === null) {
      throw new DOMException('This browser cannot use passkeys here (WebAuthn).', 'NotSupportedError');
    }
    return this.credentials;
  }

  /** `sentAt`: when the request was sent; a tab that signed out later ignores the result. */
  private adopt(tokens: TokenResponse, event: 'signedIn' | 'tokenRefreshed', sentAt: number): void {
    const expiresAt = this.clock.now() + tokens.expires_in * 1000;
    this.take(tokens.access_token, expiresAt, event);
    this.tabs.post({ type: 'tokens', accessToken: tokens.access_token, expiresAt, issuedAt: sentAt });
  }

  private take(token: string, expiresAt: number, event: 'signedIn' | 'tokenRefreshed'): void {
    const wasSignedIn = this.token !== null;
    this.token = token;
    this.expiresAt = expiresAt;
    this.serial += 1;
    this.schedule();
    this.emit({ type: wasSignedIn ? event : 'signedIn' });
  }

  private end(reason: string): void {
    const wasSignedIn = this.token !== null;
    this.epoch += 1;
    this.signedOutAt = this.clock.now();
    this.token = null;
    this.expiresAt = 0;
    this.cancelTimer();
    if (wasSignedIn) this.emit({ type: 'signedOut', reason });
  }

  private fromOtherTab(message: TabMessage): void {
    if (message.type === 'tokens') {
      // a token from before this tab's last sign-out belongs to the session that ended
      if (message.issuedAt > this.signedOutAt && message.expiresAt > this.expiresAt) {
        this.take(message.accessToken, message.expiresAt, 'tokenRefreshed');
      }
    } else if (message.type === 'signedOut') {
      this.end(message.reason);
    }
  }

  /** A refresh before `exp`, with jitter so that tabs do not all wake at once. */
  private schedule(): void {
    this.cancelTimer();
    const lifetime = this.expiresAt - this.clock.now();
    const margin = Math.min(this.marginMs, lifetime / 2);
    const due = lifetime - margin - Math.random() * Math.min(2_000, margin / 2);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        this.refresh().catch(() => {
          // kept signed in while the API is unreachable; the next call tries again
        });
      },
      Math.max(0, due),
    );
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private emit(event: AuthEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private async post(path: string, body: unknown): Promise<Response> {
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  private async tokens(path: string, body: Record<string, unknown>): Promise<TokenResponse> {
    const response = await this.post(path, { ...body, refresh_token_delivery: 'cookie' });
    return (await response.json()) as TokenResponse;
  }
}

function mfaStep(token: unknown, expiresIn: unknown): MfaStep {
  if (typeof token !== 'string' || token === '') {
    throw new AuthError('mfa_required', 403, 'A second factor is due, but no mfa_token came.');
  }
  const seconds = Number(expiresIn);
  return {
    status: 'mfaRequired',
    mfaToken: token,
    expiresIn: expiresIn === null || expiresIn === undefined || Number.isNaN(seconds) ? null : seconds,
  };
}

// --- WebAuthn's JSON forms --------------------------------------------------------------
// The API speaks WebAuthn Level 3 JSON (binary fields in base64url); the browser's calls
// take and give ArrayBuffers. These convert both ways themselves rather than rely on
// PublicKeyCredential.parseCreationOptionsFromJSON / toJSON, which not every browser has.

/** The bytes of a base64url string (padding optional). */
export function base64urlToBuffer(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Bytes as base64url without padding. */
export function bufferToBase64url(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function descriptorFromJSON(
  descriptor: PublicKeyCredentialDescriptorJSON,
): PublicKeyCredentialDescriptor {
  return { ...descriptor, id: base64urlToBuffer(descriptor.id) } as PublicKeyCredentialDescriptor;
}

/** `navigator.credentials.create`'s `publicKey`, from its JSON form (extensions pass as they are). */
export function creationOptionsFromJSON(
  json: PublicKeyCredentialCreationOptionsJSON,
): PublicKeyCredentialCreationOptions {
  const { excludeCredentials, ...rest } = json;
  const options = {
    ...rest,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
  } as unknown as PublicKeyCredentialCreationOptions;
  if (excludeCredentials !== undefined) {
    options.excludeCredentials = excludeCredentials.map(descriptorFromJSON);
  }
  return options;
}

/** `navigator.credentials.get`'s `publicKey`, from its JSON form (extensions pass as they are). */
export function requestOptionsFromJSON(
  json: PublicKeyCredentialRequestOptionsJSON,
): PublicKeyCredentialRequestOptions {
  const { allowCredentials, ...rest } = json;
  const options = {
    ...rest,
    challenge: base64urlToBuffer(json.challenge),
  } as unknown as PublicKeyCredentialRequestOptions;
  if (allowCredentials !== undefined) {
    options.allowCredentials = allowCredentials.map(descriptorFromJSON);
  }
  return options;
}

function publicKeyCredential(credential: Credential | null): PublicKeyCredential {
  if (credential === null || credential.type !== 'public-key') {
    throw new DOMException('The browser gave no passkey.', 'NotAllowedError');
  }
  return credential as PublicKeyCredential;
}

/** Extension outputs with their binary values (e.g. `prf` results) in base64url. */
function jsonable(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return bufferToBase64url(value);
  if (Array.isArray(value)) return value.map(jsonable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, jsonable(inner)]));
  }
  return value;
}

/** What both JSON forms share. */
function common(credential: PublicKeyCredential) {
  const extensions = credential.getClientExtensionResults?.() ?? {};
  const json = {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    clientExtensionResults: jsonable(extensions) as Record<string, unknown>,
  };
  const attachment = credential.authenticatorAttachment;
  return typeof attachment === 'string' ? { ...json, authenticatorAttachment: attachment } : json;
}

/** A new passkey (`navigator.credentials.create`'s result) in its JSON form. */
export function registrationToJSON(credential: PublicKeyCredential): RegistrationResponseJSON {
  const answer = credential.response as Partial<AuthenticatorAttestationResponse>;
  if (answer.attestationObject === undefined || answer.clientDataJSON === undefined) {
    throw new DOMException('The browser gave no attestation of the new passkey.', 'NotAllowedError');
  }
  const response: RegistrationResponseJSON['response'] = {
    clientDataJSON: bufferToBase64url(answer.clientDataJSON),
    attestationObject: bufferToBase64url(answer.attestationObject),
  };
  // what the browser can tell besides (Level 2 browsers cannot: these are optional)
  if (typeof answer.getTransports === 'function') response.transports = answer.getTransports();
  if (typeof answer.getAuthenticatorData === 'function') {
    response.authenticatorData = bufferToBase64url(answer.getAuthenticatorData());
  }
  if (typeof answer.getPublicKey === 'function') {
    const key = answer.getPublicKey();
    if (key !== null) response.publicKey = bufferToBase64url(key);
  }
  if (typeof answer.getPublicKeyAlgorithm === 'function') {
    response.publicKeyAlgorithm = answer.getPublicKeyAlgorithm();
  }
  return { ...common(credential), response };
}

/** A passkey's answer to a sign-in (`navigator.credentials.get`'s result) in its JSON form. */
export function authenticationToJSON(credential: PublicKeyCredential): AuthenticationResponseJSON {
  const answer = credential.response as Partial<AuthenticatorAssertionResponse>;
  if (
    answer.clientDataJSON === undefined ||
    answer.authenticatorData === undefined ||
    answer.signature === undefined
  ) {
    throw new DOMException('The browser gave no signature from the passkey.', 'NotAllowedError');
  }
  const response: AuthenticationResponseJSON['response'] = {
    clientDataJSON: bufferToBase64url(answer.clientDataJSON),
    authenticatorData: bufferToBase64url(answer.authenticatorData),
    signature: bufferToBase64url(answer.signature),
  };
  if (answer.userHandle !== undefined && answer.userHandle !== null) {
    response.userHandle = bufferToBase64url(answer.userHandle);
  }
  return { ...common(credential), response };
}
