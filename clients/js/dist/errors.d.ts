/**
 * Typed errors: every refusal of the API arrives as problem+json (RFC 9457) with a
 * stable `code`; an `AuthError` carries it, with the status and `Retry-After`.
 */
export declare class AuthError extends Error {
    /** The API's stable code (`invalid_credentials`, `rate_limited`, …), or
     * `network_error` when no answer came. */
    readonly code: string;
    /** The HTTP status, 0 when no answer came. */
    readonly status: number;
    /** Seconds to wait before trying again (from `Retry-After`), when the API said. */
    readonly retryAfter: number | null;
    /** The whole problem body: some carry more (`mfa_token` with `mfa_required`). */
    readonly body: Record<string, unknown>;
    constructor(code: string, status: number, detail: string, options?: {
        retryAfter?: number | null;
        body?: Record<string, unknown>;
        cause?: unknown;
    });
}
/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or null. */
export declare function retryAfterSeconds(header: string | null, now?: number): number | null;
/** The `AuthError` an unsuccessful response stands for (`now`: for an HTTP-date `Retry-After`). */
export declare function errorFrom(response: Response, now?: number): Promise<AuthError>;
