/**
 * `garrison demo`: the original system's main job. A node with a team of agents (validators,
 * processors, reporters) runs N order workflows whose steps are dispatched by capability; some orders
 * hit a flaky payment service behind a circuit breaker and retries. Everything is in the store: a run
 * killed at any moment is finished by `--resume`.
 */
import { loadApp, startApp } from '../../app/index.js';
import { systemClock } from '../../runtime/index.js';
import { sleep } from '../../resilience/index.js';
import { openStore, type Store } from '../../store/index.js';
import { MAX_BATCH } from '../../work/workflow/index.js';
import { DEMO_APP } from '../node-runner.js';
import { renderProgress, type ProgressView, type ProgressWriter } from './progress.js';
import { readSummary, type DemoSummary } from './summary.js';
import { orderWorkflow } from './workflows.js';

export interface DemoSettings {
  readonly store: string;
  readonly workflows: number;
  /** Agents per capability. */
  readonly agents: number;
  readonly resume: boolean;
}

/** The node name of the demo: a restarted demo takes its own runs, agents and leases back at once. */
export const DEMO_NODE = 'demo-node';
const TICK_MS = 100;

async function runningCount(store: Store): Promise<number> {
  const rows = await store.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM garrison_workflow_runs WHERE name = $1 AND status IN ('running', 'waiting', 'sleeping')",
    [orderWorkflow.name],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Watches the store until every demo workflow in it has finished. */
export async function watchUntilDone(
  store: Store,
  agents: number,
  started: number,
  progress: ProgressWriter,
  extra: () => Partial<Pick<ProgressView, 'breaker' | 'note'>> = () => ({}),
  shouldStop: (summary: DemoSummary) => boolean = () => false,
  /** Workflows expected in the store before "done" counts (another process may still be submitting). */
  expectTotal = 0,
  /** Only runs whose id starts with this (one batch). */
  idPrefix = '',
): Promise<DemoSummary> {
  for (;;) {
    const summary = await readSummary(
      store,
      orderWorkflow.name,
      agents,
      systemClock.now() - started,
      idPrefix,
    );
    progress.frame(renderProgress({ summary, running: await runningCount(store), ...extra() }));
    if (shouldStop(summary)) return summary;
    if (summary.workflows.unfinished === 0 && summary.workflows.total >= expectTotal) return summary;
    await sleep(systemClock, TICK_MS);
  }
}

/** Runs the demo in this process and answers the summary of every demo workflow in the store. */
export async function runDemo(settings: DemoSettings, progress: ProgressWriter): Promise<DemoSummary> {
  const started = systemClock.now();
  // A fresh run reports on its own batch; a resumed one on every demo workflow in the store.
  const batch = settings.resume ? '' : `order-${started.toString(36)}-`;
  const store = await openStore(settings.store);
  try {
    // The demo application, loaded as any application is (`--app`).
    const running = await startApp(await loadApp(DEMO_APP), {
      store,
      // Short task leases: after a crash, the work of the dead process is taken back within seconds.
      config: { store: settings.store, nodeName: DEMO_NODE, tasks: { leaseMs: 2000 } },
      agentsPerType: settings.agents,
      // Submitted before the team starts: every run is durable before any step runs.
      beforeStart: async (node) => {
        if (settings.resume) return;
        // One batch, one transaction (a batch holds at most MAX_BATCH runs): all of them or none;
        // idempotent by id, so it may be sent again.
        for (let from = 0; from < settings.workflows; from += MAX_BATCH) {
          const count = Math.min(MAX_BATCH, settings.workflows - from);
          await node.workflows.startMany(
            Array.from({ length: count }, (_, k) => {
              const i = from + k;
              return {
                workflow: orderWorkflow,
                input: { n: i, amountCents: 100 + ((i * 37) % 900), flaky: i % 10 === 3 },
                workflowId: `${batch}${String(i).padStart(4, '0')}`,
              };
            }),
          );
        }
      },
    });
    const breakers = running.node.breakers;
    try {
      const total = settings.agents * 3;
      return await watchUntilDone(
        store,
        total,
        started,
        progress,
        () => {
          const status = breakers.find('payments')?.status();
          return status === undefined
            ? {}
            : {
                breaker: {
                  state: status.state,
                  rejected: status.totals.rejections,
                  failures: status.totals.failures,
                },
              };
        },
        () => false,
        0,
        batch,
      );
    } finally {
      await running.stop();
    }
  } finally {
    await store.close();
  }
}
