/** The command tree: a command line builds its own command only; help and mistakes see every one. */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { cli, COMMANDS as ALL } from './support.js';

describe('the command tree', () => {
  it('a command line naming a command holds that command alone; no command, or an unknown one, holds every one', async () => {
    expect((await buildProgram(['tasks', 'list'])).commands.map((c) => c.name())).toEqual(['tasks']);
    expect((await buildProgram(['migrate'])).commands.map((c) => c.name())).toEqual(['migrate']);
    expect((await buildProgram([])).commands.map((c) => c.name())).toEqual(ALL);
    expect((await buildProgram(['--help'])).commands.map((c) => c.name())).toEqual(ALL);
    expect((await buildProgram(['task'])).commands.map((c) => c.name())).toEqual(ALL);
  });

  it('the help lists every command, and a mistyped command is refused with the likely one', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const name of ALL) expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    const typo = await cli('workflow', 'list');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^garrison: unknown command 'workflow'/m);
    expect(typo.stderr).toMatch(/Did you mean workflows\?/);
  });
});
