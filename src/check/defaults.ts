/** A check's defaults, apart from its code so that the CLI's help does not load it. */
export const checkDefaults = { concurrency: 16, retries: 2, timeoutMs: 10_000, baseDelayMs: 200 } as const;
