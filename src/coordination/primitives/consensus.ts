/**
 * Durable consensus by vote: a proposal names its options, a quorum and a deadline; each voter votes once
 * (a row, so the vote survives restarts and is counted the same on every node); the first option to reach
 * the quorum is the decision, committed in the vote's transaction. A proposal past its deadline without a
 * decision is `timeout` (evaluated against the injected clock by whoever reads or votes).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { Clock } from '../../runtime/index.js';
import { parseJson, toJson, type Store, type Tx } from '../../store/index.js';
import { PrimitiveError, PrimitiveErrorCode } from './errors.js';
import { check, ms, name } from './validate.js';

export interface Proposal {
  readonly id: string;
  readonly topic: string;
  readonly options: readonly string[];
  readonly quorum: number;
  /** UNIX epoch ms. */
  readonly deadline: number;
  readonly status: 'open' | 'decided' | 'timeout';
  readonly decision: string | undefined;
  /** Votes per option. */
  readonly tally: Readonly<Record<string, number>>;
}

const proposeSchema = z.strictObject({
  options: z.array(name).min(2).max(100),
  quorum: z.number().int().min(1).max(100_000),
  timeoutMs: ms,
  id: name.optional(),
});

interface Row {
  id: string;
  topic: string;
  options: string;
  quorum: number | string;
  deadline: number | string;
  status: Proposal['status'];
  decision: string | null;
}

export class Consensus {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Opens a proposal; answers it. `id` is an idempotency key (an existing id answers that proposal). */
  async propose(topic: string, options: z.input<typeof proposeSchema>): Promise<Proposal> {
    check(name, topic, 'topic');
    const o = check(proposeSchema, options, 'proposal');
    if (new Set(o.options).size !== o.options.length)
      throw new ValidationError('invalid proposal: options must be distinct');
    const id = o.id ?? randomUUID();
    const now = this.clock.now();
    await this.store.write((tx) =>
      tx.execute(
        'INSERT INTO garrison_proposals (id, topic, options, quorum, deadline, status, created_at) ' +
          "VALUES ($1, $2, $3, $4, $5, 'open', $6) ON CONFLICT (id) DO NOTHING",
        [id, topic, toJson(o.options), o.quorum, now + o.timeoutMs, now],
      ),
    );
    return this.get(id);
  }

  /** Votes; `already_voted`, `proposal_closed` (decided or timed out) or `invalid_input` (unknown option). */
  async vote(proposalId: string, voter: string, choice: string): Promise<Proposal> {
    check(name, voter, 'voter');
    await this.store.write(async (tx) => {
      const row = await this.close(tx, proposalId);
      if (row.status !== 'open')
        throw new PrimitiveError(
          PrimitiveErrorCode.proposalClosed,
          `proposal ${proposalId} is ${row.status}`,
          {
            proposalId,
            status: row.status,
          },
        );
      const options = parseJson<string[]>(row.options);
      if (!options.includes(choice)) check(z.enum(options as [string, ...string[]]), choice, 'choice');
      const inserted = await tx.execute(
        'INSERT INTO garrison_votes (proposal_id, voter, choice, voted_at) VALUES ($1, $2, $3, $4) ' +
          'ON CONFLICT (proposal_id, voter) DO NOTHING',
        [proposalId, voter, choice, this.clock.now()],
      );
      if (inserted.rowCount === 0)
        throw new PrimitiveError(PrimitiveErrorCode.alreadyVoted, `${voter} has voted on ${proposalId}`, {
          proposalId,
          voter,
        });
      const count = await tx.query<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM garrison_votes WHERE proposal_id = $1 AND choice = $2',
        [proposalId, choice],
      );
      if (Number(count[0]?.n) >= Number(row.quorum))
        await tx.execute(
          "UPDATE garrison_proposals SET status = 'decided', decision = $2, decided_at = $3 WHERE id = $1 AND status = 'open'",
          [proposalId, choice, this.clock.now()],
        );
    });
    return this.get(proposalId);
  }

  /** The proposal now (timed out if its deadline passed undecided). */
  async get(proposalId: string): Promise<Proposal> {
    const row = await this.store.write((tx) => this.close(tx, proposalId));
    const votes = await this.store.query<{ choice: string; n: number | string }>(
      'SELECT choice, COUNT(*) AS n FROM garrison_votes WHERE proposal_id = $1 GROUP BY choice',
      [proposalId],
    );
    const options = parseJson<string[]>(row.options);
    const tally = Object.fromEntries(
      options.map((o) => [o, Number(votes.find((v) => v.choice === o)?.n ?? 0)]),
    );
    return {
      id: row.id,
      topic: row.topic,
      options,
      quorum: Number(row.quorum),
      deadline: Number(row.deadline),
      status: row.status,
      decision: row.decision ?? undefined,
      tally,
    };
  }

  /** Reads the proposal in `tx`, marking it timed out first when its deadline has passed. */
  private async close(tx: Tx, proposalId: string): Promise<Row> {
    await tx.execute(
      "UPDATE garrison_proposals SET status = 'timeout', decided_at = $2 WHERE id = $1 AND status = 'open' AND deadline <= $2",
      [proposalId, this.clock.now()],
    );
    const rows = await tx.query<Row>(
      'SELECT id, topic, options, quorum, deadline, status, decision FROM garrison_proposals WHERE id = $1',
      [proposalId],
    );
    const row = rows[0];
    if (row === undefined)
      throw new PrimitiveError(PrimitiveErrorCode.proposalNotFound, `no proposal has the id ${proposalId}`, {
        proposalId,
      });
    return row;
  }
}
