/**
 * Consensus by vote: a proposal offers options to a set of voters (or to anyone) and is decided by the
 * vote that brings one option to the quorum. Each vote is a row (one per voter, the first stands); the
 * proposal row is locked while a vote is counted, so concurrent votes on several nodes are counted one
 * after the other and a proposal is decided exactly once. Its deadline is a stored time: whoever looks
 * at an open proposal after it — a voter, a reader, a waiter — closes it with `timeout`, by its own
 * clock, in a committed transaction.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { toJson, type Tx } from '../../store/index.js';
import { forUpdate, type PrimitivesContext } from './context.js';
import {
  ConsensusTimeoutError,
  DuplicateVoteError,
  InvalidChoiceError,
  NoQuorumError,
  NotAVoterError,
  ProposalClosedError,
  ProposalExistsError,
  ProposalNotFoundError,
} from './errors.js';
import { closeProposal, outcomeOf, ProposalStatus, readProposal, type Proposal } from './proposals.js';
import { MAX_MS, nameSchema, parse } from './validate.js';
import { TIMED_OUT, waitUntil } from './wakeups.js';

export interface ProposeOptions {
  /** The choices, distinct (1 to 100). */
  readonly options: readonly string[];
  /** The only participants allowed to vote, distinct. Default: anyone may vote (then `quorum` is required). */
  readonly voters?: readonly string[];
  /** Agreeing votes that decide. Default with `voters`: a majority of them. */
  readonly quorum?: number;
  /** Votes are taken for this long, ms; then the proposal closes with `timeout`. */
  readonly timeoutMs: number;
  /** The proposal's id. Proposing again with the same id and topic returns the stored proposal. Default: a new UUID. */
  readonly id?: string;
}

export interface CoordinationConsensus {
  /** Stores a new open proposal and returns it. */
  propose(topic: string, options: ProposeOptions): Promise<Proposal>;
  /**
   * Records `voter`'s vote and returns the proposal after it (decided when this vote made the quorum).
   * Rejected, with nothing recorded: `proposal_not_found`, `proposal_closed` (also when the deadline
   * has passed: the timeout is committed first), `invalid_choice`, `not_a_voter`, `duplicate_vote`.
   */
  vote(proposalId: string, voter: string, choice: string): Promise<Proposal>;
  /** The proposal now, readable by anyone; an open one past its deadline is closed with `timeout` first. */
  result(proposalId: string): Promise<Proposal>;
  /**
   * Resolves with the proposal once decided; `consensus_timeout` when its deadline passed first,
   * `no_quorum` when no option can reach the quorum any more.
   */
  awaitDecision(proposalId: string): Promise<Proposal>;
}

const proposeSchema = z
  .strictObject({
    options: z
      .array(nameSchema)
      .min(1)
      .max(100)
      .refine((a) => new Set(a).size === a.length, 'options must be distinct'),
    voters: z
      .array(nameSchema)
      .min(1)
      .max(10_000)
      .refine((a) => new Set(a).size === a.length, 'voters must be distinct')
      .optional(),
    quorum: z.number().int().min(1).optional(),
    timeoutMs: z.number().int().min(1).max(MAX_MS),
    id: nameSchema.optional(),
  })
  .refine((o) => o.voters !== undefined || o.quorum !== undefined, {
    message: 'a quorum is required when anyone may vote',
    path: ['quorum'],
  })
  .refine((o) => o.voters === undefined || o.quorum === undefined || o.quorum <= o.voters.length, {
    message: 'the quorum cannot exceed the number of voters',
    path: ['quorum'],
  });

export function createConsensus(ctx: PrimitivesContext): CoordinationConsensus {
  const key = (id: string) => `proposal:${id}`;

  /** Closes `p` with `timeout` inside `tx` when its deadline has passed; true when it did. */
  const expire = async (tx: Tx, p: Proposal, now: number): Promise<boolean> => {
    if (p.status !== ProposalStatus.open || now < p.deadlineAt) return false;
    await closeProposal(tx, p.id, ProposalStatus.timeout, undefined, now);
    await ctx.wakeups.announce(key(p.id));
    return true;
  };

  const lockedRead = async (tx: Tx, id: string): Promise<Proposal> => {
    // The proposal row is locked before its votes are read: votes on it are counted one at a time.
    const locked = await tx.query(`SELECT id FROM garrison_coord_proposals WHERE id = $1${forUpdate(ctx)}`, [
      id,
    ]);
    const p = locked.length === 0 ? undefined : await readProposal(tx, id);
    if (p === undefined) throw new ProposalNotFoundError(id);
    return p;
  };

  const result = async (id: string): Promise<Proposal> => {
    const p = await readProposal(ctx.store, id);
    if (p === undefined) throw new ProposalNotFoundError(id);
    if (p.status !== ProposalStatus.open || ctx.clock.now() < p.deadlineAt) return p;
    return ctx.store.transaction(async (tx) => {
      const fresh = await lockedRead(tx, id);
      return (await expire(tx, fresh, ctx.clock.now())) ? ((await readProposal(tx, id)) ?? fresh) : fresh;
    });
  };

  return {
    async propose(topic, options) {
      const t = parse(nameSchema, topic, 'proposal topic');
      const o = parse(proposeSchema, options, 'proposal options');
      const id = o.id ?? randomUUID();
      const quorum = o.quorum ?? Math.floor((o.voters?.length ?? 0) / 2) + 1;
      const p = await ctx.store.transaction(async (tx) => {
        const now = ctx.clock.now();
        await tx.execute(
          `INSERT INTO garrison_coord_proposals
             (id, topic, options, voters, quorum, status, deadline_at, created_at)
           VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) ON CONFLICT (id) DO NOTHING`,
          [
            id,
            t,
            toJson(o.options),
            o.voters === undefined ? null : toJson(o.voters),
            quorum,
            now + o.timeoutMs,
            now,
          ],
        );
        return readProposal(tx, id);
      });
      if (p === undefined) throw new ProposalNotFoundError(id);
      if (p.topic !== t) throw new ProposalExistsError(id, p.topic);
      return p;
    },

    async vote(proposalId, voter, choice) {
      const id = parse(nameSchema, proposalId, 'proposal id');
      const v = parse(nameSchema, voter, 'voter');
      const c = parse(z.string().min(1).max(200), choice, 'choice');
      const outcome = await ctx.store.transaction(async (tx) => {
        const p = await lockedRead(tx, id);
        const now = ctx.clock.now();
        // A late vote closes the proposal (committed) and is then refused.
        if (await expire(tx, p, now)) return undefined;
        if (p.status !== ProposalStatus.open) throw new ProposalClosedError(id, p.status);
        if (!p.options.includes(c)) throw new InvalidChoiceError(id, c, p.options);
        if (p.voters !== undefined && !p.voters.includes(v)) throw new NotAVoterError(id, v);
        const earlier = p.votes.find((x) => x.voter === v);
        if (earlier !== undefined) throw new DuplicateVoteError(id, v, earlier.choice);
        await tx.execute(
          'INSERT INTO garrison_coord_votes (proposal_id, voter, choice, voted_at) VALUES ($1, $2, $3, $4)',
          [id, v, c, now],
        );
        const counted = (await readProposal(tx, id)) as Proposal;
        const next = outcomeOf(counted);
        if (next.status === ProposalStatus.open) return counted;
        await closeProposal(tx, id, next.status, next.decision, now);
        await ctx.wakeups.announce(key(id));
        return (await readProposal(tx, id)) ?? counted;
      });
      if (outcome === undefined) throw new ProposalClosedError(id, ProposalStatus.timeout);
      return outcome;
    },

    async result(proposalId) {
      return result(parse(nameSchema, proposalId, 'proposal id'));
    },

    async awaitDecision(proposalId) {
      const id = parse(nameSchema, proposalId, 'proposal id');
      const first = await result(id);
      // A look at or after the deadline always settles the proposal, so the wait ends by then.
      const p = await waitUntil(ctx.wakeups, ctx.clock, ctx.pollMs, key(id), first.deadlineAt, async () => {
        const now = await result(id);
        return now.status === ProposalStatus.open
          ? { done: false, wakeAt: now.deadlineAt }
          : { done: true, value: now };
      });
      if (p === TIMED_OUT) throw new ConsensusTimeoutError(id, first.deadlineAt);
      if (p.status === ProposalStatus.timeout) throw new ConsensusTimeoutError(id, p.deadlineAt);
      if (p.status === ProposalStatus.noQuorum) throw new NoQuorumError(id, p.quorum);
      return p;
    },
  };
}
