import { describe, expect, it } from 'vitest';
import { createPinoLogger, noopLogger } from '../../src/telemetry/index.js';

function collector() {
  const lines: Array<Record<string, unknown>> = [];
  return {
    lines,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  };
}

describe('logger', () => {
  it('writes one JSON object per line with the message, fields and level', () => {
    const { lines, destination } = collector();
    const log = createPinoLogger({ destination, name: 'garrison' });
    log.info('process started', { pid: 'p1', restarts: 0 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      name: 'garrison',
      msg: 'process started',
      pid: 'p1',
      restarts: 0,
    });
    expect(typeof lines[0]?.time).toBe('number');
    expect(lines[0]).not.toHaveProperty('hostname');
  });

  it('drops lines below the configured level', () => {
    const { lines, destination } = collector();
    const log = createPinoLogger({ destination, level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => l.msg)).toEqual(['w', 'e']);
  });

  it('child loggers add their bindings to every line, on top of the base bindings', () => {
    const { lines, destination } = collector();
    const log = createPinoLogger({ destination, base: { node: 'n1' } });
    log.child({ component: 'scheduler' }).child({ timer: 't9' }).warn('late timer');
    expect(lines[0]).toMatchObject({ node: 'n1', component: 'scheduler', timer: 't9', msg: 'late timer' });
  });

  it('serializes an error under err with its message and stack', () => {
    const { lines, destination } = collector();
    createPinoLogger({ destination }).error('handler crashed', { err: new Error('kaboom') });
    expect(lines[0]?.err).toMatchObject({ type: 'Error', message: 'kaboom' });
    expect((lines[0]?.err as { stack: string }).stack).toMatch(/kaboom/);
  });

  it('the no-op logger accepts everything and writes nothing', () => {
    expect(() => {
      noopLogger.info('x', { a: 1 });
      noopLogger.child({ b: 2 }).error('y');
    }).not.toThrow();
    expect(noopLogger.child({})).toBe(noopLogger);
  });
});
