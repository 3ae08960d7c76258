import { describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import { RunStats } from '../../src/fetch/stats.js';
import type { Fragment } from '../../src/manifest/fragment.js';

const fragment = (id: string, priority: Fragment['priority'] = 'normal'): Fragment => ({
  id,
  path: id,
  urls: [`https://cdn.example.com/m/${id}`],
  size: 1000,
  priority,
  importance: 0,
  index: 0,
});

describe('RunStats', () => {
  it('counts outcomes, bytes, hit rate, bandwidth and time to critical', () => {
    let now = 0;
    const stats = new RunStats(() => now);
    const [a, b, c] = [fragment('a', 'critical'), fragment('b', 'critical'), fragment('c')];
    stats.plan([a, b, c]);
    stats.cached(a, 1000);
    now = 100;
    stats.bytes('https://cdn.example.com/m/b', 500);
    now = 1100;
    stats.bytes('https://cdn.example.com/m/b', 1500);
    stats.request({ fragment: b, url: b.urls[0]!, status: 200, range: undefined, bytes: 2000, ms: 1000 });
    stats.downloaded(b, 2000, 300);
    now = 2000;
    stats.retry();
    stats.failed(
      c,
      new FragfetchError('EHTTP', 'GET x: HTTP 404', { status: 404, url: 'https://cdn.example.com/m/c' }),
    );
    const report = stats.report({ source: 'm.json', cacheDir: '/c', interrupted: false });
    expect(report.ok).toBe(false);
    expect(report.fragments).toEqual({
      total: 3,
      downloaded: 1,
      cached: 1,
      revalidated: 0,
      failed: 1,
      criticalFailed: 0,
    });
    expect(report.bytes).toEqual({
      total: 4000,
      downloaded: 2000,
      received: 2000,
      fromCache: 1000,
      resumed: 300,
    });
    expect(report.cache).toEqual({ dir: '/c', hits: 1, misses: 2, hitRate: 1 / 3 });
    expect(report.bandwidth.averageBytesPerSecond).toBe(2000);
    expect(report.bandwidth.peakBytesPerSecond).toBe(2000);
    expect(report.timeToCriticalMs).toBe(1100);
    expect(report.retries).toBe(1);
    expect(report.endpoints).toEqual([
      {
        url: 'https://cdn.example.com',
        requests: 1,
        bytes: 2000,
        errors: 0,
        averageBytesPerSecond: 2000,
        peakBytesPerSecond: 2000,
        state: 'healthy',
      },
    ]);
    expect(report.failures).toEqual([
      {
        id: 'c',
        path: 'c',
        url: 'https://cdn.example.com/m/c',
        error: { code: 'EHTTP', message: 'GET x: HTTP 404', status: 404 },
      },
    ]);
  });

  it('finds the peak over windows long enough for a bursty server (1 s at 2 MiB/s, 1 s idle)', () => {
    const MiB = 1024 * 1024;
    let now = 0;
    const stats = new RunStats(() => now);
    stats.plan([fragment('a')]);
    for (let tick = 1; tick <= 400; tick++) {
      now = tick * 50;
      if (Math.floor((now - 1) / 1000) % 2 === 0) stats.bytes('https://cdn.example.com/m/a', (2 * MiB) / 20);
    }
    const { bandwidth } = stats.report({ source: 'm.json', cacheDir: '/c', interrupted: false });
    // From the first byte to the last: 20 MiB in 19 s.
    expect(bandwidth.averageBytesPerSecond / MiB).toBeCloseTo(20 / 19, 2);
    expect(bandwidth.peakBytesPerSecond / MiB).toBeLessThan(1.25);
  });

  it('reports no critical time when a critical fragment failed, and counts it', () => {
    let now = 0;
    const stats = new RunStats(() => now);
    const [a, b] = [fragment('a', 'critical'), fragment('b', 'critical')];
    stats.plan([a, b]);
    now = 100;
    stats.downloaded(a, 1000, 0);
    now = 200;
    stats.failed(b, new FragfetchError('EHTTP', 'GET x: HTTP 404', { status: 404 }));
    const report = stats.report({ source: 'm.json', cacheDir: '/c', interrupted: false });
    expect(report.timeToCriticalMs).toBeNull();
    expect(report.fragments).toMatchObject({ failed: 1, criticalFailed: 1 });
  });

  it('reports no critical time when the manifest has no critical fragment', () => {
    const stats = new RunStats(() => 0);
    stats.plan([fragment('a')]);
    stats.cached(fragment('a'), 1);
    expect(stats.report({ source: 's', cacheDir: 'c', interrupted: true })).toMatchObject({
      ok: false,
      interrupted: true,
      timeToCriticalMs: null,
    });
  });
});
