/** Colour and terminal decisions (terminal.ts): chalk's FORCE_COLOR rules, plus NO_COLOR, per stream. */
import { describe, expect, it } from 'vitest';
import { colorLevel, isInteractive, widthOf } from '../../src/cli/terminal.js';

const tty = { write: () => true, isTTY: true, columns: 120, getColorDepth: () => 8 };
const pipe = { write: () => true };

describe('colorLevel', () => {
  it.each([
    ['a terminal', tty, {}, 2],
    ['a pipe', pipe, {}, 0],
    ['a dumb terminal', tty, { TERM: 'dumb' }, 0],
    ['NO_COLOR on a terminal', tty, { NO_COLOR: '1' }, 0],
    ['an empty NO_COLOR', tty, { NO_COLOR: '' }, 2],
    ['FORCE_COLOR in a pipe', pipe, { FORCE_COLOR: '1' }, 1],
    ['FORCE_COLOR=3 in a pipe', pipe, { FORCE_COLOR: '3' }, 3],
    ['an empty FORCE_COLOR', pipe, { FORCE_COLOR: '' }, 1],
    ['FORCE_COLOR=0 on a terminal', tty, { FORCE_COLOR: '0' }, 0],
    ['FORCE_COLOR=false on a terminal', tty, { FORCE_COLOR: 'false' }, 0],
    ['FORCE_COLOR over NO_COLOR, as chalk does', pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, 1],
  ])('%s', (_name, stream, env, level) => {
    expect(colorLevel(stream, env)).toBe(level);
  });
});

describe('isInteractive and widthOf', () => {
  it('redraws only on a terminal that is not dumb', () => {
    expect(isInteractive(tty, {})).toBe(true);
    expect(isInteractive(tty, { TERM: 'dumb' })).toBe(false);
    expect(isInteractive(pipe, {})).toBe(false);
  });

  it("takes the terminal's width, else $COLUMNS, else 80", () => {
    expect(widthOf(tty, { COLUMNS: '50' })).toBe(120);
    expect(widthOf(pipe, { COLUMNS: '50' })).toBe(50);
    expect(widthOf(pipe, { COLUMNS: 'wide' })).toBe(80);
    expect(widthOf({ ...tty, columns: 0 }, {})).toBe(80);
  });
});
