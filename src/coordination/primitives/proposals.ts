/** Proposals and votes as stored: reading a proposal with its votes, counting, and closing it. */
import type { Executor } from '../../store/index.js';
import { parseJson } from '../../store/index.js';

/** Where a proposal stands. */
export const ProposalStatus = {
  /** Taking votes until its deadline. */
  open: 'open',
  /** A quorum agreed on one option: `decision`. */
  decided: 'decided',
  /** The deadline passed before a quorum agreed. */
  timeout: 'timeout',
  /** The named voters left cannot bring any option to the quorum. */
  noQuorum: 'no_quorum',
} as const;
export type ProposalStatus = (typeof ProposalStatus)[keyof typeof ProposalStatus];

export interface Vote {
  readonly voter: string;
  readonly choice: string;
  /** UNIX epoch ms. */
  readonly votedAt: number;
}

/** A proposal with its votes, as anyone can read it. */
export interface Proposal {
  readonly id: string;
  readonly topic: string;
  readonly options: readonly string[];
  /** The voters allowed; undefined when anyone may vote. */
  readonly voters: readonly string[] | undefined;
  /** Agreeing votes that decide. */
  readonly quorum: number;
  readonly status: ProposalStatus;
  /** The option decided on, once `status` is `decided`. */
  readonly decision: string | undefined;
  /** Votes per option (every option present, 0 when none). */
  readonly tally: Readonly<Record<string, number>>;
  /** In the order cast. */
  readonly votes: readonly Vote[];
  /** Votes are taken until this time, UNIX epoch ms. */
  readonly deadlineAt: number;
  /** UNIX epoch ms. */
  readonly createdAt: number;
  /** When it was decided or closed, UNIX epoch ms; undefined while open. */
  readonly closedAt: number | undefined;
}

interface JoinedRow {
  id: string;
  topic: string;
  options: string;
  voters: string | null;
  quorum: number | string;
  status: ProposalStatus;
  decision: string | null;
  deadline_at: number | string;
  created_at: number | string;
  closed_at: number | string | null;
  voter: string | null;
  choice: string | null;
  voted_at: number | string | null;
}

/** Reads a proposal and its votes in one statement (one snapshot); undefined when there is none. */
export async function readProposal(db: Executor, id: string): Promise<Proposal | undefined> {
  const rows = await db.query<JoinedRow>(
    `SELECT p.id, p.topic, p.options, p.voters, p.quorum, p.status, p.decision, p.deadline_at,
            p.created_at, p.closed_at, v.voter, v.choice, v.voted_at
       FROM garrison_coord_proposals p
       LEFT JOIN garrison_coord_votes v ON v.proposal_id = p.id
      WHERE p.id = $1
      ORDER BY v.voted_at, v.voter`,
    [id],
  );
  const first = rows[0];
  if (first === undefined) return undefined;
  const options = parseJson<string[]>(first.options);
  const votes: Vote[] = [];
  for (const r of rows) {
    if (r.voter !== null && r.choice !== null) {
      votes.push({ voter: r.voter, choice: r.choice, votedAt: Number(r.voted_at) });
    }
  }
  return {
    id: first.id,
    topic: first.topic,
    options,
    voters: first.voters === null ? undefined : parseJson<string[]>(first.voters),
    quorum: Number(first.quorum),
    status: first.status,
    decision: first.decision ?? undefined,
    tally: tallyOf(options, votes),
    votes,
    deadlineAt: Number(first.deadline_at),
    createdAt: Number(first.created_at),
    closedAt: first.closed_at === null ? undefined : Number(first.closed_at),
  };
}

export function tallyOf(options: readonly string[], votes: readonly Vote[]): Record<string, number> {
  const tally: Record<string, number> = Object.fromEntries(options.map((o) => [o, 0]));
  for (const v of votes) tally[v.choice] = (tally[v.choice] ?? 0) + 1;
  return tally;
}

/**
 * What the votes so far settle: the option a quorum agreed on; `no_quorum` when the named voters who
 * have not voted cannot lift any option to the quorum; otherwise still open.
 */
export function outcomeOf(p: Proposal): { status: ProposalStatus; decision?: string } {
  for (const option of p.options) {
    if ((p.tally[option] ?? 0) >= p.quorum) return { status: ProposalStatus.decided, decision: option };
  }
  if (p.voters !== undefined) {
    const left = p.voters.length - p.votes.length;
    const best = Math.max(...p.options.map((o) => p.tally[o] ?? 0));
    if (best + left < p.quorum) return { status: ProposalStatus.noQuorum };
  }
  return { status: ProposalStatus.open };
}

/** Closes an open proposal with `status` (and `decision`) at `now`. */
export async function closeProposal(
  db: Executor,
  id: string,
  status: ProposalStatus,
  decision: string | undefined,
  now: number,
): Promise<void> {
  await db.execute(
    `UPDATE garrison_coord_proposals SET status = $2, decision = $3, closed_at = $4
      WHERE id = $1 AND status = 'open'`,
    [id, status, decision ?? null, now],
  );
}
