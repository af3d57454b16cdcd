/**
 * Durable agent loops: what the journal adds to each model call and each tool call of `runAgent`, on
 * SQLite (a file, synchronous=FULL: a commit waits for fsync; and NORMAL, WAL: durable across process
 * crashes, not power loss — the journaling's own cost) and PostgreSQL, with a mock model that answers at once. The same
 * 10-tool-turn conversation runs through `runAgent` in a workflow and through a bare in-memory loop doing
 * the same SDK work (no journal); per call, the time from the model being asked to its tool starting
 * (the reply journaled and its tokens recorded) and from a tool ending to the next model call (the tool's
 * result journaled) is sampled, and the bare loop's p50 subtracted.
 *
 *   npx tsx bench/ai.bench.ts            (PostgreSQL: DATABASE_URL, or an embedded server)
 *   npm run bench -- --only ai
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateText, tool, type ModelMessage } from 'ai';
import { z } from 'zod';
import { defineAction } from '../src/agents/index.js';
import { actionTool, runAgent } from '../src/ai/index.js';
import { toolMessage, type AgentToolResult } from '../src/ai/turns.js';
import { openStore, type Store } from '../src/store/index.js';
import { createWorkflowEngine, defineWorkflow } from '../src/work/workflow/index.js';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';
import { countingModel } from '../test/ai/fixtures/counting-model.js';
import { latencySummary } from './peers-workflows.js';

export interface BenchContext {
  readonly postgresUrl: string;
}

const TOOL_TURNS = 10;
const LOOPS: Record<'sqlite' | 'postgres', number> = { sqlite: 100, postgres: 60 };
const WARM_UP = 10;

/** When each model call and each tool call of one loop started and ended (performance.now()). */
interface Marks {
  model: number[];
  toolStart: number[];
  toolEnd: number[];
}

/** Per call: model asked → its tool starts (A), tool ends → next model asked (B). */
function intervals(m: Marks): { a: number[]; b: number[] } {
  const a: number[] = [];
  const b: number[] = [];
  for (let t = 0; t < TOOL_TURNS; t++) {
    a.push(m.toolStart[t]! - m.model[t]!);
    b.push(m.model[t + 1]! - m.toolEnd[t]!);
  }
  return { a, b };
}

function instrumented(marks: () => Marks) {
  const model = countingModel({
    toolTurns: TOOL_TURNS,
    onCall: () => {
      marks().model.push(performance.now());
    },
  });
  const square = defineAction({
    name: 'square',
    description: 'squares a number',
    input: z.object({ n: z.number().int() }),
    output: z.object({ value: z.number() }),
    run: (_ctx, { n }) => {
      marks().toolStart.push(performance.now());
      const out = { value: n * n };
      marks().toolEnd.push(performance.now());
      return out;
    },
  });
  return { model, square };
}

/** The same conversation with no journal: the SDK call, the tool, the tool message. */
async function bareLoop(marks: Marks): Promise<void> {
  const { model, square } = instrumented(() => marks);
  const tools = { square: tool({ description: 'squares a number', inputSchema: square.inputSchema }) };
  const messages: ModelMessage[] = [{ role: 'user', content: 'Sum the squares of 0 to 9.' }];
  for (;;) {
    const r = await generateText({ model, messages, tools });
    messages.push(...r.response.messages.filter((m) => m.role !== 'tool'));
    if (r.toolCalls.length === 0) return;
    const results: AgentToolResult[] = [];
    for (const c of r.toolCalls) {
      const output = await square.run(
        {
          agentId: 'bare',
          agentType: 'bench',
          state: undefined as never,
          now: Date.now(),
          signal: new AbortController().signal,
          task: undefined,
          idempotencyKey: c.toolCallId,
          registry: undefined as never,
        },
        square.parseInput(c.input),
      );
      results.push({ toolCallId: c.toolCallId, toolName: c.toolName, ok: true, output });
    }
    messages.push(toolMessage(results));
  }
}

interface Figures {
  modelP50: number;
  modelP99: number;
  toolP50: number;
  toolP99: number;
}

function figures(samples: Marks[]): Figures {
  const all = samples.map(intervals);
  const a = latencySummary(all.flatMap((x) => x.a));
  const b = latencySummary(all.flatMap((x) => x.b));
  return { modelP50: a.p50 ?? NaN, modelP99: a.p99 ?? NaN, toolP50: b.p50 ?? NaN, toolP99: b.p99 ?? NaN };
}

async function bare(loops: number): Promise<Figures> {
  const samples: Marks[] = [];
  for (let i = 0; i < loops + WARM_UP; i++) {
    const marks: Marks = { model: [], toolStart: [], toolEnd: [] };
    await bareLoop(marks);
    if (i >= WARM_UP) samples.push(marks);
  }
  return figures(samples);
}

async function journaled(store: Store, loops: number): Promise<Figures> {
  let marks: Marks = { model: [], toolStart: [], toolEnd: [] };
  const { model, square } = instrumented(() => marks);
  const wf = defineWorkflow('bench-agent', (ctx) =>
    runAgent(ctx, { model, prompt: 'Sum the squares of 0 to 9.', tools: { square: actionTool(square) } }),
  );
  const engine = createWorkflowEngine({ store, nodeId: 'bench' });
  engine.register(wf);
  const samples: Marks[] = [];
  try {
    for (let i = 0; i < loops + WARM_UP; i++) {
      marks = { model: [], toolStart: [], toolEnd: [] };
      await (await engine.start(wf, null)).result();
      if (i >= WARM_UP) samples.push(marks);
    }
  } finally {
    await engine.stop();
  }
  return figures(samples);
}

async function onSqlite(synchronous: 'FULL' | 'NORMAL'): Promise<Figures> {
  const folder = mkdtempSync(join(tmpdir(), 'garrison-bench-ai-'));
  const sqlite = await openStore(`sqlite:${join(folder, 'bench.db')}`, { synchronous });
  try {
    return await journaled(sqlite, LOOPS.sqlite);
  } finally {
    await sqlite.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

function added(prefix: string, j: Figures, b: Figures): Record<string, number> {
  return {
    [`${prefix}ModelCallAddedP50Ms`]: j.modelP50 - b.modelP50,
    [`${prefix}ModelCallAddedP99Ms`]: j.modelP99 - b.modelP50,
    [`${prefix}ToolCallAddedP50Ms`]: j.toolP50 - b.toolP50,
    [`${prefix}ToolCallAddedP99Ms`]: j.toolP99 - b.toolP50,
  };
}

export async function run(context: BenchContext): Promise<Record<string, number>> {
  const base = await bare(LOOPS.sqlite);
  const s = await onSqlite('FULL');
  const n = await onSqlite('NORMAL');
  const url = new URL(context.postgresUrl);
  url.searchParams.set('schema', `bench_ai_${randomBytes(4).toString('hex')}`);
  const pg = await openStore(url.toString());
  let p: Figures;
  try {
    p = await journaled(pg, LOOPS.postgres);
  } finally {
    await pg.close();
  }
  return {
    bareModelCallP50Ms: base.modelP50,
    bareToolCallP50Ms: base.toolP50,
    ...added('sqlite', s, base),
    ...added('sqliteNormal', n, base),
    ...added('postgres', p, base),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let postgresUrl = process.env.DATABASE_URL ?? '';
  const server = postgresUrl === '' ? await startEmbeddedPostgres() : undefined;
  if (server !== undefined) postgresUrl = server.url;
  try {
    const figures = await run({ postgresUrl });
    for (const [key, value] of Object.entries(figures)) {
      process.stdout.write(`ai.${key}: ${Math.round(value * 1000) / 1000}\n`);
    }
  } finally {
    await server?.stop();
  }
}
