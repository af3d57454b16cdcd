/**
 * Refuses requests a browser could be tricked into sending, before admission and before anything is read.
 * A loopback server without a token is reachable from any web page the operator opens: a page can send
 * "simple" cross-site requests (no preflight) and, by DNS rebinding, make its own name resolve to
 * 127.0.0.1 so that its requests look same-origin. So:
 *
 * - every request's `Host` must name this server: the bound address, a loopback name or address, any IP
 *   literal (a rebinding needs a name of the attacker's), or a name listed in `allowedHosts` — else 421
 *   `host_not_allowed`;
 * - a state-changing request (any method but GET, HEAD, OPTIONS) must not come from another site
 *   (`Sec-Fetch-Site` other than same-origin or none, or an `Origin` other than this server's own) — else
 *   403 `cross_site_request`;
 * - and must say `Content-Type: application/json` (a body-less one too), which a page can only send
 *   after a CORS preflight this server never answers — else 415 `unsupported_media_type`.
 */
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { checkJsonType } from './body.js';
import { ApiError } from './errors.js';
import type { ApiEnv } from './route.js';

export interface RequestGuardOptions {
  /** The address the server listens on (its own name is always accepted). */
  readonly boundHost: string;
  /** Host names, beyond loopback and IP literals, that requests may name (lower case, no port). */
  readonly allowedHosts: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** `Sec-Fetch-Site` values of a request that no other site started. */
const OWN_SITE = new Set(['same-origin', 'none']);

/** The host name of a `Host` header: lower case, without the port, IPv6 without brackets. */
export function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? undefined : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

const isLoopbackName = (name: string) =>
  name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);

export function createRequestGuard(o: RequestGuardOptions): MiddlewareHandler<ApiEnv> {
  // The bound address is a name or an IP literal (then it passes as one, brackets or not).
  const allowed = new Set([o.boundHost, ...o.allowedHosts].map((h) => h.toLowerCase()));
  const hostAllowed = (name: string) => allowed.has(name) || isLoopbackName(name) || isIP(name) !== 0;

  return async (c, next) => {
    const host = c.req.header('host');
    // A request without Host (HTTP/1.0) comes from no browser: browsers always send it.
    if (host !== undefined) {
      const name = hostName(host);
      if (name === undefined || !hostAllowed(name))
        throw new ApiError(
          421,
          'host_not_allowed',
          `this server does not answer for the host ${JSON.stringify(host.slice(0, 200))}; ` +
            'add it to allowedHosts if it is one of its names',
        );
    }
    if (!SAFE_METHODS.has(c.req.method)) {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      if (site !== undefined && !OWN_SITE.has(site.toLowerCase()))
        throw crossSite(`Sec-Fetch-Site: ${site.slice(0, 40)}`);
      if (origin !== undefined && !sameOrigin(origin, host))
        throw crossSite(`Origin: ${origin.slice(0, 200)}`);
      checkJsonType(c);
    }
    await next();
  };
}

const crossSite = (what: string) =>
  new ApiError(
    403,
    'cross_site_request',
    `a request that changes state must come from this server's own pages or from outside a browser (${what})`,
  );

/** True when `origin` is this server as the request names it (`http` or `https`, same host and port). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin); // `null` (a sandboxed frame, a file) and garbage throw: not ours
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    return url.host === new URL(`${url.protocol}//${host.trim()}`).host;
  } catch {
    return false;
  }
}
