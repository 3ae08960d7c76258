import { describe, expect, it } from 'vitest';
import { EndpointGate } from '../../src/check/gate.js';
import type { Observation } from '../../src/check/types.js';

const answered: Observation = { method: 'GET', status: 404, durationMs: 1, attempts: 1, bytesRead: 0 };
const refused: Observation = {
  method: 'GET',
  durationMs: 1,
  attempts: 3,
  bytesRead: 0,
  error: { code: 'ENETWORK', message: 'unreachable: connection refused' },
};
const stalled: Observation = { ...refused, error: { code: 'ESTALL', message: 'stalled' } };

describe('EndpointGate', () => {
  it('closes when the first probe gets no answer', () => {
    const first = {};
    const gate = new EndpointGate(first);
    expect(gate.isFirst(first)).toBe(true);
    expect(gate.isFirst({})).toBe(false);
    gate.record(refused);
    gate.open();
    expect(gate.down).toEqual(refused.error);
  });

  it('stays open when the first probe got any answer, or a stall (headers came)', () => {
    for (const observation of [answered, stalled]) {
      const gate = new EndpointGate({});
      gate.record(observation);
      gate.open();
      expect(gate.down).toBeUndefined();
    }
  });

  it('later, closes after three no-answers in a row, not after scattered ones', async () => {
    const gate = new EndpointGate({});
    gate.record(answered);
    gate.open();
    await gate.ready;
    gate.record(refused);
    gate.record(refused);
    gate.record(answered);
    gate.record(refused);
    gate.record(refused);
    expect(gate.down).toBeUndefined();
    gate.record(refused);
    expect(gate.down).toEqual(refused.error);
  });
});
