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
import { type Channel, type Clock, type Locks } from './tabs.js';
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
    fetch?: typeof fetch;
    channel?: Channel | null;
    locks?: Locks | null;
    clock?: Clock;
    location?: {
        assign(url: string): void;
    };
    /** `navigator.credentials` (null: no passkeys); by default the browser's, if it has WebAuthn. */
    credentials?: PasskeyCredentials | null;
}
/** A sign-in that now needs the second factor: complete it with `completeMfa`. */
export type MfaStep = {
    status: 'mfaRequired';
    mfaToken: string;
    expiresIn: number | null;
};
export type SignInResult = {
    status: 'signedIn';
} | MfaStep;
export type ProviderReturn = SignInResult | {
    status: 'linked';
    provider: string;
} | {
    status: 'error';
    code: string;
} | {
    status: 'none';
};
export type AuthEvent = {
    type: 'signedIn';
} | {
    type: 'tokenRefreshed';
}
/** reason: 'signOut' (here), 'otherTab', or the API's code that ended the session */
 | {
    type: 'signedOut';
    reason: string;
};
/** A passkey of the account, as `passkeys()` lists it (`backed_up`: synced, e.g. by a
 * password manager, rather than kept on one device only). */
export type Passkey = components['schemas']['PasskeyOut'];
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
export declare class AuthClient {
    private readonly baseUrl;
    private readonly marginMs;
    private readonly attempts;
    private readonly requestTimeoutMs;
    private readonly backoffMs;
    private readonly fetchImpl;
    private readonly clock;
    private readonly location;
    private readonly credentials;
    private readonly tabs;
    private readonly listeners;
    private token;
    private expiresAt;
    private serial;
    private epoch;
    private signedOutAt;
    private inflight;
    private inflightEpoch;
    private timer;
    constructor(options?: AuthClientOptions);
    /** The current access token, if one is held (it may be about to expire). */
    get accessToken(): string | null;
    get isSignedIn(): boolean;
    /** Listen for sign-in, refresh and sign-out; returns the function that stops it. */
    on(listener: (event: AuthEvent) => void): () => void;
    /** Stop timers and leave the channel (a page that goes away needs not call it). */
    close(): void;
    register(email: string, password: string): Promise<void>;
    verifyEmail(token: string): Promise<void>;
    resendVerification(email: string): Promise<void>;
    forgotPassword(email: string): Promise<void>;
    resetPassword(token: string, newPassword: string): Promise<void>;
    /** The providers to offer as sign-in buttons (public; no session needed). */
    providers(): Promise<Provider[]>;
    /** Password sign-in; with two-factor authentication on, the result asks for a code. */
    signIn(email: string, password: string): Promise<SignInResult>;
    /** The second step: a code from the authenticator app, or a recovery code. */
    completeMfa(mfaToken: string, code: string): Promise<void>;
    /**
     * Sign in with a passkey: the API's challenge, the browser's passkey prompt, then signed
     * in as after `signIn`. The browser's refusals arrive as they are (a `DOMException`:
     * `NotAllowedError` when the person cancelled or it timed out, `AbortError` after
     * `signal`); the API's as an `AuthError` (`invalid_passkey_challenge`: ask again;
     * `invalid_passkey`: that passkey is unknown here or did not verify).
     */
    signInWithPasskey(options?: PasskeySignInOptions): Promise<void>;
    /** Whether this browser can use passkeys (WebAuthn, in a secure context). */
    passkeysSupported(): boolean;
    /** Whether the browser can offer passkeys in a field's autofill (`mediation: 'conditional'`). */
    conditionalMediationAvailable(): Promise<boolean>;
    /** Send the browser to a provider; it comes back to `redirectTo` (see `providerReturn`). */
    startProviderSignIn(provider: string, redirectTo: string): void;
    /**
     * Read where a provider sign-in left the browser (`redirect_to` with `?error=`,
     * `?linked=` or `#mfa_token=`); on success the refresh cookie is set, so this
     * refreshes. Remove the fragment from the address bar afterwards.
     */
    providerReturn(url: string | URL): Promise<ProviderReturn>;
    /** On page load: a session from the refresh cookie, if the browser holds one. */
    restore(): Promise<boolean>;
    /** End this session, in every tab. Never waits for a refresh in flight. */
    signOut(): Promise<void>;
    /** End every session of the account (every device), then this one. */
    signOutEverywhere(): Promise<void>;
    /**
     * Create a passkey on this device (or a security key, or a password manager) and
     * register it. `password`: the account's, when it has one (without one, the API asks
     * for a sign-in in the last minutes: `reauthentication_required`). The browser's
     * refusals arrive as a `DOMException` (`InvalidStateError`: this authenticator holds
     * a passkey of the account already; `NotAllowedError`: cancelled or timed out).
     */
    addPasskey(options?: {
        password?: string;
        name?: string;
    }): Promise<Passkey>;
    passkeys(): Promise<Passkey[]>;
    renamePasskey(id: string, name: string): Promise<Passkey>;
    /** Rejects with `last_sign_in_method` (409) when the account would have no way in left. */
    deletePasskey(id: string): Promise<void>;
    /** A live access token, refreshed first when it is about to expire; null if signed out. */
    getAccessToken(): Promise<string | null>;
    /**
     * `fetch` with `Authorization: Bearer`, retried once after a 401 `token_expired`.
     * A retried request is sent again as given: use a replayable body (not a stream).
     */
    fetch(input: string | URL, init?: RequestInit): Promise<Response>;
    /**
     * An API call with the session's token (through `fetch` above): `body` is sent as
     * JSON, and the answer's JSON is returned (undefined for 204). A refusal rejects
     * with its `AuthError`.
     */
    call<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
    /**
     * Rotate the refresh cookie for a new access token: once per tab at a time, and
     * once across tabs as far as the browser allows. Rejects with an `AuthError` when
     * the session ended (401) or the API stayed unreachable (the session is kept).
     */
    refresh(): Promise<void>;
    private isFresh;
    /** POST /auth/refresh until it answers (or the epoch changes: null). */
    private rotate;
    /** The last request of every sign-in: its tokens become the session, in every tab. */
    private finishSignIn;
    private webauthn;
    /** `sentAt`: when the request was sent; a tab that signed out later ignores the result. */
    private adopt;
    private take;
    private end;
    private fromOtherTab;
    /** A refresh before `exp`, with jitter so that tabs do not all wake at once. */
    private schedule;
    private cancelTimer;
    private sleep;
    private emit;
    private post;
    private tokens;
}
/** The bytes of a base64url string (padding optional). */
export declare function base64urlToBuffer(text: string): ArrayBuffer;
/** Bytes as base64url without padding. */
export declare function bufferToBase64url(data: ArrayBuffer | ArrayBufferView): string;
/** `navigator.credentials.create`'s `publicKey`, from its JSON form (extensions pass as they are). */
export declare function creationOptionsFromJSON(json: PublicKeyCredentialCreationOptionsJSON): PublicKeyCredentialCreationOptions;
/** `navigator.credentials.get`'s `publicKey`, from its JSON form (extensions pass as they are). */
export declare function requestOptionsFromJSON(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions;
/** A new passkey (`navigator.credentials.create`'s result) in its JSON form. */
export declare function registrationToJSON(credential: PublicKeyCredential): RegistrationResponseJSON;
/** A passkey's answer to a sign-in (`navigator.credentials.get`'s result) in its JSON form. */
export declare function authenticationToJSON(credential: PublicKeyCredential): AuthenticationResponseJSON;
