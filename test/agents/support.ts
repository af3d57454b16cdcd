/** Helpers shared by the agents tests: a host on a fresh store with a virtual clock, and small agents. */
import { z } from 'zod';
import {
  createAgentHost,
  defineAction,
  defineAgent,
  directive,
  withDirectives,
  type ActionContext,
  type AgentEvents,
  type AgentHost,
  type AgentHostOptions,
} from '../../src/agents/index.js';
import { GarrisonError, PermanentError } from '../../src/errors.js';
import { createRegistry, type AgentRegistry } from '../../src/registry/index.js';
import { createRuntime, VirtualClock, type Runtime } from '../../src/runtime/index.js';
import type { Store } from '../../src/store/index.js';
import { createQueueClient, type QueueClient } from '../../src/work/index.js';
import type { TestAdapter } from '../support/stores.js';

export interface Recorded {
  readonly name: keyof AgentEvents;
  readonly payload: AgentEvents[keyof AgentEvents];
}

/** An event sink that keeps everything. */
export function recorder() {
  const all: Recorded[] = [];
  const self = {
    all,
    /** Called with every event as it is emitted (to act at a precise moment). */
    hook: undefined as ((name: keyof AgentEvents, payload: unknown) => void) | undefined,
    emit<K extends keyof AgentEvents>(name: K, payload: AgentEvents[K]) {
      all.push({ name, payload });
      self.hook?.(name, payload);
    },
    of<K extends keyof AgentEvents>(name: K): AgentEvents[K][] {
      return all.filter((e) => e.name === name).map((e) => e.payload as AgentEvents[K]);
    },
  };
  return self;
}

export interface Fixture {
  readonly store: Store;
  readonly clock: VirtualClock;
  readonly runtime: Runtime;
  readonly registry: AgentRegistry;
  readonly queues: QueueClient;
  readonly events: ReturnType<typeof recorder>;
  host: AgentHost;
  /** Creates another host on the same store, runtime and node (a node restarting). */
  reopen(options?: Partial<AgentHostOptions>): Promise<AgentHost>;
  close(): Promise<void>;
}

export async function openFixture(
  adapter: TestAdapter,
  options: Partial<AgentHostOptions> = {},
): Promise<Fixture> {
  const store = await adapter.open();
  const clock = new VirtualClock();
  const runtime = createRuntime({ clock });
  const registry = createRegistry({ store, clock });
  const queues = createQueueClient({ store, clock });
  const events = recorder();
  const base = { store, runtime, registry, queues, clock, nodeId: 'node-a', events };
  const fixture: Fixture = {
    store,
    clock,
    runtime,
    registry,
    queues,
    events,
    host: await createAgentHost({ ...base, ...options }),
    async reopen(more = {}) {
      fixture.host = await createAgentHost({ ...base, ...options, ...more });
      return fixture.host;
    },
    async close() {
      await fixture.host.shutdown();
      await runtime.shutdown();
      await store.close();
    },
  };
  return fixture;
}

/**
 * Waits until `check` holds, looking again after each bit of real I/O; fails with `what` when it never
 * does. A guard against hanging, not a measure of speed.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 3000,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, i < 50 ? 1 : 10));
  }
  throw new Error(`never happened: ${what}`);
}

/** A promise with its resolver, for actions the test releases by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export const counterState = z.object({ count: z.number().int(), log: z.array(z.string()) });
export type Counter = z.infer<typeof counterState>;

/** What the test agents' actions record, outside the store (to see what ran, and in what order). */
export interface Journal {
  readonly ran: string[];
  /** When set, `work` waits for it before it finishes. */
  hold: Promise<void> | undefined;
  /** Called when `work` starts. */
  onWork: ((label: string) => void) | undefined;
}

export function newJournal(): Journal {
  return { ran: [], hold: undefined, onWork: undefined };
}

/** A counter agent with actions that succeed, fail, misbehave and wait. */
export function counterAgent(journal: Journal = newJournal(), type = 'counter') {
  const increment = defineAction({
    name: 'increment',
    input: z.object({ by: z.number().int() }),
    output: z.object({ count: z.number().int() }),
    run: (ctx: ActionContext<Counter>, { by }) => {
      journal.ran.push(`increment:${by}`);
      const count = ctx.state.count + by;
      return withDirectives({ count }, directive.setState({ count, log: [...ctx.state.log, `+${by}`] }));
    },
  });
  const work = defineAction({
    name: 'work',
    input: z.object({ label: z.string() }),
    output: z.object({ label: z.string() }),
    run: async (ctx: ActionContext<Counter>, { label }) => {
      journal.onWork?.(label);
      if (journal.hold !== undefined) await journal.hold;
      journal.ran.push(label);
      return withDirectives({ label }, directive.setState({ ...ctx.state, log: [...ctx.state.log, label] }));
    },
  });
  const fail = defineAction({
    name: 'fail',
    input: z.object({ message: z.string().default('boom') }),
    output: z.null(),
    run: (_ctx, { message }) => {
      journal.ran.push(`fail:${message}`);
      throw new PermanentError(message); // fails at once: no retry
    },
  });
  const badOutput = defineAction({
    name: 'bad_output',
    input: z.object({}),
    output: z.object({ count: z.number() }),
    run: () =>
      withDirectives(
        { count: 'many' } as unknown as { count: number },
        directive.setState({ count: 99, log: [] }),
      ),
  });
  const badState = defineAction({
    name: 'bad_state',
    input: z.object({}),
    output: z.null(),
    run: () => withDirectives(null, directive.setState({ count: 'x' })),
  });
  const read = defineAction({
    name: 'read',
    input: z.object({}),
    output: z.object({ count: z.number().int() }),
    readOnly: true,
    run: (ctx: ActionContext<Counter>) => ({ count: ctx.state.count }),
  });
  const followUp = defineAction({
    name: 'follow_up',
    input: z.object({ to: z.string().optional(), labels: z.array(z.string()) }),
    output: z.object({ queued: z.number() }),
    run: (ctx: ActionContext<Counter>, { to, labels }) =>
      withDirectives(
        { queued: labels.length },
        directive.setState({ ...ctx.state, count: ctx.state.count + 1 }),
        ...labels.map((label) =>
          directive.enqueue('work', { label }, to === undefined ? {} : { agentId: to }),
        ),
        directive.emit('counter.followed_up', { labels }),
      ),
  });
  const flaky = defineAction({
    name: 'flaky',
    input: z.object({ failures: z.number().int(), retryable: z.boolean() }),
    output: z.object({ attempt: z.number().int() }),
    run: (ctx, { failures, retryable }) => {
      const attempt = ctx.task?.attempt ?? 0;
      journal.ran.push(`flaky:${attempt}`);
      if (attempt <= failures)
        throw new GarrisonError('service_unavailable', `attempt ${attempt} failed`, { retryable });
      return { attempt };
    },
  });
  return defineAgent({
    type,
    capabilities: ['counting', 'work'],
    state: counterState,
    initialState: { count: 0, log: [] },
    actions: [increment, work, fail, badOutput, badState, read, followUp, flaky],
  });
}

/** Rows of a queue in a state. */
export async function queueLabels(queues: QueueClient, queue: string): Promise<string[]> {
  const tasks = await queues.listTasks({ queue, states: ['queued'] });
  return tasks
    .sort((a, b) => b.priority - a.priority || a.id - b.id)
    .map((t) => (t.payload as { input: { label: string } }).input.label);
}
