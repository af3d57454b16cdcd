/**
 * `garrison status`: the store, the nodes and their heartbeats, counts of the work in the store, and the
 * work that waits for want of a node, a consumer or an agent.
 */
import { Command } from 'commander';
import { errorPausedAgents } from '../../agents/index.js';
import { parseNodeConfig } from '../../node/config.js';
import type { HeldCounts } from '../../node/held.js';
import { unconsumedWork } from '../../node/consumers.js';
import { listNodes } from '../../node/membership.js';
import { unservedWorkflow } from '../../node/serves.js';
import { createRegistry } from '../../registry/index.js';
import { systemClock } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import { createOutput } from '../output.js';
import { openExistingStore, storeOption } from '../store-option.js';
import { table, when } from '../table.js';

async function countBy(store: Store, sql: string): Promise<Record<string, number>> {
  const rows = await store.query<{ k: string; n: number | string }>(sql);
  return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
}

const line = (counts: Record<string, number>) =>
  Object.keys(counts).length === 0
    ? 'none'
    : Object.entries(counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');

/** `2 runs, 3 tasks, 1 lease`: what a node holds that others would wait for; `nothing` when free. */
function holds(h: HeldCounts | undefined): string | undefined {
  if (h === undefined) return undefined;
  const parts = [
    [h.workflowRuns, 'run'],
    [h.tasks, 'task'],
    [h.coordinationLeases, 'lease'],
    [h.agents, 'agent'],
    [h.timerClaims, 'timer'],
  ] as const;
  const text = parts
    .filter(([n]) => n > 0)
    .map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`)
    .join(', ');
  return text === '' ? 'nothing' : text;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show the store, the nodes and the work they hold')
    .addOption(storeOption())
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { store: string; json?: boolean }) => {
      const store = await openExistingStore(opts.store, { migrate: false });
      try {
        const status = await store.status();
        const ready = status.pending.length === 0;
        const config = parseNodeConfig({ store: opts.store });
        const nodes = ready ? await listNodes(store, systemClock.now(), config, { holdings: true }) : [];
        const workflows = ready
          ? await countBy(
              store,
              'SELECT status AS k, COUNT(*) AS n FROM garrison_workflow_runs GROUP BY status',
            )
          : {};
        const tasks = ready
          ? await countBy(store, 'SELECT state AS k, COUNT(*) AS n FROM garrison_tasks GROUP BY state')
          : {};
        const agents = ready
          ? await countBy(store, 'SELECT health AS k, COUNT(*) AS n FROM garrison_agents GROUP BY health')
          : {};
        // Unfinished runs of workflows no live node runs: they wait for a node that serves them.
        const unfinished = ready
          ? await store.query<{ name: string; n: number | string }>(
              "SELECT name, COUNT(*) AS n FROM garrison_workflow_runs WHERE status IN ('pending', 'running', 'sleeping', 'waiting') GROUP BY name ORDER BY name",
            )
          : [];
        const unserved = unfinished.flatMap(({ name, n }) => {
          const wait = unservedWorkflow(nodes, name);
          return wait === undefined ? [] : [{ workflow: name, runs: Number(n), ...wait }];
        });
        // Queued tasks no live node consumes, and capabilities parked dispatched steps want.
        const unconsumed = ready
          ? await unconsumedWork(store, {
              nodes: () => Promise.resolve(nodes),
              registry: createRegistry({ store, clock: systemClock }),
            })
          : { queues: [], capabilities: [] };
        // Agents that paused themselves after distinct tasks failed in a row: a warning, with the reason.
        const pausedByErrors = ready ? await errorPausedAgents(store) : [];
        const result = {
          store: status,
          nodes,
          workflows,
          tasks,
          agents,
          unserved,
          unconsumed,
          pausedByErrors,
        };
        createOutput(opts.json === true).result(result, () =>
          [
            `store: ${status.dialect} ${status.location}`,
            `schema version: ${status.version} of ${status.latest}` +
              (ready ? '' : ` (pending: ${status.pending.join(', ')}; run garrison migrate)`),
            `workflows: ${line(workflows)}`,
            `tasks: ${line(tasks)}`,
            `agents: ${line(agents)}`,
            ...pausedByErrors.map((p) => `warning: ${p.message}`),
            ...unserved.map((u) => `${u.message} (${u.runs} unfinished runs wait)`),
            ...unconsumed.queues.map((q) => `${q.message} (${q.tasks} queued tasks wait)`),
            ...unconsumed.capabilities.map(
              (c) =>
                `no healthy agent has the capability "${c.capability}" (${c.steps} dispatched steps wait)`,
            ),
            '',
            table(
              ['node', 'state', 'heartbeat', 'holds', 'health', 'processes', 'heap MiB', 'started'],
              nodes.map((n) => {
                const r = (n.info.resources ?? {}) as Record<string, { current: number; limit: number }>;
                const mib = (v: number | undefined) =>
                  v === undefined ? undefined : Math.round(v / 2 ** 20);
                return [
                  n.id,
                  n.state,
                  when(n.heartbeatAt),
                  holds(n.holds),
                  n.info.health,
                  r.processes ? `${r.processes.current}/${r.processes.limit}` : undefined,
                  r.heap_bytes ? `${mib(r.heap_bytes.current)}/${mib(r.heap_bytes.limit)}` : undefined,
                  when(n.startedAt),
                ];
              }),
            ),
          ].join('\n'),
        );
      } finally {
        await store.close();
      }
    });
}
