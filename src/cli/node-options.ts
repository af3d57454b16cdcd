/**
 * The options of `garrison worker` and `garrison serve`, checked whole before the store is opened: a
 * refused command must not have registered a node or claimed work first. Token files keep tokens out of
 * the process list (`ps` shows every argument).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MIN_TOKEN_LENGTH, type ApiServerOptions, type ApiTokenConfig } from '../api/index.js';
import { GarrisonError } from '../errors.js';
import { parseNodeConfig, type NodeConfig } from '../node/index.js';
import { parseStoreUrl } from '../store/index.js';
import { readConfigFile } from './node-runner.js';

export interface NodeOptionsInput {
  readonly store: string;
  readonly name?: string;
  readonly config?: string;
}

export interface ServeOptionsInput extends NodeOptionsInput {
  readonly port: number;
  readonly host: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly readTokenFile?: string;
  readonly allowedHost?: readonly string[];
}

/** The most characters of a token the API accepts. */
const MAX_TOKEN_LENGTH = 512;
/** What the API accepts as a host name in `allowedHosts`: no port, no scheme. */
const HOST_NAME = /^[A-Za-z0-9.-]{1,253}$/;

const invalid = (message: string) => new GarrisonError('invalid_input', message);

/** The store URL, the node name and the configuration file, as the node would check them. */
export function checkNodeOptions(o: NodeOptionsInput): NodeConfig {
  parseStoreUrl(o.store);
  const fileConfig = o.config === undefined ? {} : readConfigFile(o.config);
  return parseNodeConfig({
    ...fileConfig,
    store: o.store,
    ...(o.name === undefined ? {} : { nodeName: o.name }),
  });
}

/** A token file's content, trimmed: one token, long enough for the API. */
export function readTokenFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GarrisonError(
      'invalid_input',
      `cannot read the ${what} file ${path}${code === undefined ? '' : ` (${code})`}`,
      { cause: error },
    );
  }
  const token = text.trim();
  if (token === '') throw invalid(`the ${what} file ${path} is empty`);
  return checkToken(token, `the ${what} in ${path}`);
}

function checkToken(token: string, what: string): string {
  if (/\s/.test(token)) throw invalid(`${what} holds whitespace: a token is one word`);
  if (token.length < MIN_TOKEN_LENGTH)
    throw invalid(`${what} is too short: at least ${MIN_TOKEN_LENGTH} characters (128 random bits)`);
  if (token.length > MAX_TOKEN_LENGTH) throw invalid(`${what} is longer than ${MAX_TOKEN_LENGTH} characters`);
  return token;
}

/** Mirrors the API server's rule: an address other than loopback needs a token. */
const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Everything `serve` needs besides the node, checked and read now: the node options, the tokens (flag,
 * token file, `GARRISON_TOKEN`, then the configuration file's `api` section), the host/token rule and the
 * allowed host names. Throws one clear error; touches no store.
 */
export function checkServeOptions(
  o: ServeOptionsInput,
  env: NodeJS.ProcessEnv = process.env,
): { readonly config: NodeConfig; readonly api: ApiServerOptions } {
  const config = checkNodeOptions(o);
  const fileApi = config.api ?? {};
  const fromConfig = (p: string) => resolve(dirname(resolve(o.config ?? '.')), p);
  if (o.token !== undefined && o.tokenFile !== undefined)
    throw invalid('give --token or --token-file, not both');
  const envToken = env.GARRISON_TOKEN === '' ? undefined : env.GARRISON_TOKEN;
  const admin =
    o.tokenFile !== undefined
      ? readTokenFile(o.tokenFile, 'token')
      : o.token !== undefined
        ? checkToken(o.token, 'the --token value')
        : envToken !== undefined
          ? checkToken(envToken, 'GARRISON_TOKEN')
          : fileApi.tokenFile !== undefined
            ? readTokenFile(fromConfig(fileApi.tokenFile), 'token')
            : undefined;
  const readPath =
    o.readTokenFile ?? (fileApi.readTokenFile === undefined ? undefined : fromConfig(fileApi.readTokenFile));
  const read = readPath === undefined ? undefined : readTokenFile(readPath, 'read token');

  const tokens: ApiTokenConfig[] = [
    ...(admin === undefined ? [] : [{ token: admin, scope: 'admin' as const, name: 'admin' }]),
    ...(read === undefined ? [] : [{ token: read, scope: 'read' as const, name: 'read' }]),
  ];
  if (tokens.length === 0 && !isLoopback(o.host))
    throw invalid(
      `listening on ${o.host} needs a token: give --token-file <path> (or --read-token-file, ` +
        'GARRISON_TOKEN, api.tokenFile in the configuration) or bind to 127.0.0.1',
    );
  const allowedHosts = [...(o.allowedHost ?? fileApi.allowedHosts ?? [])];
  for (const h of allowedHosts)
    if (!HOST_NAME.test(h)) throw invalid(`the allowed host "${h}" is not a host name (no port, no scheme)`);
  return {
    config,
    api: {
      port: o.port,
      host: o.host,
      ...(tokens.length === 0 ? {} : { auth: { tokens } }),
      ...(allowedHosts.length === 0 ? {} : { allowedHosts }),
    },
  };
}

/** Commander's collector for a repeatable option. */
export function collect(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
