/**
 * Takes SQLite's write lock on a database file (BEGIN IMMEDIATE) with a connection of its own and holds
 * it until killed: the second process of the SQLITE_BUSY fault. Appends `locked` to the ledger once it
 * holds the lock.
 *
 *   hold-write-lock.ts <database file> <ledger>
 */
import Database from 'better-sqlite3';
import { args, ledger } from './ledger.js';

const a = args('hold-write-lock.ts', ['file', 'ledger']);
const db = new Database(a.file);
db.pragma('busy_timeout = 10000');
db.exec('BEGIN IMMEDIATE');
ledger(a.ledger)({ e: 'locked' });
// Keeps the process and the connection — with it the lock — alive until the test kills it. (The timer
// refers to the connection: unreferenced, it would be collected and closed, and the lock given up.)
setInterval(() => db.inTransaction, 60_000);
