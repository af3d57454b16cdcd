/**
 * Consensus and barriers among the agents that have a capability. The participants are the registry's
 * healthy agents with the capability when the round starts, fixed from then on and kept in the store
 * as the round's **roster**: a proposal `roster.<kind>.<name>` (topic: the capability) whose voters are
 * the participants — the primitives' own tables, so a restart or another node sees the same set.
 *
 * A participant that is gone or not healthy (any more) when someone looks counts as **absent**: it is
 * marked on the roster (a vote `absent`, committed) and, from then on —
 * - in a consensus, it is a voter who will not vote: once the votes cast and the participants still
 *   present who have not voted cannot bring any option to the quorum (by default a majority of all the
 *   participants), the proposal closes with `no_quorum`;
 * - at a barrier, it is counted as arrived (an arrival in its name), so the others are not held back.
 * Whoever looks applies the rule — a vote, an arrival, a read, a waiter (at the latest every `pollMs`) —
 * as a proposal's deadline is applied.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AgentRegistry } from '../../registry/index.js';
import type { CoordinationBarriers, BarrierStatus } from './barriers.js';
import type { CoordinationConsensus } from './consensus.js';
import type { PrimitivesContext } from './context.js';
import { forUpdate } from './context.js';
import { BarrierTimeoutError, CoordinationError, ConsensusTimeoutError, NoQuorumError } from './errors.js';
import { closeProposal, outcomeOf, ProposalStatus, readProposal, type Proposal } from './proposals.js';
import { MAX_MS, nameSchema, parse, waitSchema } from './validate.js';
import { TIMED_OUT, waitUntil } from './wakeups.js';

/** What a round is: a vote or a barrier. */
export type RoundKind = 'consensus' | 'barrier';

/** Options of a capability-wide proposal. */
export interface CapabilityProposeOptions {
  readonly options: readonly string[];
  /** Agreeing votes that decide. Default: a majority of the participants. */
  readonly quorum?: number;
  /** Votes are taken for this long, ms. */
  readonly timeoutMs: number;
  /** The proposal's id (proposing again with it returns the stored round). Default: a new UUID. */
  readonly id?: string;
}

/** A capability-wide barrier: the barrier, its participants, and those counted absent. */
export interface CapabilityBarrier extends BarrierStatus {
  readonly capability: string;
  readonly participants: readonly string[];
  readonly absent: readonly string[];
}

/** A capability-wide proposal: the proposal, its capability and those counted absent. */
export interface CapabilityProposal extends Proposal {
  readonly capability: string;
  readonly absent: readonly string[];
}

export interface CapabilityCoordination {
  /** Starts a vote among the healthy agents with `capability` (its voters); `no_participants` if none. */
  propose(capability: string, topic: string, options: CapabilityProposeOptions): Promise<CapabilityProposal>;
  /** A participant's vote (as `consensus.vote`), then the absence rule. */
  vote(proposalId: string, voter: string, choice: string): Promise<CapabilityProposal>;
  /** The proposal now, the absence rule applied. */
  result(proposalId: string): Promise<CapabilityProposal>;
  /** Resolves once decided; `no_quorum`, `consensus_timeout` as `consensus.awaitDecision`. */
  awaitDecision(proposalId: string): Promise<CapabilityProposal>;
  /** Creates a barrier for the healthy agents with `capability`; again with the same name: the stored one. */
  barrier(capability: string, name: string): Promise<CapabilityBarrier>;
  /** A participant arrives (`not_a_participant` for anyone else), then the absence rule. */
  arrive(name: string, participant: string): Promise<CapabilityBarrier>;
  /** The barrier now, the absence rule applied. */
  barrierStatus(name: string): Promise<CapabilityBarrier>;
  /** Resolves once every participant arrived or is absent; `barrier_timeout` after `timeoutMs`. */
  wait(name: string, options: { readonly timeoutMs: number }): Promise<CapabilityBarrier>;
}

const ABSENT = 'absent';
/** A round's id or name: its roster's id (`roster.<kind>.<name>`) must stay a valid proposal id. */
const roundName = z.string().min(1).max(180);
const proposeSchema = z.strictObject({
  options: z.array(nameSchema).min(1).max(100),
  quorum: z.number().int().min(1).optional(),
  timeoutMs: z.number().int().min(1).max(MAX_MS),
  id: roundName.optional(),
});

/** A round that cannot start: nobody has the capability, or the name belongs to another round. */
export class CapabilityRoundError extends CoordinationError {
  declare readonly code: 'no_participants' | 'not_a_participant' | 'round_not_found';
  constructor(
    code: 'no_participants' | 'not_a_participant' | 'round_not_found',
    message: string,
    details: Record<string, unknown>,
  ) {
    super(code, message, { details });
  }
}

const rosterId = (kind: RoundKind, name: string) => `roster.${kind}.${name}`;

export function createCapabilityCoordination(
  ctx: PrimitivesContext,
  registry: Pick<AgentRegistry, 'findCapableHealthy'>,
  consensus: CoordinationConsensus,
  barriers: CoordinationBarriers,
): CapabilityCoordination {
  const participantsNow = async (capability: string) =>
    (await registry.findCapableHealthy(capability)).map((a) => a.id).sort();

  /** Creates (or finds) the roster of a round. */
  const enrol = async (kind: RoundKind, name: string, capability: string): Promise<Proposal> => {
    const id = rosterId(kind, name);
    const stored = await readProposal(ctx.store, id);
    if (stored !== undefined) return stored;
    const participants = await participantsNow(capability);
    if (participants.length === 0)
      throw new CapabilityRoundError(
        'no_participants',
        `no healthy agent has the capability "${capability}"`,
        {
          capability,
        },
      );
    return consensus.propose(capability, {
      options: [ABSENT],
      voters: participants,
      quorum: participants.length,
      timeoutMs: MAX_MS,
      id,
    });
  };

  const roster = async (kind: RoundKind, name: string): Promise<Proposal> => {
    const r = await readProposal(ctx.store, rosterId(kind, name));
    if (r === undefined)
      throw new CapabilityRoundError('round_not_found', `no capability-wide ${kind} "${name}"`, {
        kind,
        name,
      });
    return r;
  };

  /** Marks on the roster the participants that are not healthy with the capability now; all absent ones. */
  const markAbsent = async (r: Proposal, exempt: ReadonlySet<string>): Promise<string[]> => {
    const present = new Set(await participantsNow(r.topic));
    const marked = new Set(r.votes.map((v) => v.voter));
    for (const p of r.voters ?? []) {
      if (marked.has(p) || present.has(p) || exempt.has(p)) continue;
      try {
        await consensus.vote(r.id, p, ABSENT);
      } catch (error) {
        // Marked meanwhile by another look, or the roster closed at its (far) deadline: nothing to add.
        if (!(error instanceof CoordinationError)) throw error;
      }
      marked.add(p);
    }
    return [...marked].sort();
  };

  /** The proposal after the absence rule: closed with `no_quorum` once the present voters cannot decide. */
  const settleProposal = async (id: string): Promise<CapabilityProposal> => {
    const r = await roster('consensus', id);
    const p = await consensus.result(id);
    if (p.status !== ProposalStatus.open)
      return { ...p, capability: r.topic, absent: r.votes.map((v) => v.voter).sort() };
    const absent = await markAbsent(r, new Set(p.votes.map((v) => v.voter)));
    const closed = await ctx.store.transaction(async (tx) => {
      await tx.query(`SELECT id FROM garrison_coord_proposals WHERE id = $1${forUpdate(ctx)}`, [id]);
      const fresh = await readProposal(tx, id);
      if (
        fresh === undefined ||
        fresh.status !== ProposalStatus.open ||
        outcomeOf(fresh).status !== ProposalStatus.open
      )
        return false;
      const voted = new Set(fresh.votes.map((v) => v.voter));
      const left = (fresh.voters ?? []).filter((v) => !voted.has(v) && !absent.includes(v)).length;
      const best = Math.max(...fresh.options.map((o) => fresh.tally[o] ?? 0));
      if (best + left >= fresh.quorum) return false;
      await closeProposal(tx, id, ProposalStatus.noQuorum, undefined, ctx.clock.now());
      return true;
    });
    if (closed) await ctx.wakeups.announce(`proposal:${id}`);
    return { ...(closed ? await consensus.result(id) : p), capability: r.topic, absent };
  };

  const settleBarrier = async (name: string): Promise<CapabilityBarrier> => {
    const r = await roster('barrier', name);
    const before = await barriers.status(name);
    const participants = r.voters ?? [];
    if (before.released)
      return { ...before, capability: r.topic, participants, absent: r.votes.map((v) => v.voter).sort() };
    const arrived = new Set((await barriers.arrivals(name)).map((a) => a.participant));
    const absent = await markAbsent(r, arrived);
    for (const p of absent) if (!arrived.has(p)) await barriers.arrive(name, p);
    return { ...(await barriers.status(name)), capability: r.topic, participants, absent };
  };

  return {
    async propose(capability, topic, options) {
      const cap = parse(nameSchema, capability, 'capability');
      const o = parse(proposeSchema, options, 'proposal options');
      const id = o.id ?? randomUUID();
      const r = await enrol('consensus', id, cap);
      const p = await consensus.propose(topic, {
        options: o.options,
        voters: r.voters ?? [],
        ...(o.quorum === undefined ? {} : { quorum: o.quorum }),
        timeoutMs: o.timeoutMs,
        id,
      });
      return { ...p, capability: r.topic, absent: [] };
    },
    async vote(proposalId, voter, choice) {
      await consensus.vote(proposalId, voter, choice);
      return settleProposal(proposalId);
    },
    result: (proposalId) => settleProposal(parse(nameSchema, proposalId, 'proposal id')),
    async awaitDecision(proposalId) {
      const id = parse(nameSchema, proposalId, 'proposal id');
      const first = await settleProposal(id);
      const p = await waitUntil<CapabilityProposal>(
        ctx.wakeups,
        ctx.clock,
        ctx.pollMs,
        `proposal:${id}`,
        first.deadlineAt,
        async () => {
          const now = await settleProposal(id);
          return now.status === ProposalStatus.open
            ? { done: false, wakeAt: now.deadlineAt }
            : { done: true, value: now };
        },
      );
      if (p === TIMED_OUT) throw new ConsensusTimeoutError(id, first.deadlineAt);
      if (p.status === ProposalStatus.timeout) throw new ConsensusTimeoutError(id, p.deadlineAt);
      if (p.status === ProposalStatus.noQuorum) throw new NoQuorumError(id, p.quorum);
      return p;
    },
    async barrier(capability, name) {
      const cap = parse(nameSchema, capability, 'capability');
      const n = parse(roundName, name, 'barrier name');
      const r = await enrol('barrier', n, cap);
      await barriers.create(n, (r.voters ?? []).length);
      return settleBarrier(n);
    },
    async arrive(name, participant) {
      const n = parse(nameSchema, name, 'barrier name');
      const who = parse(nameSchema, participant, 'participant');
      const r = await roster('barrier', n);
      if (!(r.voters ?? []).includes(who))
        throw new CapabilityRoundError('not_a_participant', `${who} is not a participant of barrier "${n}"`, {
          barrier: n,
          participant: who,
          participants: r.voters,
        });
      await barriers.arrive(n, who);
      return settleBarrier(n);
    },
    barrierStatus: (name) => settleBarrier(parse(nameSchema, name, 'barrier name')),
    async wait(name, options) {
      const n = parse(nameSchema, name, 'barrier name');
      const { timeoutMs } = parse(z.strictObject({ timeoutMs: waitSchema }), options, 'wait options');
      const outcome = await waitUntil<CapabilityBarrier>(
        ctx.wakeups,
        ctx.clock,
        ctx.pollMs,
        `barrier:${n}`,
        ctx.clock.now() + timeoutMs,
        async () => {
          const now = await settleBarrier(n);
          return now.released ? { done: true, value: now } : { done: false };
        },
      );
      if (outcome !== TIMED_OUT) return outcome;
      const last = await barriers.status(n);
      throw new BarrierTimeoutError(n, timeoutMs, last.arrived, last.parties);
    },
  };
}
