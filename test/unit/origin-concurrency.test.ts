import { describe, expect, it } from 'vitest';
import { OriginConcurrency } from '../../src/fetch/origin-concurrency.js';

const A = 'https://a.example/m/x.bin';
const B = 'https://b.example/m/y.bin';

describe('OriginConcurrency', () => {
  it('is `initial` before any origin is used, then the largest limit of those used', () => {
    const control = new OriginConcurrency({ initial: 16, max: 64 });
    expect(control.total).toBe(16);
    control.bytes(A, 100);
    expect(control.total).toBe(16);
    expect(control.limitOf(B)).toBe(16);
    expect(control.total).toBe(16);
    expect(control.limits()).toEqual(
      new Map([
        ['https://a.example', 16],
        ['https://b.example', 16],
      ]),
    );
  });

  it('halves only the origin that said it is overloaded', () => {
    let t = 0;
    const control = new OriginConcurrency({ initial: 16, max: 64, now: () => t });
    control.ended(A, false, true, 10);
    control.ended(B, false, true, 10);
    t += 1000;
    control.ended(A, true, true, 10);
    expect(control.limitOf(A)).toBe(8);
    expect(control.limitOf(B)).toBe(16);
    // The run's slots: the largest limit, so that the pool, not the slot count, spreads the work.
    expect(control.total).toBe(16);
    t += 1000;
    control.ended(B, true, true, 10);
    expect(control.total).toBe(8);
  });
});
