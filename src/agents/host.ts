/**
 * The agent host: runs agents on one node. Each running agent is a process under the host's
 * `DynamicSupervisor`, registered in the registry with its capabilities, node and process; its state,
 * status and counters are rows in the store, checkpointed on every change and reloaded by every new
 * process; its work waits in its own durable queue. When the host is created it resumes the agents
 * recorded as running on its node — after `kill -9` as after a clean shutdown.
 */
import { randomBytes } from 'node:crypto';
import { isGarrisonError } from '../errors.js';
import { createDurableDelivery } from '../messaging/index.js';
import { DynamicSupervisor, formatReason, isRuntimeError, type Pid } from '../runtime/index.js';
import type { EnqueuedTask } from '../work/index.js';
import { agentBehaviour, RunActionRequest } from './agent-process.js';
import type { AgentDefinition } from './agent.js';
import { TaskConsumer } from './consumer.js';
import { changePause, ControlWatch, type ControlHost } from './control.js';
import { checkWork, enqueueForAgent, type AgentEnqueueOptions } from './enqueue.js';
import {
  AgentError,
  AgentErrorCode,
  agentNotFound,
  agentNotRunning,
  agentPaused,
  unknownAction,
} from './errors.js';
import { broadcast, type BroadcastAnswer, type BroadcastOptions } from './broadcast.js';
import { emitter, type HostCore } from './host-core.js';
import {
  parseAgentId,
  parseText,
  parseTimeout,
  resolveHostOptions,
  resolveStartOptions,
  type AgentHostOptions,
  type StartAgentOptions,
} from './host-options.js';
import { Hosted } from './hosted.js';
import { toInfo, type AgentInfo } from './info.js';
import { endAgent, watchProcess, type LinkContext } from './linking.js';
import { agentQueueName } from './queue-name.js';
import { removeEntry } from './registry-sync.js';
import { hostSchedules, type AgentSchedules } from './host-schedules.js';
import { handleScheduleFirings } from './schedule-firing.js';
import { dropSchedules } from './schedules.js';
import { RemoteCalls } from './remote-call.js';
import { selectByNode, selectRow, setLifecycle, type AgentRow } from './rows.js';
import { openRow } from './start-row.js';
import type { RunOutcome } from './run-action.js';
import { sendSignal, type AgentSignalInput, type AgentSignalOptions, type SignalReceipt } from './signals.js';

export interface AgentHost {
  readonly nodeId: string;
  /** Ids of the agents resumed when the host was created. */
  readonly resumed: readonly string[];
  /**
   * Starts an agent (or starts again a stopped or exited one, with its stored state). Resolves once its
   * process runs and it is registered. Fails with `agent_running`, `agent_running_elsewhere`,
   * `invalid_state`, `agent_start_failed` or `invalid_input`.
   */
  start<S>(definition: AgentDefinition<S>, options?: StartAgentOptions<S>): Promise<AgentInfo>;
  /** Stops an agent for good: its running task finishes, its process ends, its registry entry goes. */
  stop(id: string): Promise<void>;
  /**
   * Runs an action now and answers its output once its checkpoint has committed. Fails with
   * `invalid_input` (before anything runs), `unknown_action`, `agent_paused`, `agent_not_running`,
   * `action_failed`, `invalid_output`, `invalid_state` or a refused directive's error. An agent that
   * runs on another node is called through the store: the call is a task at the top of its queue, and
   * its outcome comes back from the store; past `timeoutMs` (default 5000) it fails with `call_timeout`
   * (see `details.state`), and `queue_full` when its queue is full.
   */
  call<O = unknown>(
    id: string,
    action: string,
    input?: unknown,
    options?: { readonly timeoutMs?: number },
  ): Promise<O>;
  /**
   * Queues an action for the agent (higher priority first). Fails with `invalid_input`,
   * `unknown_action`, `agent_not_found`, `agent_paused` or `queue_full`; nothing is queued then.
   */
  enqueue(id: string, action: string, input: unknown, options?: AgentEnqueueOptions): Promise<EnqueuedTask>;
  /**
   * Calls `action` on every healthy agent with `capability` (as the registry has them now), each with
   * `call`, and gathers `{ agent, ok, value | error }` per agent. Fails only with `invalid_input`,
   * `no_capable_agent` (nobody to call, no quorum asked) or `quorum_not_met` (fewer successes than
   * `options.quorum`). See docs/agents.md, "Broadcast by capability".
   */
  broadcast(
    capability: string,
    action: string,
    input: unknown,
    options?: BroadcastOptions,
  ): Promise<BroadcastAnswer[]>;
  /**
   * Sends a signal (CloudEvents-shaped) to the agent, wherever it runs: committed to its queue before
   * this resolves, handled at least once by the action its definition routes the type to, acknowledged
   * when that action's checkpoint commits. Queued also while the agent is paused (handled after it
   * resumes). Fails with `invalid_input`, `unknown_signal` (when this host knows the agent's type),
   * `agent_not_found` or `queue_full`; nothing is queued then.
   */
  signal(id: string, signal: AgentSignalInput, options?: AgentSignalOptions): Promise<SignalReceipt>;
  /**
   * Pauses the agent (durably): it refuses new work, finishes the task it runs, and shows `unhealthy`.
   * `reason` (1–200 chars) is recorded; default `manual`. It works from any host: the host that runs
   * the agent is woken through the store and follows.
   */
  pause(id: string, reason?: string): Promise<AgentInfo>;
  /** Resumes a paused agent: its error streak is reset and it takes work again. */
  resume(id: string): Promise<AgentInfo>;
  /** The agent as committed. Fails with `agent_not_found`. */
  get(id: string): Promise<AgentInfo>;
  /** The agent's state as last checkpointed. */
  state<S = unknown>(id: string): Promise<S>;
  /** Agents recorded on this node (any lifecycle), by id. */
  list(): Promise<AgentInfo[]>;
  /** The live process of an agent this host runs. */
  pidOf(id: string): Pid | undefined;
  /**
   * The agent's schedules, wherever it runs (docs/agents.md, "Schedules"): list them, run one now,
   * pause, resume, change its timing (`everyMs` or `cron`) or remove it. Each change is one store
   * transaction with its audit event, kept across restarts; `schedule_not_found`, `agent_not_found`,
   * `agent_paused` (run) or `invalid_input` change nothing.
   */
  readonly schedules: AgentSchedules;
  /**
   * Stops every agent and the supervisor. The agents stay recorded as running, so the next host of
   * this node resumes them; their registry entries are removed meanwhile. Their consumers stop taking
   * tasks at once; a running task gets up to `timeoutMs` (default 10 s) to finish, then its lease is
   * given back to its queue. A second call waits for the first.
   */
  shutdown(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/** Creates a host, starts its supervisor, and resumes this node's agents. */
export async function createAgentHost(options: AgentHostOptions): Promise<AgentHost> {
  const o = resolveHostOptions(options);
  const { store, runtime, registry, queues } = options;
  const clock = options.clock ?? runtime.clock;
  const nodeId = o.nodeId;
  const instance = randomBytes(4).toString('hex');
  const definitions = new Map<string, AgentDefinition>();
  for (const d of options.definitions ?? []) definitions.set(d.type, d);
  const hosts = new Map<string, Hosted>();
  const background = new Set<Promise<unknown>>();
  let closing = false;
  let shuttingDown: Promise<void> | undefined;
  let down: string | undefined;
  const distributor = options.distributor;
  const resumed: string[] = [];
  const delivery = options.delivery ?? createDurableDelivery({ store, clock, nodeId });

  const core: HostCore = {
    store,
    runtime,
    registry,
    queues,
    clock,
    nodeId,
    scheduler: options.scheduler,
    leaseMs: o.leaseMs,
    maxAttempts: o.maxAttempts,
    pollIntervalMs: o.pollIntervalMs ?? (store.capabilities.notify ? 30_000 : 1_000),
    delivery,
    // Called by agents' processes, which start after the watch exists.
    recheck: (agentId) => control.recheck(agentId),
    // `host` is defined below; a broadcast runs only once the host is up.
    broadcast: (capability, action, input, options) =>
      broadcast(registry, (id, a, i, t) => host.call(id, a, i, t), capability, action, input, options),
    processIdOf: (pid) => `${nodeId}/${instance}/${pid.id}`,
    definitionOf: (agentId) => hosts.get(agentId)?.def,
    settle:
      distributor === undefined
        ? undefined
        : async (payload, outcome) => {
            if (distributor.isDispatched(payload)) await distributor.settle(payload, outcome);
          },
    attempted:
      distributor?.attempted === undefined
        ? undefined
        : async (payload, attempt) => {
            if (distributor.isDispatched(payload)) await distributor.attempted?.(payload, attempt);
          },
    emit: emitter(options.events),
    taskEvents: options.taskEvents,
    track(agentId, operation, work) {
      const p = work.then(
        () => undefined,
        (error: unknown) => core.emit('agent.error', { agentId, operation, error }),
      );
      background.add(p);
      void p.finally(() => background.delete(p));
    },
  };

  const supervisor = await DynamicSupervisor.start(
    runtime,
    { id: `agents@${nodeId}`, ...o.supervisor },
    { name: `garrison.agents:${nodeId}:${instance}` },
  );
  const link: LinkContext = {
    core,
    supervisorAlive: () => runtime.isAlive(supervisor.ref),
    closing: () => closing,
    forget: (hosted) => {
      if (hosts.get(hosted.id) === hosted) hosts.delete(hosted.id);
    },
  };
  runtime.monitor(
    supervisor.ref,
    (d) => {
      if (closing) return;
      // The supervisor gave up (or was stopped from outside): none of its agents will be restarted.
      down = formatReason(d.reason);
      for (const hosted of [...hosts.values()]) endAgent(link, hosted, `supervisor exited (${down})`);
    },
    { label: `agent host ${nodeId}` },
  );

  const assertUp = () => {
    if (closing || down !== undefined)
      throw new AgentError(
        AgentErrorCode.hostStopped,
        `the agent host of node ${nodeId} is not running${down === undefined ? '' : `: its supervisor exited (${down})`}`,
      );
  };

  const hostedOf = (id: string): Hosted => {
    const hosted = hosts.get(id);
    if (hosted === undefined) throw agentNotRunning(id, `this host (node ${nodeId}) does not run it`);
    return hosted;
  };

  const info = async (row: AgentRow): Promise<AgentInfo> =>
    toInfo(row, await queues.stats(agentQueueName(row.id)), hosts.get(row.id)?.pid !== undefined);

  const readRow = async (id: string): Promise<AgentRow> => {
    const row = await selectRow(store, id);
    if (row === undefined) throw agentNotFound(id);
    return row;
  };

  const startConsumer = (hosted: Hosted) => {
    if (hosted.consumer !== undefined) return;
    const consumer = new TaskConsumer(core, hosted);
    hosted.consumer = consumer;
    consumer.start(hosted.consumerStopped);
  };

  const controlHost: ControlHost = {
    core,
    hosted: (id) => hosts.get(id),
    startConsumer,
    // `host` is defined below; this runs only once the host is up.
    stop: (id) => host.stop(id),
  };
  const remote = new RemoteCalls(core, instance);

  /**
   * Pauses or resumes in the store (and the registry) without waiting for the agent's process, which
   * may be busy with a long task: the process re-reads its row after the task, and the consumer stops
   * (or starts) taking tasks — here, or on the node that runs the agent, woken through the store.
   */
  const setPausedBy = async (id: string, pause: { reason: string } | undefined): Promise<AgentInfo> => {
    const { row, changed } = await changePause(controlHost, id, pause);
    if (changed) {
      if (pause !== undefined) core.emit('agent.paused', { agentId: id, reason: pause.reason });
      else core.emit('agent.resumed', { agentId: id });
    }
    return info(row);
  };

  const host: AgentHost = {
    nodeId,
    resumed,

    async start<S>(definition: AgentDefinition<S>, startOptions: StartAgentOptions<S> = {}) {
      assertUp();
      const so = resolveStartOptions(startOptions);
      const id = so.id ?? `${definition.type}-${randomBytes(4).toString('hex')}`;
      if (hosts.has(id))
        throw new AgentError(AgentErrorCode.agentRunning, `this host already runs agent ${id}`, {
          details: { agentId: id },
        });
      const initial =
        so.initialState === undefined
          ? undefined
          : definition.parseState(so.initialState, 'the initial state');
      const row = await store.transaction((tx) =>
        openRow(tx, { id, definition, nodeId, options: so, initial }, clock.now()),
      );
      const hosted = new Hosted(id, definition, row.restart);
      hosts.set(id, hosted);
      const args = {
        core,
        hosted,
        attached: (pid: Pid, processId: string) => {
          hosted.attach(pid, processId);
          watchProcess(link, hosted, pid, processId);
        },
      };
      try {
        await supervisor.startChild({
          id: `agent:${id}`,
          restart: row.restart,
          shutdownMs: so.shutdownMs,
          start: (opts) => runtime.spawn(agentBehaviour, args, { link: opts.link }),
        });
      } catch (error) {
        hosts.delete(id);
        hosted.end('its process did not start');
        await setLifecycle(store, id, 'exited', clock.now());
        const cause = isRuntimeError(error, 'child_start_failed') ? (error.cause ?? error) : error;
        const inner = isRuntimeError(cause, 'init_failed') ? (cause.cause ?? cause) : cause;
        if (isGarrisonError(inner) && inner.code === AgentErrorCode.agentRunningElsewhere) throw inner;
        throw new AgentError(AgentErrorCode.agentStartFailed, `agent ${id} did not start: ${String(inner)}`, {
          cause: inner,
          details: { agentId: id },
        });
      }
      const started = await readRow(id);
      hosted.paused = started.status === 'paused';
      if (!hosted.paused) startConsumer(hosted);
      return info(started);
    },

    async stop(rawId) {
      const id = parseAgentId(rawId);
      const hosted = hostedOf(id);
      hosted.phase = 'stopping';
      const consumer = hosted.consumer;
      hosted.consumer = undefined;
      await consumer?.stop();
      await hosted.consumerStopped;
      const pid = hosted.pid ?? (await hosted.live().catch(() => undefined));
      if (pid !== undefined) {
        try {
          await supervisor.terminateChild(pid);
        } catch (error) {
          if (!isRuntimeError(error, 'child_not_found')) throw error;
        }
      }
      hosted.end('stopped');
      hosts.delete(id);
      await hosted.serial(async () => {
        await store.transaction(async (tx) => {
          await removeEntry(tx, core, id, hosted.processId, 'stopped');
          await setLifecycle(tx, id, 'stopped', clock.now());
          // Its schedules die with it; a start again makes them afresh from its definition.
          await dropSchedules(store, clock, id, tx);
        });
      });
      core.emit('agent.stopped', { agentId: id });
    },

    async call<O>(rawId: string, action: string, input?: unknown, callOptions: { timeoutMs?: number } = {}) {
      const id = parseAgentId(rawId);
      if (!hosts.has(id)) {
        const row = await readRow(id);
        if (row.node !== nodeId && row.lifecycle === 'running') {
          assertUp();
          const timeoutMs = parseTimeout(callOptions.timeoutMs);
          return (await remote.call(row, definitions.get(row.type), action, input, timeoutMs)) as O;
        }
        if (row.node !== nodeId)
          throw agentNotRunning(id, `it is ${row.lifecycle} (last on node ${row.node})`);
      }
      const hosted = hostedOf(id);
      const found = hosted.def.actions.get(action);
      if (found === undefined) throw unknownAction(id, action, [...hosted.def.actions.keys()]);
      const parsed = found.parseInput(input);
      if (hosted.paused && !found.readOnly) throw agentPaused(id, null);
      const pid = hosted.pid;
      if (pid === undefined) throw agentNotRunning(id, `its process is ${hosted.phase}`);
      const outcome = await runtime.call<RunOutcome>(pid, new RunActionRequest(action, parsed), callOptions);
      if (!outcome.ok) throw outcome.error;
      return outcome.output as O;
    },

    broadcast: (capability, action, input, broadcastOptions) =>
      core.broadcast(capability, action, input, broadcastOptions),

    async enqueue(rawId, action, input, enqueueOptions = {}) {
      const id = parseAgentId(rawId);
      const def = hosts.get(id)?.def ?? definitions.get((await readRow(id)).type);
      const checked = checkWork(def, id, action, input);
      return store.transaction((tx) =>
        enqueueForAgent(tx, core, id, { action, input: checked }, enqueueOptions),
      );
    },

    async signal(rawId, input, signalOptions = {}) {
      const id = parseAgentId(rawId);
      const def = hosts.get(id)?.def ?? definitions.get((await readRow(id)).type);
      return sendSignal(core, id, def, input, signalOptions);
    },

    async pause(rawId, reason = 'manual') {
      return setPausedBy(parseAgentId(rawId), { reason: parseText(reason, 'reason') });
    },

    async resume(rawId) {
      return setPausedBy(parseAgentId(rawId), undefined);
    },

    async get(rawId) {
      return info(await readRow(parseAgentId(rawId)));
    },

    async state<S>(rawId: string) {
      return (await readRow(parseAgentId(rawId))).state as S;
    },

    async list() {
      const rows = [
        ...(await selectByNode(store, nodeId, 'running')),
        ...(await selectByNode(store, nodeId, 'stopped')),
        ...(await selectByNode(store, nodeId, 'exited')),
      ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return Promise.all(rows.map(info));
    },

    pidOf(id) {
      return hosts.get(id)?.pid;
    },

    schedules: hostSchedules({ store, clock, queues, maxAttempts: o.maxAttempts, actor: `host:${nodeId}` }),

    shutdown(shutdownOptions = {}) {
      shuttingDown ??= (async () => {
        closing = true;
        await control.stop();
        await remote.close();
        await Promise.allSettled(
          [...hosts.values()].map(async (hosted) => {
            const consumer = hosted.consumer;
            hosted.consumer = undefined;
            await consumer?.stop(shutdownOptions.timeoutMs);
          }),
        );
        if (runtime.isAlive(supervisor.ref)) await supervisor.stop('shutdown');
        for (const hosted of [...hosts.values()]) endAgent(link, hosted, 'host_shutdown');
        while (background.size > 0) await Promise.allSettled([...background]);
        if (options.delivery === undefined) await delivery.close();
      })();
      return shuttingDown;
    },
  };

  const control = new ControlWatch(controlHost, () => [...hosts.keys()]);
  await control.start();
  if (options.scheduler !== undefined) handleScheduleFirings(options.scheduler.durable, store, core);

  if (o.resume) {
    for (const row of await selectByNode(store, nodeId, 'running')) {
      const def = definitions.get(row.type);
      if (def === undefined) continue;
      try {
        await host.start(def, { id: row.id });
        resumed.push(row.id);
      } catch (error) {
        core.emit('agent.error', { agentId: row.id, operation: 'resume', error });
      }
    }
  }
  return host;
}
