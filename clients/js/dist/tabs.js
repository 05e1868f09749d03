/**
 * What the tabs of one browser tell each other, and the refresh lock between them.
 *
 * Tabs share the refresh cookie, so one rotation serves them all: the tab that
 * refreshes posts the new access token on a BroadcastChannel and the others adopt
 * it. The Web Locks API keeps two tabs from rotating at once; without it, a tab
 * announces its refresh and tabs that heard the announcement wait for its result.
 *
 * Correctness never rests on this: the server answers a duplicate refresh (the
 * same token twice within its grace window) with the same successor. So the lock
 * is waited for a bounded time and then skipped, and nothing here is on the path
 * of a sign-out.
 */
// After waiting for another tab's lock: how long its new token may take to arrive
// (the lock's release and the channel's message are not ordered between tabs)
const SETTLE_MS = 100;
function parse(data) {
    if (data === null || typeof data !== 'object')
        return null;
    const message = data;
    if (message.type === 'tokens' &&
        typeof message.accessToken === 'string' &&
        typeof message.expiresAt === 'number' &&
        typeof message.issuedAt === 'number') {
        const { accessToken, expiresAt, issuedAt } = message;
        return { type: 'tokens', accessToken, expiresAt, issuedAt };
    }
    if (message.type === 'signedOut' && typeof message.reason === 'string') {
        return { type: 'signedOut', reason: message.reason };
    }
    if (message.type === 'refreshing' && typeof message.until === 'number') {
        return { type: 'refreshing', until: message.until };
    }
    return null;
}
export class Tabs {
    options;
    onMessage;
    othersRefreshingUntil = 0;
    listeners = new Set();
    constructor(options, onMessage) {
        this.options = options;
        this.onMessage = onMessage;
        if (options.channel !== null) {
            options.channel.onmessage = (event) => this.receive(event.data);
        }
    }
    post(message) {
        try {
            this.options.channel?.postMessage(message);
        }
        catch {
            // a closed channel (the page is going away): the other tabs learn it from the server
        }
    }
    close() {
        this.options.channel?.close();
    }
    /**
     * Runs `task` as the only refreshing tab, as far as the browser allows; returns
     * without running it when `satisfied()` turns true while waiting (another tab's
     * result arrived). Waits at most `lockTimeoutMs` for the other tab.
     */
    async exclusive(task, satisfied) {
        const { locks, lockName, lockTimeoutMs, clock } = this.options;
        if (locks !== null) {
            let held = false;
            await locks.request(lockName, { ifAvailable: true }, async (lock) => {
                held = lock === null;
                if (!held && !satisfied())
                    await task();
            });
            if (!held)
                return;
            // another tab is refreshing: wait for it, a bounded time
            const abort = new AbortController();
            const timer = clock.setTimeout(() => abort.abort(), lockTimeoutMs);
            let acquired = false;
            try {
                await locks.request(lockName, { signal: abort.signal }, async () => {
                    acquired = true;
                    clock.clearTimeout(timer);
                    if (!satisfied())
                        await this.until(satisfied, SETTLE_MS);
                    if (!satisfied())
                        await task();
                });
                return;
            }
            catch (error) {
                if (acquired)
                    throw error; // the task's own failure
                // the lock was not granted in time (an orphaned lock, a frozen tab): go on without it
            }
            finally {
                clock.clearTimeout(timer);
            }
            if (!satisfied())
                await task();
            return;
        }
        const waitMs = Math.min(this.othersRefreshingUntil - clock.now(), lockTimeoutMs);
        if (waitMs > 0) {
            await this.until(satisfied, waitMs);
            if (satisfied())
                return;
        }
        this.post({ type: 'refreshing', until: clock.now() + lockTimeoutMs });
        await task();
    }
    receive(data) {
        const message = parse(data);
        if (message === null)
            return;
        if (message.type === 'refreshing') {
            this.othersRefreshingUntil = Math.max(this.othersRefreshingUntil, message.until);
        }
        else {
            this.othersRefreshingUntil = 0; // that refresh is over
            this.onMessage(message);
        }
        for (const listener of [...this.listeners])
            listener();
    }
    /** Resolves when `condition()` holds after a message, or after `ms`. */
    until(condition, ms) {
        return new Promise((resolve) => {
            const done = () => {
                this.listeners.delete(check);
                this.options.clock.clearTimeout(timer);
                resolve();
            };
            const check = () => {
                if (condition())
                    done();
            };
            const timer = this.options.clock.setTimeout(done, ms);
            this.listeners.add(check);
        });
    }
}
