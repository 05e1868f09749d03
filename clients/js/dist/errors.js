/**
 * Typed errors: every refusal of the API arrives as problem+json (RFC 9457) with a
 * stable `code`; an `AuthError` carries it, with the status and `Retry-After`.
 */
export class AuthError extends Error {
    /** The API's stable code (`invalid_credentials`, `rate_limited`, …), or
     * `network_error` when no answer came. */
    code;
    /** The HTTP status, 0 when no answer came. */
    status;
    /** Seconds to wait before trying again (from `Retry-After`), when the API said. */
    retryAfter;
    /** The whole problem body: some carry more (`mfa_token` with `mfa_required`). */
    body;
    constructor(code, status, detail, options = {}) {
        super(detail, { cause: options.cause });
        this.name = 'AuthError';
        this.code = code;
        this.status = status;
        this.retryAfter = options.retryAfter ?? null;
        this.body = options.body ?? {};
    }
}
/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(header, now = Date.now()) {
    if (header === null || header.trim() === '')
        return null;
    const seconds = Number(header);
    if (Number.isFinite(seconds))
        return Math.max(0, seconds);
    const date = Date.parse(header);
    return Number.isNaN(date) ? null : Math.max(0, (date - now) / 1000);
}
/** The `AuthError` an unsuccessful response stands for (`now`: for an HTTP-date `Retry-After`). */
export async function errorFrom(response, now = Date.now()) {
    let body = {};
    try {
        const parsed = await response.clone().json();
        if (parsed !== null && typeof parsed === 'object')
            body = parsed;
    }
    catch {
        // not JSON (a proxy's error page): the status says what there is to say
    }
    const code = typeof body.code === 'string' ? body.code : `http_${response.status}`;
    const detail = typeof body.detail === 'string'
        ? body.detail
        : typeof body.error_description === 'string'
            ? body.error_description
            : `${response.status} ${response.statusText}`.trim();
    return new AuthError(code, response.status, detail, {
        retryAfter: retryAfterSeconds(response.headers.get('Retry-After'), now),
        body,
    });
}
