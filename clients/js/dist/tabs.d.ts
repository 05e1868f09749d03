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
export type TabMessage = {
    type: 'tokens';
    accessToken: string;
    expiresAt: number;
    issuedAt: number;
} | {
    type: 'signedOut';
    reason: string;
} | {
    type: 'refreshing';
    until: number;
};
/** The part of BroadcastChannel used here. */
export interface Channel {
    postMessage(message: TabMessage): void;
    close(): void;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
}
/** The part of the Web Locks API used here (`lock` is null when `ifAvailable` found it held). */
export interface Locks {
    request<T>(name: string, options: {
        signal?: AbortSignal;
        ifAvailable?: boolean;
    }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}
export interface Clock {
    now(): number;
    setTimeout(callback: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
}
export interface TabsOptions {
    channel: Channel | null;
    locks: Locks | null;
    lockName: string;
    lockTimeoutMs: number;
    clock: Clock;
}
export declare class Tabs {
    private readonly options;
    private readonly onMessage;
    private othersRefreshingUntil;
    private readonly listeners;
    constructor(options: TabsOptions, onMessage: (message: TabMessage) => void);
    post(message: TabMessage): void;
    close(): void;
    /**
     * Runs `task` as the only refreshing tab, as far as the browser allows; returns
     * without running it when `satisfied()` turns true while waiting (another tab's
     * result arrived). Waits at most `lockTimeoutMs` for the other tab.
     */
    exclusive(task: () => Promise<void>, satisfied: () => boolean): Promise<void>;
    private receive;
    /** Resolves when `condition()` holds after a message, or after `ms`. */
    private until;
}
