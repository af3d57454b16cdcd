/** Store URLs: what is accepted, and a specific `store_url_invalid` for everything else. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_URL, openStore, parseStoreUrl, redact } from '../../src/store/index.js';
import { rejectionOf } from './helpers.js';

function refusal(url: string): { code: string | undefined; message: string } {
  try {
    parseStoreUrl(url);
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code, message: e.message };
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('store URLs that are refused', () => {
  it('an empty URL is refused as empty', async () => {
    for (const url of ['', '   ']) {
      const { code, message } = refusal(url);
      expect(code).toBe('store_url_invalid');
      expect(message).toContain('it is empty');
    }
    const fromOpen = await rejectionOf(openStore(''));
    expect(fromOpen.code).toBe('store_url_invalid');
  });

  it('an unknown scheme is refused naming the scheme and the ones supported', async () => {
    const { code, message } = refusal('mysql://root@localhost/db');
    expect(code).toBe('store_url_invalid');
    expect(message).toContain('"mysql:" is not supported');
    expect(message).toContain('sqlite:<path>');
    expect(message).toContain('postgres://');
    expect((await rejectionOf(openStore('redis://localhost'))).code).toBe('store_url_invalid');
  });

  it('a URL without a scheme is refused as having none', () => {
    const { code, message } = refusal('/var/lib/garrison.db');
    expect(code).toBe('store_url_invalid');
    expect(message).toContain('no scheme');
  });

  it('sqlite: without a file path is refused with an example', () => {
    for (const url of ['sqlite:', 'sqlite://', 'sqlite:?synchronous=FULL']) {
      expect(refusal(url).message).toContain('no file path after "sqlite:"');
    }
  });

  it('bad SQLite options are refused naming the option', () => {
    expect(refusal('sqlite:a.db?synchronous=SOMETIMES').message).toContain('synchronous');
    expect(refusal('sqlite:a.db?busy_timeout=soon').message).toContain('busy_timeout');
    expect(refusal('sqlite:a.db?journal=off').message).toContain('journal');
  });

  it('a bad PostgreSQL schema name is refused naming the rule, in the URL or as an option', async () => {
    for (const schema of ['Upper', 'has-dash', '1starts_with_digit', 'x'.repeat(64), 'a;drop']) {
      const { code, message } = refusal(`postgres://u@localhost/db?schema=${encodeURIComponent(schema)}`);
      expect(code).toBe('store_url_invalid');
      expect(message).toContain('schema: must be a lower-case SQL identifier');
    }
    // Refused before any connection is attempted: nothing listens on port 1.
    const viaOption = await rejectionOf(openStore('postgres://u@127.0.0.1:1/db', { schema: 'Not-Valid' }));
    expect(viaOption.code).toBe('store_url_invalid');
    expect(viaOption.message).toContain('schema "Not-Valid"');
    const reserved = await rejectionOf(openStore('postgres://u@127.0.0.1:1/db?schema=pg_mine'));
    expect(reserved.code).toBe('store_url_invalid');
    expect(reserved.message).toContain('reserved by PostgreSQL');
  });

  it('a bad pool size is refused naming the option', () => {
    expect(refusal('postgres://u@localhost/db?pool=0').message).toContain('pool');
    expect(refusal('postgres://u@localhost/db?pool=many').message).toContain('pool');
  });

  it('a malformed postgres URL is refused', () => {
    expect(refusal('postgres://u@[bad/db').message).toContain('not a well-formed postgres:// URL');
  });

  it('the password never appears in a refusal', () => {
    const { message } = refusal('postgres://admin:s3cret-pw@db.example:5432/app?schema=BAD');
    expect(message).not.toContain('s3cret-pw');
    expect(message).toContain('postgres://***@db.example');
  });

  it('no piece of a password with / # or @ in it appears, parseable or not, nor a ?password=', () => {
    for (const url of [
      'postgres://u:s3cr/etpw@db:5432/app',
      'postgres://u:s3cr#etpw@db:5432/app',
      'postgres://u:s3cr@etpw@db:5432/app?schema=BAD',
      'postgres://db/app?password=s3cr-etpw&schema=BAD',
    ]) {
      expect(refusal(url).message).not.toMatch(/s3cr|etpw/);
      expect(redact(url)).not.toMatch(/s3cr|etpw/);
    }
    expect(redact('postgres://u:s3cr/etpw@db:5432/app')).toBe('postgres://***@db:5432/app');
    expect(redact('postgres://db/app?password=s3cr-etpw')).toBe('postgres://db/app?password=***');
  });
});

describe('store URLs that are accepted', () => {
  it('the default is the embedded SQLite file .garrison/garrison.db', () => {
    expect(DEFAULT_STORE_URL).toBe('sqlite:.garrison/garrison.db');
    expect(parseStoreUrl(DEFAULT_STORE_URL)).toEqual({
      kind: 'sqlite',
      path: '.garrison/garrison.db',
      synchronous: undefined,
      busyTimeoutMs: undefined,
    });
  });

  it('sqlite: takes relative, absolute and in-memory paths and its options', () => {
    expect(parseStoreUrl('sqlite:data/g.db')).toMatchObject({ kind: 'sqlite', path: 'data/g.db' });
    expect(parseStoreUrl('sqlite:///srv/g.db')).toMatchObject({ path: '/srv/g.db' });
    expect(parseStoreUrl('sqlite::memory:')).toMatchObject({ path: ':memory:' });
    expect(parseStoreUrl('sqlite:g.db?synchronous=NORMAL&busy_timeout=250')).toEqual({
      kind: 'sqlite',
      path: 'g.db',
      synchronous: 'NORMAL',
      busyTimeoutMs: 250,
    });
  });

  it('postgres:// and postgresql:// keep their own parameters and lose Garrison’s', () => {
    const parsed = parseStoreUrl('postgresql://app:pw@db:6543/prod?schema=tenant_a&pool=4&sslmode=require');
    expect(parsed).toEqual({
      kind: 'postgres',
      connectionString: 'postgresql://app:pw@db:6543/prod?sslmode=require',
      schema: 'tenant_a',
      poolSize: 4,
      redacted: 'postgresql://***@db:6543/prod?sslmode=require',
    });
    expect(parseStoreUrl('postgres://localhost/db')).toMatchObject({
      schema: undefined,
      poolSize: undefined,
    });
  });

  it('redact replaces all of the user-info, and nothing of a URL without one', () => {
    expect(redact('postgres://u:p@h/db')).toBe('postgres://***@h/db');
    expect(redact('postgres://u@h/db')).toBe('postgres://***@h/db');
    expect(redact('postgres://h/db?sslmode=require')).toBe('postgres://h/db?sslmode=require');
    expect(redact('sqlite:/srv/a@b/g.db')).toBe('sqlite:/srv/a@b/g.db');
    expect(redact('sqlite:a.db')).toBe('sqlite:a.db');
  });
});
