/** The `purge` commands' loop: small batches, one short transaction each, until nothing matching is left. */

/** Rows deleted per transaction by the `purge` commands. */
const PURGE_BATCH = 500;

/** Runs `batch(limit)` until one deletes fewer than `limit` rows; answers how many went in all. */
export async function purgeInBatches(batch: (limit: number) => Promise<number>): Promise<number> {
  let purged = 0;
  for (;;) {
    const n = await batch(PURGE_BATCH);
    purged += n;
    if (n < PURGE_BATCH) return purged;
  }
}
