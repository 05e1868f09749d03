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
import { AuthError, errorFrom } from './errors.js';
import { Tabs } from './tabs.js';
const SKEW_MS = 5_000; // a token this close to `exp` is treated as expired
const MAX_RETRY_AFTER_MS = 60_000;
const CSRF = { 'X-Requested-With': 'authapi-client' };
function defaultClock() {
    return {
        now: () => Date.now(),
        setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
        clearTimeout: (handle) => globalThis.clearTimeout(handle),
    };
}
function defaultChannel(name) {
    return typeof BroadcastChannel === 'function'
        ? new BroadcastChannel(name)
        : null;
}
/** The browser's `navigator.credentials`, if it has WebAuthn (in a secure context only). */
function defaultCredentials() {
    const scope = globalThis;
    return scope.PublicKeyCredential === undefined ? null : (scope.navigator?.credentials ?? null);
}
function defaultLocks() {
    const navigatorLocks = globalThis.navigator?.locks;
    return navigatorLocks ?? null;
}
export class AuthClient {
    baseUrl;
    marginMs;
    attempts;
    requestTimeoutMs;
    backoffMs;
    fetchImpl;
    clock;
    location;
    credentials;
    tabs;
    listeners = new Set();
    token = null;
    expiresAt = 0; // ms since the epoch
    serial = 0; // counts tokens adopted, here or from another tab
    epoch = 0; // counts sign-outs: a result from an older epoch is thrown away
    signedOutAt = 0; // ms since the epoch
    inflight = null;
    inflightEpoch = -1; // a refresh serves only the session it was started for
    timer = null;
    constructor(options = {}) {
        const name = options.name ?? 'authapi';
        this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
        this.marginMs = (options.refreshMarginSeconds ?? 30) * 1000;
        this.attempts = Math.max(1, options.refreshAttempts ?? 5);
        this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
        this.backoffMs = options.backoffMs ?? 500;
        this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
        this.clock = options.clock ?? defaultClock();
        this.location = options.location ?? globalThis.location ?? null;
        this.credentials =
            options.credentials === undefined ? defaultCredentials() : options.credentials;
        this.tabs = new Tabs({
            channel: options.channel === undefined ? defaultChannel(name) : options.channel,
            locks: options.locks === undefined ? defaultLocks() : options.locks,
            lockName: `${name}-refresh`,
            lockTimeoutMs: options.lockTimeoutMs ?? 5_000,
            clock: this.clock,
        }, (message) => this.fromOtherTab(message));
    }
    // --- state and events -----------------------------------------------------------
    /** The current access token, if one is held (it may be about to expire). */
    get accessToken() {
        return this.token;
    }
    get isSignedIn() {
        return this.token !== null;
    }
    /** Listen for sign-in, refresh and sign-out; returns the function that stops it. */
    on(listener) {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
    /** Stop timers and leave the channel (a page that goes away needs not call it). */
    close() {
        this.cancelTimer();
        this.tabs.close();
    }
    // --- accounts ---------------------------------------------------------------------
    async register(email, password) {
        await this.post('/auth/register', { email, password });
    }
    async verifyEmail(token) {
        await this.post('/auth/verify-email', { token });
    }
    async resendVerification(email) {
        await this.post('/auth/verify-email/resend', { email });
    }
    async forgotPassword(email) {
        await this.post('/auth/forgot-password', { email });
    }
    async resetPassword(token, newPassword) {
        await this.post('/auth/reset-password', { token, new_password: newPassword });
    }
    /** The providers to offer as sign-in buttons (public; no session needed). */
    async providers() {
        const response = await this.fetchImpl(`${this.baseUrl}/auth/oauth/providers`);
        if (!response.ok)
            throw await errorFrom(response);
        return (await response.json()).providers;
    }
    // --- signing in and out -----------------------------------------------------------
    /** Password sign-in; with two-factor authentication on, the result asks for a code. */
    async signIn(email, password) {
        try {
            await this.finishSignIn('/auth/login', { email, password });
            return { status: 'signedIn' };
        }
        catch (error) {
            if (error instanceof AuthError && error.code === 'mfa_required') {
                return mfaStep(error.body.mfa_token, error.body.expires_in);
            }
            throw error;
        }
    }
    /** The second step: a code from the authenticator app, or a recovery code. */
    async completeMfa(mfaToken, code) {
        await this.finishSignIn('/auth/login/mfa', { mfa_token: mfaToken, code });
    }
    /**
     * Sign in with a passkey: the API's challenge, the browser's passkey prompt, then signed
     * in as after `signIn`. The browser's refusals arrive as they are (a `DOMException`:
     * `NotAllowedError` when the person cancelled or it timed out, `AbortError` after
     * `signal`); the API's as an `AuthError` (`invalid_passkey_challenge`: ask again;
     * `invalid_passkey`: that passkey is unknown here or did not verify).
     */
    async signInWithPasskey(options = {}) {
        const credentials = this.webauthn();
        const ask = {};
        if (options.email !== undefined)
            ask.email = options.email;
        if (options.mfaToken !== undefined)
            ask.mfa_token = options.mfaToken;
        // credentials: the answer's cookie ties the challenge to this browser
        const asked = await this.post('/auth/passkeys/authentication/options', ask);
        const json = (await asked.json());
        options.signal?.throwIfAborted();
        const request = { publicKey: requestOptionsFromJSON(json) };
        if (options.mediation !== undefined)
            request.mediation = options.mediation;
        if (options.signal !== undefined)
            request.signal = options.signal;
        const credential = publicKeyCredential(await credentials.get(request));
        const body = { credential: authenticationToJSON(credential) };
        if (options.mfaToken !== undefined)
            body.mfa_token = options.mfaToken;
        await this.finishSignIn('/auth/passkeys/authentication', body);
    }
    /** Whether this browser can use passkeys (WebAuthn, in a secure context). */
    passkeysSupported() {
        return this.credentials !== null;
    }
    /** Whether the browser can offer passkeys in a field's autofill (`mediation: 'conditional'`). */
    async conditionalMediationAvailable() {
        if (this.credentials === null)
            return false;
        const scope = globalThis;
        try {
            return (await scope.PublicKeyCredential?.isConditionalMediationAvailable?.()) === true;
        }
        catch {
            return false;
        }
    }
    /** Send the browser to a provider; it comes back to `redirectTo` (see `providerReturn`). */
    startProviderSignIn(provider, redirectTo) {
        const query = new URLSearchParams({ redirect_to: redirectTo });
        const url = `${this.baseUrl}/auth/oauth/${encodeURIComponent(provider)}/authorize?${query}`;
        if (this.location === null)
            throw new Error('no window.location to send the browser with');
        this.location.assign(url);
    }
    /**
     * Read where a provider sign-in left the browser (`redirect_to` with `?error=`,
     * `?linked=` or `#mfa_token=`); on success the refresh cookie is set, so this
     * refreshes. Remove the fragment from the address bar afterwards.
     */
    async providerReturn(url) {
        const parsed = new URL(url);
        const fragment = new URLSearchParams(parsed.hash.replace(/^#/, ''));
        const error = parsed.searchParams.get('error');
        const mfaToken = fragment.get('mfa_token');
        if (error === 'mfa_required' && mfaToken !== null) {
            return mfaStep(mfaToken, fragment.get('expires_in'));
        }
        if (error !== null)
            return { status: 'error', code: error };
        const linked = parsed.searchParams.get('linked');
        if (linked !== null)
            return { status: 'linked', provider: linked };
        return (await this.restore()) ? { status: 'signedIn' } : { status: 'none' };
    }
    /** On page load: a session from the refresh cookie, if the browser holds one. */
    async restore() {
        return (await this.getAccessToken()) !== null;
    }
    /** End this session, in every tab. Never waits for a refresh in flight. */
    async signOut() {
        const token = this.token;
        this.end('signOut');
        this.tabs.post({ type: 'signedOut', reason: 'otherTab' });
        const headers = { ...CSRF };
        if (token !== null)
            headers.Authorization = `Bearer ${token}`;
        try {
            await this.fetchImpl(`${this.baseUrl}/auth/logout`, {
                method: 'POST',
                credentials: 'include',
                headers,
            });
        }
        catch {
            // offline: signed out here; the session on the server runs out by itself
        }
    }
    /** End every session of the account (every device), then this one. */
    async signOutEverywhere() {
        const response = await this.fetch(`${this.baseUrl}/auth/logout-all`, { method: 'POST' });
        if (!response.ok)
            throw await errorFrom(response);
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
    async addPasskey(options = {}) {
        const credentials = this.webauthn();
        const ask = options.password === undefined ? {} : { password: options.password };
        const json = await this.call('POST', '/auth/passkeys/registration/options', ask);
        const credential = publicKeyCredential(await credentials.create({ publicKey: creationOptionsFromJSON(json) }));
        const body = {
            credential: registrationToJSON(credential),
        };
        if (options.name !== undefined)
            body.name = options.name;
        return this.call('POST', '/auth/passkeys/registration', body);
    }
    async passkeys() {
        return (await this.call('GET', '/users/me/passkeys')).passkeys;
    }
    async renamePasskey(id, name) {
        return this.call('PATCH', `/users/me/passkeys/${encodeURIComponent(id)}`, { name });
    }
    /** Rejects with `last_sign_in_method` (409) when the account would have no way in left. */
    async deletePasskey(id) {
        await this.call('DELETE', `/users/me/passkeys/${encodeURIComponent(id)}`);
    }
    // --- using the token --------------------------------------------------------------
    /** A live access token, refreshed first when it is about to expire; null if signed out. */
    async getAccessToken() {
        if (this.isFresh())
            return this.token;
        try {
            await this.refresh();
        }
        catch (error) {
            if (!(error instanceof AuthError) || error.status !== 401)
                throw error;
        }
        return this.token;
    }
    /**
     * `fetch` with `Authorization: Bearer`, retried once after a 401 `token_expired`.
     * A retried request is sent again as given: use a replayable body (not a stream).
     */
    async fetch(input, init = {}) {
        const send = (token) => {
            const headers = new Headers(init.headers);
            if (token !== null)
                headers.set('Authorization', `Bearer ${token}`);
            return this.fetchImpl(input, { ...init, headers });
        };
        const sent = await this.getAccessToken();
        const first = await send(sent);
        if (first.status !== 401 || (await errorFrom(first)).code !== 'token_expired')
            return first;
        if (this.token === sent)
            await this.refresh(); // unless another refresh replaced it already
        return send(this.token);
    }
    /**
     * An API call with the session's token (through `fetch` above): `body` is sent as
     * JSON, and the answer's JSON is returned (undefined for 204). A refusal rejects
     * with its `AuthError`.
     */
    async call(method, path, body) {
        const init = { method, credentials: 'include' };
        if (body !== undefined) {
            init.headers = { 'Content-Type': 'application/json' };
            init.body = JSON.stringify(body);
        }
        const response = await this.fetch(`${this.baseUrl}${path}`, init);
        if (!response.ok)
            throw await errorFrom(response);
        if (response.status === 204)
            return undefined;
        return (await response.json());
    }
    /**
     * Rotate the refresh cookie for a new access token: once per tab at a time, and
     * once across tabs as far as the browser allows. Rejects with an `AuthError` when
     * the session ended (401) or the API stayed unreachable (the session is kept).
     */
    refresh() {
        if (this.inflight !== null && this.inflightEpoch === this.epoch)
            return this.inflight;
        const epoch = this.epoch;
        const serial = this.serial;
        const satisfied = () => epoch !== this.epoch || (this.serial !== serial && this.isFresh());
        const run = this.tabs
            .exclusive(async () => {
            const rotated = await this.rotate(epoch);
            if (rotated !== null && epoch === this.epoch) {
                this.adopt(rotated.tokens, 'tokenRefreshed', rotated.sentAt);
            }
        }, satisfied)
            .finally(() => {
            if (this.inflight === run)
                this.inflight = null;
        });
        this.inflight = run;
        this.inflightEpoch = epoch;
        return run;
    }
    // --- the machinery ----------------------------------------------------------------
    isFresh() {
        return this.token !== null && this.expiresAt - this.clock.now() > SKEW_MS;
    }
    /** POST /auth/refresh until it answers (or the epoch changes: null). */
    async rotate(epoch) {
        let failure = null;
        for (let attempt = 0; attempt < this.attempts; attempt += 1) {
            if (attempt > 0 && failure !== null) {
                const backoff = this.backoffMs * 2 ** (attempt - 1);
                const wait = failure.retryAfter !== null
                    ? Math.min(failure.retryAfter * 1000, MAX_RETRY_AFTER_MS)
                    : backoff * (0.5 + Math.random() / 2);
                await this.sleep(wait);
                if (epoch !== this.epoch)
                    return null;
            }
            let response;
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
            }
            catch (cause) {
                failure = new AuthError('network_error', 0, 'The API could not be reached.', { cause });
                continue;
            }
            finally {
                this.clock.clearTimeout(timer);
            }
            if (epoch !== this.epoch)
                return null; // signed out meanwhile: thrown away
            if (response.ok)
                return { tokens: (await response.json()), sentAt };
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
            if (response.status !== 429 && response.status < 500)
                throw failure;
        }
        throw failure ?? new AuthError('network_error', 0, 'The API could not be reached.');
    }
    /** The last request of every sign-in: its tokens become the session, in every tab. */
    async finishSignIn(path, body) {
        const sentAt = this.clock.now();
        this.adopt(await this.tokens(path, body), 'signedIn', sentAt);
    }
    webauthn() {
        if (this.credentials === null) {
            throw new DOMException('This browser cannot use passkeys here (WebAuthn).', 'NotSupportedError');
        }
        return this.credentials;
    }
    /** `sentAt`: when the request was sent; a tab that signed out later ignores the result. */
    adopt(tokens, event, sentAt) {
        const expiresAt = this.clock.now() + tokens.expires_in * 1000;
        this.take(tokens.access_token, expiresAt, event);
        this.tabs.post({ type: 'tokens', accessToken: tokens.access_token, expiresAt, issuedAt: sentAt });
    }
    take(token, expiresAt, event) {
        const wasSignedIn = this.token !== null;
        this.token = token;
        this.expiresAt = expiresAt;
        this.serial += 1;
        this.schedule();
        this.emit({ type: wasSignedIn ? event : 'signedIn' });
    }
    end(reason) {
        const wasSignedIn = this.token !== null;
        this.epoch += 1;
        this.signedOutAt = this.clock.now();
        this.token = null;
        this.expiresAt = 0;
        this.cancelTimer();
        if (wasSignedIn)
            this.emit({ type: 'signedOut', reason });
    }
    fromOtherTab(message) {
        if (message.type === 'tokens') {
            // a token from before this tab's last sign-out belongs to the session that ended
            if (message.issuedAt > this.signedOutAt && message.expiresAt > this.expiresAt) {
                this.take(message.accessToken, message.expiresAt, 'tokenRefreshed');
            }
        }
        else if (message.type === 'signedOut') {
            this.end(message.reason);
        }
    }
    /** A refresh before `exp`, with jitter so that tabs do not all wake at once. */
    schedule() {
        this.cancelTimer();
        const lifetime = this.expiresAt - this.clock.now();
        const margin = Math.min(this.marginMs, lifetime / 2);
        const due = lifetime - margin - Math.random() * Math.min(2_000, margin / 2);
        this.timer = this.clock.setTimeout(() => {
            this.timer = null;
            this.refresh().catch(() => {
                // kept signed in while the API is unreachable; the next call tries again
            });
        }, Math.max(0, due));
    }
    cancelTimer() {
        if (this.timer !== null)
            this.clock.clearTimeout(this.timer);
        this.timer = null;
    }
    sleep(ms) {
        return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
    }
    emit(event) {
        for (const listener of [...this.listeners]) {
            try {
                listener(event);
            }
            catch {
                // a listener's failure is its own
            }
        }
    }
    async post(path, body) {
        const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
        });
        if (!response.ok)
            throw await errorFrom(response);
        return response;
    }
    async tokens(path, body) {
        const response = await this.post(path, { ...body, refresh_token_delivery: 'cookie' });
        return (await response.json());
    }
}
function mfaStep(token, expiresIn) {
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
export function base64urlToBuffer(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1)
        bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
}
/** Bytes as base64url without padding. */
export function bufferToBase64url(data) {
    const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
    let binary = '';
    for (const byte of bytes)
        binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function descriptorFromJSON(descriptor) {
    return { ...descriptor, id: base64urlToBuffer(descriptor.id) };
}
/** `navigator.credentials.create`'s `publicKey`, from its JSON form (extensions pass as they are). */
export function creationOptionsFromJSON(json) {
    const { excludeCredentials, ...rest } = json;
    const options = {
        ...rest,
        challenge: base64urlToBuffer(json.challenge),
        user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    };
    if (excludeCredentials !== undefined) {
        options.excludeCredentials = excludeCredentials.map(descriptorFromJSON);
    }
    return options;
}
/** `navigator.credentials.get`'s `publicKey`, from its JSON form (extensions pass as they are). */
export function requestOptionsFromJSON(json) {
    const { allowCredentials, ...rest } = json;
    const options = {
        ...rest,
        challenge: base64urlToBuffer(json.challenge),
    };
    if (allowCredentials !== undefined) {
        options.allowCredentials = allowCredentials.map(descriptorFromJSON);
    }
    return options;
}
function publicKeyCredential(credential) {
    if (credential === null || credential.type !== 'public-key') {
        throw new DOMException('The browser gave no passkey.', 'NotAllowedError');
    }
    return credential;
}
/** Extension outputs with their binary values (e.g. `prf` results) in base64url. */
function jsonable(value) {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value))
        return bufferToBase64url(value);
    if (Array.isArray(value))
        return value.map(jsonable);
    if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, jsonable(inner)]));
    }
    return value;
}
/** What both JSON forms share. */
function common(credential) {
    const extensions = credential.getClientExtensionResults?.() ?? {};
    const json = {
        id: credential.id,
        rawId: bufferToBase64url(credential.rawId),
        type: credential.type,
        clientExtensionResults: jsonable(extensions),
    };
    const attachment = credential.authenticatorAttachment;
    return typeof attachment === 'string' ? { ...json, authenticatorAttachment: attachment } : json;
}
/** A new passkey (`navigator.credentials.create`'s result) in its JSON form. */
export function registrationToJSON(credential) {
    const answer = credential.response;
    if (answer.attestationObject === undefined || answer.clientDataJSON === undefined) {
        throw new DOMException('The browser gave no attestation of the new passkey.', 'NotAllowedError');
    }
    const response = {
        clientDataJSON: bufferToBase64url(answer.clientDataJSON),
        attestationObject: bufferToBase64url(answer.attestationObject),
    };
    // what the browser can tell besides (Level 2 browsers cannot: these are optional)
    if (typeof answer.getTransports === 'function')
        response.transports = answer.getTransports();
    if (typeof answer.getAuthenticatorData === 'function') {
        response.authenticatorData = bufferToBase64url(answer.getAuthenticatorData());
    }
    if (typeof answer.getPublicKey === 'function') {
        const key = answer.getPublicKey();
        if (key !== null)
            response.publicKey = bufferToBase64url(key);
    }
    if (typeof answer.getPublicKeyAlgorithm === 'function') {
        response.publicKeyAlgorithm = answer.getPublicKeyAlgorithm();
    }
    return { ...common(credential), response };
}
/** A passkey's answer to a sign-in (`navigator.credentials.get`'s result) in its JSON form. */
export function authenticationToJSON(credential) {
    const answer = credential.response;
    if (answer.clientDataJSON === undefined ||
        answer.authenticatorData === undefined ||
        answer.signature === undefined) {
        throw new DOMException('The browser gave no signature from the passkey.', 'NotAllowedError');
    }
    const response = {
        clientDataJSON: bufferToBase64url(answer.clientDataJSON),
        authenticatorData: bufferToBase64url(answer.authenticatorData),
        signature: bufferToBase64url(answer.signature),
    };
    if (answer.userHandle !== undefined && answer.userHandle !== null) {
        response.userHandle = bufferToBase64url(answer.userHandle);
    }
    return { ...common(credential), response };
}
